"""Which trial a search keeps: the best one, unless it beats the untuned config only by noise.

Trial 0 of a study runs the config's own values (``tune.start_from_defaults``). On a
small validation split the highest of twenty noisy values is biased upwards (the
winner's curse): on 2,000 SST-2 sentences with 200 for validation, trial 10 scored
0.879 against the untuned trial's 0.878, and 0.809 against 0.818 on the dev set. So the
search keeps the best trial only when it beats the untuned trial on the *same*
validation examples by more than the paired bootstrap's noise
(:func:`textclf.evaluation.bootstrap.paired_bootstrap`: the interval of the difference
excludes zero); otherwise it keeps the untuned config, and says so.

Both trials' decisions are read from their ``eval/predictions.jsonl`` (the validation
split under each trial's own decision rule).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textclf.data.labels import LabelSpace
from textclf.evaluation.report import fmt_p, p_phrase

logger = logging.getLogger(__name__)

#: Metrics computed from the scores rather than the decisions.
_SCORE_METRICS = ("auc", "lrap", "coverage", "log_loss", "brier", "ece")


@dataclass(frozen=True)
class Selection:
    """The trial a search keeps, and why (``note`` is ``None`` when nothing was compared)."""

    trial: Any
    note: str | None = None


def _read(folder: Path) -> tuple[list[Any], list[Any], list[str], np.ndarray, np.ndarray] | None:
    """Row keys, true labels, label names, scores and 0/1 decisions of a trial's predictions."""
    path = folder / "eval" / "predictions.jsonl"
    if not path.is_file():
        return None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if not records or any("true" not in r or "scores" not in r for r in records):
        return None
    labels = list(records[0]["scores"])
    multilabel = "labels" in records[0]
    index = {name: j for j, name in enumerate(labels)}
    scores = np.array([[r["scores"][name] for name in labels] for r in records], dtype=float)
    decided = np.zeros_like(scores)
    for i, r in enumerate(records):
        chosen = r["labels"] if multilabel else ([r["label"]] if r["label"] is not None else [])
        for name in chosen:
            decided[i, index[name]] = 1.0
    keys = [(r.get("row"), r.get("text")) for r in records]
    return keys, [r["true"] for r in records], labels, scores, decided


def keep_trial(
    best: Any,
    complete: list[Any],
    *,
    task: str,
    metric: str,
    direction: str,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> Selection:
    """The trial to export: ``best``, or the untuned trial when ``best`` wins only by noise.

    Args:
        best: The study's best trial (highest or lowest value).
        complete: The study's completed trials.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        metric: The validation metric of the study (a name of ``classification_metrics``).
        direction: ``maximize`` or ``minimize``.
        confidence: Level of the paired interval of the difference.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.
    """
    from textclf.evaluation.bootstrap import paired_bootstrap

    untuned = next((t for t in complete if t.user_attrs.get("defaults")), None)
    if untuned is None or untuned.number == best.number:
        return Selection(best)
    first, second = (_read(Path(t.user_attrs.get("folder", ""))) for t in (untuned, best))
    if first is None or second is None:
        return Selection(
            best,
            f"Trial {best.number} kept without a check against the untuned trial "
            f"{untuned.number}: one of their validation predictions is not on this machine.",
        )
    (keys_a, true_a, labels_a, scores_a, dec_a) = first
    (keys_b, true_b, labels_b, scores_b, dec_b) = second
    if keys_a != keys_b or true_a != true_b or labels_a != labels_b:
        return Selection(
            best,
            f"Trial {best.number} kept without a check against the untuned trial "
            f"{untuned.number}: they were validated on different examples.",
        )
    # The best trial was picked among the others on these same examples, so its lead over
    # the untuned trial is biased upwards (the winner's curse: with 20 equal trials, "beats"
    # came out 20% of the time at a nominal 2.5%). Bonferroni over the trials it was picked
    # from bounds that; enough resamples keep the smallest p reachable below the bar.
    rivals = max(1, sum(1 for t in complete if t.number != untuned.number))
    alpha = 1 - confidence
    n_resamples = max(n_resamples, math.ceil(10 * rivals / alpha))
    on_scores = any(part in metric for part in _SCORE_METRICS)
    # Decisions as one-hot "probabilities" at threshold 0.5 reproduce each trial's own
    # decision rule exactly; score metrics (AUC, …) read the scores instead.
    a, b = (scores_a, scores_b) if on_scores else (dec_a, dec_b)
    try:
        cmp = paired_bootstrap(
            task,
            LabelSpace(task, tuple(labels_a)).encode(  # type: ignore[arg-type]
                [t if isinstance(t, list) else [t] for t in true_a]
            ),
            a,
            b,
            metric=metric,
            threshold_a=None if on_scores else 0.5,
            threshold_b=None if on_scores else 0.5,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
    except ValueError as e:
        return Selection(best, f"Trial {best.number} kept unchecked ({e}).")
    d = cmp.difference
    p_adjusted = min(1.0, cmp.p_value * rivals)
    ahead = d.value > 0 if direction == "maximize" else d.value < 0
    better = ahead and p_adjusted < alpha
    picked = (
        f"; picked as the best of {rivals} trials on these examples, so p × {rivals} = "
        f"{fmt_p(p_adjusted)} (Bonferroni)"
        if rivals > 1
        else ""
    )
    interval = (
        f"validation {metric} {cmp.b.value:.4f} against {cmp.a.value:.4f}, difference "
        f"{d.value:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}] "
        f"({confidence:.0%} paired bootstrap, {p_phrase(cmp.p_value)}{picked})"
    )
    if better:
        return Selection(
            best, f"Trial {best.number} beats the untuned trial {untuned.number}: {interval}."
        )
    note = (
        f"Kept the untuned config (trial {untuned.number}): the best trial {best.number} "
        f"beats it by no more than noise on the same validation examples, {interval}."
    )
    logger.info(note)
    return Selection(untuned, note)
