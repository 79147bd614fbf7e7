"""The evaluation record: ``metrics.json`` (stable, documented) and ``metrics.md``.

``metrics.json``::

    {"task": …, "split": …, "n_examples": …, "labels": […],
     "confidence": 0.95, "n_resamples": 1000, "ci_method": "bca",
     "metrics": {"accuracy": {"value": v, "ci_low": lo, "ci_high": hi}, "f1_macro": {…}, …},
     "per_label": {label: {"precision": {…}, "recall": {…}, "f1": {…}, "support": n}},
     "thresholds": {"values": …, "decision_rule": {…}},
     "at_default_threshold": {"metrics": {…}} | null,
     "baselines": {name: {"name": "TF-IDF + logistic regression", "metrics": {…}}},
     "comparison": {"baseline": name, "metric": …, "sides": "a: the baseline, b: the model; …",
                    "a": {…}, "b": {…}, "difference": {…}, "p_value": …, …} | null}

Every interval contains its value. One that is not the plain ``ci_method`` interval
(BCa that fell back to percentile, a percentile interval widened to reach the value)
carries ``"fallback": "<why>"`` beside ``ci_low`` / ``ci_high``; ``metrics.md`` lists
them under "Interval notes".

Example:
    >>> doc = metrics_document(task="binary", split="test", labels=["neg", "pos"],
    ...                        result=boot, cfg=EvalConfig())  # doctest: +SKIP
    >>> print(metrics_markdown(doc))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

from textclf.config import EvalConfig
from textclf.evaluation.bootstrap import (
    FEW_DISAGREEMENTS,
    BootstrapResult,
    Interval,
    PairedComparison,
)
from textclf.evaluation.decision import DecisionRule
from textclf.evaluation.metrics import HEADLINE_METRICS, greater_is_better, headline_metric
from textclf.markdown import md_escape


def _interval_dict(value: Interval | int) -> Any:
    return value.to_dict() if isinstance(value, Interval) else value


def result_dict(result: BootstrapResult) -> dict[str, Any]:
    """``{"metrics": …, "per_label": …}`` for one bootstrap result."""
    return {
        "metrics": {name: iv.to_dict() for name, iv in result.metrics.items()},
        "per_label": {
            label: {key: _interval_dict(v) for key, v in values.items()}
            for label, values in result.per_label.items()
        },
    }


def metrics_document(
    *,
    task: str,
    split: str,
    labels: list[str],
    result: BootstrapResult,
    cfg: EvalConfig,
    n_examples: int,
    decision: DecisionRule | None = None,
    at_default_threshold: BootstrapResult | None = None,
    baselines: dict[str, BootstrapResult] | None = None,
    baseline_names: dict[str, str] | None = None,
    baseline_rules: dict[str, DecisionRule | None] | None = None,
    comparison: PairedComparison | None = None,
    comparison_baseline: str | None = None,
    comparison_chosen_on: str | None = None,
    extra: dict[str, Any] | None = None,
    headline: str | None = None,
) -> dict[str, Any]:
    """Assemble the ``metrics.json`` document (see the module docstring for its shape).

    ``headline`` is the metric summaries lead with and the paired test compares (default:
    the task's :func:`~textclf.evaluation.metrics.headline_metric`).
    """
    body = result_dict(result)
    doc: dict[str, Any] = {
        "task": task,
        "split": split,
        "n_examples": n_examples,
        "labels": labels,
        "confidence": cfg.confidence,
        "n_resamples": cfg.n_resamples,
        "ci_method": cfg.ci_method,
        "seed": result.seed,
        "headline_metric": headline or headline_metric(task),
        "metrics": body["metrics"],
        "per_label": body["per_label"],
        "thresholds": {
            "values": None if decision is None else decision.thresholds,
            "decision_rule": None if decision is None else decision.to_dict(),
        },
        "at_default_threshold": None
        if at_default_threshold is None
        else {"metrics": result_dict(at_default_threshold)["metrics"]},
        "baselines": {
            name: {
                "name": (baseline_names or {}).get(name, name),
                **result_dict(res),
                "decision_rule": _rule_record((baseline_rules or {}).get(name)),
            }
            for name, res in (baselines or {}).items()
        },
        "comparison": None
        if comparison is None
        else comparison_record(comparison, comparison_baseline, comparison_chosen_on),
    }
    if extra:
        doc.update(extra)
    return doc


def comparison_record(
    comparison: PairedComparison, baseline: str | None, chosen_on: str | None
) -> dict[str, Any]:
    """The document's record of a paired comparison of the model with ``baseline``."""
    return {
        "baseline": baseline,
        # The split whose headline values chose the baseline: the one measured here
        # favours the baseline (the best of several on the same examples).
        "chosen_on": chosen_on,
        "greater_is_better": greater_is_better(comparison.metric),
        "model": "transformer",
        # Which side is which: the paired bootstrap's a and b say nothing by themselves.
        "sides": "a: the baseline, b: the model; difference = b - a",
        **comparison.to_dict(),
    }


def comparison_sentences(doc: dict[str, Any]) -> list[str]:
    """The comparison sentence, and the one against the best baseline on these examples
    when the compared baseline was chosen elsewhere and is not it."""
    out = [s for s in (comparison_sentence(doc),) if s]
    here = doc.get("comparison_best_here")
    if out and here:
        also = comparison_sentence({**doc, "comparison": here})
        if also:
            out.append(f"Against the best baseline on these examples instead: {also}")
    return out


def _rule_record(rule: DecisionRule | None) -> dict[str, Any] | None:
    """A baseline's tuned thresholds and where they were fitted (``None``: untuned)."""
    if rule is None:
        return None
    return {"thresholds": rule.thresholds, "fitted_on": rule.fitted_on}


def baseline_rule_line(doc: dict[str, Any]) -> str | None:
    """How the baselines turned probabilities into labels, when the model's rule has
    thresholds (``None`` for argmax, where there is nothing to tune).

    Example:
        >>> doc = {"thresholds": {"values": 0.4}, "baselines": {"tfidf_lr": {
        ...     "name": "TF-IDF + LR", "decision_rule": None}}}
        >>> baseline_rule_line(doc)[:60]
        'The baselines are scored at the default threshold (0.5): no '
    """
    if (doc.get("thresholds") or {}).get("values") is None:
        return None
    rules = {k: b.get("decision_rule") for k, b in (doc.get("baselines") or {}).items()}
    rules.pop("majority", None)
    if not rules:
        return None
    fitted = {k: r for k, r in rules.items() if r is not None}
    if not fitted:
        return (
            "The baselines are scored at the default threshold (0.5): no validation data "
            "was given to tune theirs on, which favours the model, whose thresholds were tuned."
        )
    where = next(iter(fitted.values())).get("fitted_on") or "validation data"
    tuned = [k for k, r in fitted.items() if r.get("thresholds") is not None]
    kept = f"tuned thresholds kept for {', '.join(tuned)}" if tuned else "none kept tuned ones"
    return (
        f"The baselines' thresholds were fitted on the {where} by the model's own procedure "
        f"({kept}; a tuned threshold is kept only where cross-fitting shows a gain)."
    )


def interval_digits(*ivs: dict[str, Any] | None) -> int:
    """Decimals that the widest-known precision of ``ivs`` supports: about two significant
    digits of the narrowest interval's width, from 2 to 4 (4 without any interval).

    At n = 300 a 95% interval is about 0.06 wide, and ``0.9432 [0.9263, 0.9581]`` claims
    a precision the data do not have; ``0.943 [0.926, 0.958]`` does not (statistics review).

    Example:
        >>> interval_digits({"value": 0.9, "ci_low": 0.85, "ci_high": 0.94})
        3
        >>> interval_digits({"value": 0.8, "ci_low": 0.6, "ci_high": 0.9}), interval_digits(None)
        (2, 4)
    """
    widths = [
        hi - lo
        for iv in ivs
        if iv
        and (lo := iv.get("ci_low")) is not None
        and (hi := iv.get("ci_high")) is not None
        and math.isfinite(hi - lo)  # NaN or infinite bounds say nothing of the precision
        and hi - lo > 0
    ]
    if not widths:
        return 4
    return min(4, max(2, 1 - math.floor(math.log10(min(widths)))))


def fmt_interval(iv: dict[str, Any] | None, digits: int | None = None) -> str:
    """``0.906 [0.896, 0.917]``; ``n/a`` for an undefined value.

    ``digits`` defaults to :func:`interval_digits` of the interval.
    """
    if (
        not iv
        or iv.get("value") is None
        or (isinstance(iv["value"], float) and math.isnan(iv["value"]))
    ):
        return "n/a"
    digits = interval_digits(iv) if digits is None else digits
    lo, hi = iv.get("ci_low"), iv.get("ci_high")
    if lo is None or hi is None:
        return f"{iv['value']:.{digits}f}"
    return f"{iv['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_p(p: float | None) -> str:
    """A p-value as papers print it: ``0.012``, ``0.35``; ``< 0.001`` below that (APA style).

    A paired bootstrap with ``B`` resamples cannot show a p below ``1 / (B + 1)``: 1,000
    resamples give 0.000999 at best, which reads as spurious precision.
    """
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def p_phrase(p: float | None) -> str:
    """``p = 0.012`` or ``p < 0.001``, for a sentence."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


#: Column headings for the baselines in tables (their full names are in the text).
BASELINE_HEADINGS = {
    "tfidf_lr": "TF-IDF+LR",
    "tfidf_cnb": "TF-IDF+NB",
    "embed_lr": "embeddings+LR",
    "majority": "majority",
}


def headline_table(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: metric | model (CI) | at 0.5 (if tuned) | each baseline (CI)."""
    names = [m for m in HEADLINE_METRICS[doc["task"]] if m in doc["metrics"]]
    header = ["metric", "model"]
    fixed = doc.get("at_default_threshold")
    if fixed:
        header.append("model at 0.5")
    baselines = doc.get("baselines") or {}
    header += [BASELINE_HEADINGS.get(k, b["name"]) for k, b in baselines.items()]
    rows = []
    for m in names:
        cells = [doc["metrics"][m]]
        if fixed:
            cells.append(fixed["metrics"].get(m))
        cells += [b["metrics"].get(m) for b in baselines.values()]
        digits = interval_digits(*cells)  # one precision across a row, to compare by eye
        rows.append([m, *(fmt_interval(c, digits) for c in cells)])
    return header, rows


def comparison_sentence(doc: dict[str, Any]) -> str | None:
    """One sentence on the transformer against the best baseline, or ``None``."""
    comp = doc.get("comparison")
    if not comp:
        return None
    name = doc["baselines"].get(comp["baseline"], {}).get("name", comp["baseline"])
    chosen = comp.get("chosen_on")
    if chosen and chosen != doc.get("split"):
        name += f" (the best baseline on {chosen})"
    elif chosen:
        name += " (the best baseline on these examples, which favours it)"
    diff = comp["difference"]
    metric = comp["metric"]
    if diff.get("value") is None or diff.get("ci_low") is None:
        return (
            f"Transformer vs {name} on {metric}: not defined on this split (a class or "
            "label it needs is absent), so the two are not compared."
        )
    level = round(100 * doc["confidence"])
    lower = "" if comp.get("greater_is_better", greater_is_better(metric)) else ", lower is better"
    mc = ""
    if comp.get("mcnemar_p_value") is not None:
        mc = f"; McNemar's test on accuracy {p_phrase(comp['mcnemar_p_value'])}"
    few = comp.get("n_disagree")
    caveat = (
        f" Only {few} example(s) are decided differently by the two: too few for the "
        "bootstrap's interval and p-value, which are optimistic here."
        if few is not None and few < FEW_DISAGREEMENTS
        else ""
    )
    d = interval_digits(diff)
    return (
        f"Transformer vs {name} on {metric}{lower}: difference {diff['value']:+.{d}f} "
        f"({level}% CI [{diff['ci_low']:+.{d}f}, {diff['ci_high']:+.{d}f}]), paired bootstrap "
        f"{p_phrase(comp['p_value'])}{mc}.{caveat}"
    )


def comparison_outcome(comp: dict[str, Any] | None) -> str | None:
    """``better`` (the interval of model − baseline is on the better side of 0, from at
    least :data:`FEW_DISAGREEMENTS` examples decided differently), ``worse`` (the
    difference itself is on the worse side or 0), ``unclear``; ``None`` when there is no
    comparison or the metric is undefined on the split."""
    if not comp or comp["difference"].get("value") is None:
        return None
    diff = comp["difference"]
    up = comp.get("greater_is_better", greater_is_better(comp["metric"]))
    bound = diff.get("ci_low") if up else diff.get("ci_high")
    few = comp.get("n_disagree") is not None and comp["n_disagree"] < FEW_DISAGREEMENTS
    if bound is not None and (bound > 0 if up else bound < 0) and not few:
        return "better"
    return "worse" if (diff["value"] <= 0 if up else diff["value"] >= 0) else "unclear"


def metrics_markdown(doc: dict[str, Any]) -> str:
    """``metrics.md``: headline table with intervals, comparison, per-label table, thresholds."""
    level = round(100 * doc["confidence"])
    lines = [
        f"# Evaluation: {doc['split']} split ({doc['n_examples']} examples, {doc['task']})",
        "",
        f"Values with {level}% bootstrap confidence intervals ({doc['n_resamples']} resamples, "
        f"{doc['ci_method']}"
        + (f", seed {doc['seed']}" if doc.get("seed") is not None else "")
        + ").",
        "",
    ]
    header, rows = headline_table(doc)
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    for sentence in comparison_sentences(doc):
        lines += ["", sentence]
    baseline_rule = baseline_rule_line(doc)
    if baseline_rule:
        lines += ["", baseline_rule]
    validation = doc.get("validation_comparison")
    if validation:
        v_sentence = comparison_sentence({**doc, "comparison": validation})
        if v_sentence:
            lines += ["", f"On the validation split ({VALIDATION_CAVEAT}): {v_sentence}"]
    cut = truncation_line(doc)
    if cut:
        lines += ["", f"Truncation: {cut}"]
    lines += [
        "",
        "## Per label",
        "",
        "| label | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, v in doc["per_label"].items():
        cells = [v["precision"], v["recall"], v["f1"]]
        digits = interval_digits(*cells)
        shown = " | ".join(fmt_interval(c, digits) for c in cells)
        lines.append(f"| {md_escape(label)} | {shown} | {v['support']} |")
    for note in (per_label_na_note(doc), few_examples_note(doc)):
        if note:
            lines += ["", note]
    notes = interval_notes(doc)
    if notes:
        lines += ["", "## Interval notes", ""]
        lines += [f"- {line}" for line in notes]
    rule_lines = decision_rule_lines(doc)
    if rule_lines:
        fitted_on = (doc["thresholds"].get("decision_rule") or {}).get("fitted_on")
        where = f" (fitted on {fitted_on})" if fitted_on else ""
        lines += ["", f"## Decision rule{where}", ""]
        lines += [f"- {line}" for line in rule_lines]
    return "\n".join(lines) + "\n"


#: Said of figures on the validation split wherever they are printed beside the test's.
VALIDATION_CAVEAT = "optimistic: it also chose the checkpoint and the decision rule"
#: Below this many examples of a label, its intervals (and the macro averages') are too
#: narrow: none or all of them right is the same in every resample (statistics review).
FEW_EXAMPLES = 10


def few_examples_note(doc: dict[str, Any]) -> str | None:
    """A sentence naming the labels with fewer than :data:`FEW_EXAMPLES` examples, or ``None``.

    Example:
        >>> few_examples_note({"per_label": {"a": {"support": 40}, "b": {"support": 5}}})
        "Few examples of b (5): its intervals, and the macro averages', are too narrow (none or all of them right is the same in every resample); read them as rough."
    """
    few = [(k, v["support"]) for k, v in (doc.get("per_label") or {}).items()]
    few = [(k, n) for k, n in few if n < FEW_EXAMPLES]
    if not few:
        return None
    names = ", ".join(f"{k} ({n})" for k, n in few)
    its = "its" if len(few) == 1 else "their"
    return (
        f"Few examples of {names}: {its} intervals, and the macro averages', are too narrow "
        "(none or all of them right is the same in every resample); read them as rough."
    )


def per_label_na_note(doc: dict[str, Any]) -> str | None:
    """What an ``n/a`` in the per-label table means, or ``None`` when it has none.

    Example:
        >>> per_label_na_note({"per_label": {"a": {"recall": {"value": None}}}})[:31]
        'n/a: 0/0, not measured: recall '
    """
    if not any(
        isinstance(iv, dict) and iv.get("value") is None
        for entry in (doc.get("per_label") or {}).values()
        for iv in entry.values()
    ):
        return None
    return (
        "n/a: 0/0, not measured: recall of a label with no example in this split, precision "
        "of a label never predicted (F1 when both); the macro averages count them as 0."
    )


def interval_notes(doc: dict[str, Any]) -> list[str]:
    """``"name: why"`` for each interval of the document that carries a ``fallback``.

    Covers the model's metrics, its per-label values (``label/precision``, …) and the
    comparison's difference; ``[]`` when every interval is the plain one.

    Example:
        >>> interval_notes({"metrics": {"ece": {"value": 0.1, "fallback": "widened"}}})
        ['ece: widened']
    """
    found = [(name, iv) for name, iv in (doc.get("metrics") or {}).items()]
    for label, entry in (doc.get("per_label") or {}).items():
        found += [(f"{label}/{key}", iv) for key, iv in entry.items() if isinstance(iv, dict)]
    comp = doc.get("comparison") or {}
    if isinstance(comp.get("difference"), dict):
        found.append((f"difference in {comp.get('metric')}", comp["difference"]))
    return [f"{name}: {iv['fallback']}" for name, iv in found if iv and iv.get("fallback")]


def decision_rule_lines(doc: dict[str, Any]) -> list[str]:
    """The decision rule in plain lines (temperature, ECE, thresholds, tuning gain); ``[]`` if none."""
    rule = (doc.get("thresholds") or {}).get("decision_rule")
    if not rule:
        return []
    lines = [f"temperature: {rule['temperature']:.3f}"]
    if rule.get("validation_ece_before") is not None:
        lines.append(
            f"validation ECE: {rule['validation_ece_before']:.4f} before, "
            f"{rule['validation_ece_after']:.4f} after temperature scaling"
        )
    t = rule.get("thresholds")
    if isinstance(t, list):
        labels = doc["labels"]
        lines.append(
            "per-label thresholds: "
            + ", ".join(f"{lab} {v:.2f}" for lab, v in zip(labels, t, strict=True))
        )
    elif t is not None:
        lines.append(f"threshold on '{doc['labels'][1]}': {t:.3f}")
    if rule.get("reject_below") is not None:
        lines.append(f"abstains (no label) below a top probability of {rule['reject_below']:.2f}")
    tuning = rule.get("threshold_tuning")
    if tuning:
        line = (
            f"validation {tuning['metric']}: {tuning['validation_before']:.4f} at 0.5, "
            f"{tuning['validation_after']:.4f} tuned (in-sample)"
        )
        judged = tuning.get("judged_by")
        if judged:  # multi-label: tuned for macro-F1, kept on micro-F1
            line += (
                f"; {judged['metric']}, on which they are kept or not: "
                f"{judged['validation_before']:.4f} at 0.5, "
                f"{judged['validation_after']:.4f} tuned (in-sample)"
            )
        lines.append(line)
    lines += [str(note) for note in rule.get("notes") or []]
    return lines


def truncation_line(doc: dict[str, Any]) -> str | None:
    """How many texts were longer than the model reads, or ``None`` when not measured."""
    t = doc.get("truncation")
    if not t:
        return None
    hint = ""
    if t["share"] > t.get("warning_share", 0.1):
        limit = t.get("model_max_length")
        hint = (
            f"; raise --max-length (the backbone reads up to {limit})"
            if limit and limit > t["max_length"]
            else "; the model reads only their beginning"
        )
    return (
        f"{t['share']:.1%} of the texts ({t['n_truncated']} of {t['n_texts']}, all splits) are "
        f"longer than max_length {t['max_length']} tokens and were cut{hint}."
    )
