"""The model folder's ``README.md``: what the model is, how it scores, its data, its limits.

Written by ``textclf train`` from the same facts as ``textclf.json`` (the real backbone,
the decision rule and why it was kept, the metrics with their intervals, the comparison
with the best baseline on validation and test, truncation). When ``textclf calibrate``
changes the rule afterwards, :func:`mark_stale` puts a banner on top, so the card never
describes a rule that no longer applies without saying so.

Example:
    >>> card = model_card(info, evaluation=doc, data_markdown=report.to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textclf.evaluation.report import decision_rule_lines, metrics_markdown
from textclf.markdown import md_code
from textclf.persistence import ModelInfo

STALE_MARK = "<!-- textclf:stale -->"


def _backbone_line(info: ModelInfo) -> str:
    b = info.backbone
    if not b:
        return "an unknown backbone"
    parts = [md_code(b.get("name") or b.get("path"))]
    if b.get("source"):
        parts.append(f"from {b['source']}")
    if b.get("revision"):
        parts.append(f"revision `{b['revision']}`")
    if b.get("sha256"):
        parts.append(f"weights SHA-256 `{str(b['sha256'])[:16]}…`")
    return ", ".join(parts)


def model_card(
    info: ModelInfo,
    *,
    evaluation: Mapping[str, Any] | None,
    data_markdown: str = "",
    notes: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> str:
    """Render the card.

    Args:
        info: The ``textclf.json`` contents (task, labels, backbone, rule, training facts).
        evaluation: The ``metrics.json`` document of the final evaluation, if any.
        data_markdown: The data report (``ValidationReport.to_markdown()``).
        notes: Plain-words notes of the run (splits carved, warm start, rule choices).
        warnings: Prominent verdicts (the model does not beat the best baseline).
    """
    space = info.space
    if evaluation:
        body = metrics_markdown(dict(evaluation)).replace("# Evaluation", "## Evaluation", 1)
    else:
        body = "## Evaluation\n\nNot evaluated (no validation or test split)."
    pipeline_hint = (
        " (pass `top_k=None, function_to_apply='sigmoid'` to see every label's score)"
        if space.multilabel
        else ""
    )
    rule = _rule_lines(info)
    alerts = "".join(f"> **Note:** {w}\n\n" for w in warnings)
    training = info.training
    run_notes = "\n".join(f"- {n}" for n in notes if n)
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [textclf, {space.task}]
---
# Text classifier ({space.task}, {len(space.labels)} labels)

{alerts}Fine-tuned from {_backbone_line(info)} with textclf {info.versions.get("textclf", "")}.
Load it with `textclf predict --model <this folder> …`, `TextClassifier.from_pretrained(<this
folder>)`, or plain `transformers.pipeline("text-classification", model=<this folder>)`{pipeline_hint}.
textclf applies the decision rule stored in `textclf.json`; plain `transformers.pipeline`
does not know it.

Labels: {", ".join(md_code(lab) for lab in space.labels[:50])}{" …" if len(space.labels) > 50 else ""}

{body}

{_RULE_HEADING}{rule}

## Data

{data_markdown}

## Training

Trained for {float(training.get("runtime_s") or 0):.0f} s on {training.get("device", "?")} in
{training.get("precision", "?")}, {training.get("global_step", "?")} optimizer steps of batch
{training.get("batch_size", "?")}. {_kept_line(training)}The full configuration is in `config.yaml`.

{run_notes}

## Intended use and limits

Classifies texts like those in the training data into the labels above. It has seen only
that data: texts from another source, language or period may be classified worse than the
figures above say. Predictions are probabilities from one model; decisions with
consequences (clinical, financial) need review by a person.
"""


def _kept_line(training: Mapping[str, Any]) -> str:
    """Which step's weights the folder holds, and whether the run stopped before its plan."""
    best_step, best = training.get("best_step"), training.get("best_metric") or {}
    step, planned, by = (training.get(k) for k in ("global_step", "planned_steps", "stopped_by"))
    stopped = f"Training stopped at step {step} of the {planned} planned, by {by}. " if by else ""
    if best_step is None or not best:
        return stopped
    (name, value), *_ = best.items()
    figure = f", validation {name} {value:.4f}" if isinstance(value, int | float) else ""
    return f"{stopped}The weights saved are step {best_step}'s (the best checkpoint{figure}). "


_RULE_HEADING = "## How predictions are decided\n\n"


def _rule_lines(info: ModelInfo) -> str:
    return "\n".join(f"- {line}" for line in info.rule.notes) or "- the plain rule (argmax / 0.5)"


def replace_rule(card: str, info: ModelInfo) -> str:
    """The card with its "How predictions are decided" section describing ``info.rule``.

    After ``textclf calibrate`` the card must not describe a rule that no longer applies;
    a card without the section is returned as it is.
    """
    start = card.find(_RULE_HEADING)
    if start < 0:
        return card
    body = start + len(_RULE_HEADING)
    end = card.find("\n## ", body)
    end = len(card) if end < 0 else end
    return f"{card[:body]}{_rule_lines(info)}\n{card[end:]}"


def mark_stale(card: str, reason: str) -> str:
    """Put (or replace) a banner under the card's title saying its figures no longer apply."""
    banner = f"{STALE_MARK}\n> **Stale:** {reason}\n"
    lines = card.splitlines(keepends=True)
    lines = [ln for ln in lines if not ln.startswith((STALE_MARK, "> **Stale:**"))]
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "".join([*lines[: i + 1], "\n", banner, *lines[i + 1 :]])
    return banner + "\n" + "".join(lines)


__all__ = ["decision_rule_lines", "mark_stale", "model_card", "replace_rule"]
