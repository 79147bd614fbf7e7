"""Decision thresholds tuned on validation data (never on test data).

Binary: the threshold on the positive-class probability that maximises a chosen metric
(F1 by default). Multi-label: one threshold per label maximising that label's F1 (Fan &
Lin 2007, "SCut"); labels with too few positive validation examples to tune reliably use
the single threshold that maximises micro-F1 over all labels instead, which over-fits
far less than a per-label choice on a handful of positives.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1]); p = np.array([[.9, .1], [.6, .4], [.7, .3], [.2, .8]])
    >>> tune_binary_threshold(y, p).thresholds
    0.3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm


@dataclass
class ThresholdResult:
    """Tuned threshold(s) and what they did on the validation data.

    Attributes:
        thresholds: One float (binary) or one per label (multi-label).
        metric: The metric that was maximised.
        before: Its validation value at the default 0.5 threshold(s).
        after: Its validation value at the tuned threshold(s).
        per_label: Multi-label: label → ``{"threshold", "tuned", "positives", "f1_before", "f1_after"}``.
        judged_by: Multi-label: ``{"metric", "validation_before", "validation_after"}`` of
            the metric the keep decision is made on (micro-F1, the headline), when that is
            not the maximised one: per-label F1s maximise the macro-F1, and can lower the
            micro-F1 in-sample.
    """

    thresholds: float | list[float]
    metric: str
    before: float
    after: float
    per_label: dict[str, dict[str, Any]] = field(default_factory=dict)
    judged_by: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "thresholds": self.thresholds,
            "metric": self.metric,
            "validation_before": self.before,
            "validation_after": self.after,
            "per_label": self.per_label,
        }
        if self.judged_by is not None:
            out["judged_by"] = self.judged_by
        return out


_BINARY_METRICS = {
    "f1": lambda y, p: skm.f1_score(y, p, zero_division=0),
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "mcc": skm.matthews_corrcoef,
}


def _best_f1_threshold(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Threshold maximising F1 for one binary problem, from the precision-recall curve."""
    if y.sum() == 0:
        return 1.0, 0.0
    precision, recall, thr = skm.precision_recall_curve(y, scores)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )
    # The last PR point has no threshold; ties go to the higher threshold (fewer positives).
    best = int(np.nanargmax(f1[:-1][::-1]))
    best = len(thr) - 1 - best
    return float(thr[best]), float(f1[best])


def tune_binary_threshold(
    y_true: np.ndarray, proba: np.ndarray, *, metric: str = "f1"
) -> ThresholdResult:
    """The positive-class threshold maximising ``metric`` on validation data.

    Args:
        y_true: ``(n,)`` 0/1 ids.
        proba: ``(n, 2)`` probabilities; column 1 is the positive label.
        metric: ``f1``, ``accuracy``, ``balanced_accuracy`` or ``mcc``.

    Returns:
        The threshold and the metric before (0.5) and after.

    Raises:
        ValueError: for an unknown metric.
    """
    if metric not in _BINARY_METRICS:
        raise ValueError(
            f"unknown threshold metric '{metric}'; use one of {sorted(_BINARY_METRICS)}"
        )
    y = np.asarray(y_true).astype(int)
    scores = np.asarray(proba, dtype=np.float64)[:, 1]
    score_fn = _BINARY_METRICS[metric]
    before = float(score_fn(y, (scores >= 0.5).astype(int)))
    if metric == "f1":
        threshold, after = _best_f1_threshold(y, scores)
    else:
        candidates = np.unique(np.concatenate([scores, [0.5]]))
        values = [float(score_fn(y, (scores >= t).astype(int))) for t in candidates]
        best = int(np.argmax(values))
        threshold, after = float(candidates[best]), values[best]
    if after <= before:  # never move the threshold without a gain on validation
        threshold, after = 0.5, before
    return ThresholdResult(thresholds=threshold, metric=metric, before=before, after=after)


def _micro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(skm.f1_score(y, pred, average="micro", zero_division=0))


def tune_multilabel_thresholds(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    labels: list[str],
    min_positives: int = 5,
) -> ThresholdResult:
    """One threshold per label maximising that label's validation F1.

    Args:
        y_true: ``(n, k)`` 0/1 validation labels.
        proba: ``(n, k)`` validation probabilities.
        labels: Label names (for the per-label record).
        min_positives: Labels with fewer positive validation examples use the shared
            micro-F1-optimal threshold instead of their own.

    Returns:
        Per-label thresholds; ``before``/``after`` are validation macro-F1.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=np.float64)
    grid = np.linspace(0.05, 0.95, 91)
    micro = [_micro_f1(y, (p >= t).astype(int)) for t in grid]
    shared = float(grid[int(np.argmax(micro))])
    thresholds = np.full(p.shape[1], shared)
    per_label: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(labels):
        positives = int(y[:, j].sum())
        f1_before = float(skm.f1_score(y[:, j], (p[:, j] >= 0.5).astype(int), zero_division=0))
        tuned = positives >= min_positives
        if tuned:
            t, f1_t = _best_f1_threshold(y[:, j], p[:, j])
            # As for a binary threshold: never move it without a gain on validation (a
            # separable label ties everywhere between its classes, and any pick is noise).
            tuned = f1_t > f1_before
            thresholds[j] = t if tuned else 0.5
        f1_after = float(
            skm.f1_score(y[:, j], (p[:, j] >= thresholds[j]).astype(int), zero_division=0)
        )
        per_label[name] = {
            "threshold": float(thresholds[j]),
            "tuned": tuned,
            "positives": positives,
            "f1_before": f1_before,
            "f1_after": f1_after,
        }
    before = float(skm.f1_score(y, (p >= 0.5).astype(int), average="macro", zero_division=0))
    after = float(skm.f1_score(y, (p >= thresholds).astype(int), average="macro", zero_division=0))
    return ThresholdResult(
        thresholds=[float(t) for t in thresholds],
        metric="f1_macro",
        before=before,
        after=after,
        per_label=per_label,
        judged_by={
            "metric": "f1_micro",
            "validation_before": _micro_f1(y, (p >= 0.5).astype(int)),
            "validation_after": _micro_f1(y, (p >= thresholds).astype(int)),
        },
    )
