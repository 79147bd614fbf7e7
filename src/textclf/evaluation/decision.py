"""Turning probabilities into predicted labels: argmax, a binary threshold, or per-label thresholds.

One function shared by evaluation, the Python API, ``predict``, the server and the app,
so that every surface applies the saved thresholds the same way.

Example:
    >>> import numpy as np
    >>> decide(np.array([[0.3, 0.7], [0.8, 0.2]]), "binary", threshold=0.75).tolist()
    [0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textclf.evaluation.thresholds import (
    ThresholdResult,
    tune_binary_threshold,
    tune_multilabel_thresholds,
)


def decide(
    proba: np.ndarray,
    task: str,
    *,
    threshold: float | Sequence[float] | np.ndarray | None = None,
    at_least_one: bool = False,
) -> np.ndarray:
    """Predicted labels from probabilities.

    Args:
        proba: ``(n, k)`` probabilities; softmax rows for single-label, independent
            sigmoids for multi-label.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        threshold: Binary: the probability of the second (positive) label at or above which
            it is predicted (default 0.5). Multi-label: one threshold for all labels or one
            per label (default 0.5). Ignored for multi-class (argmax).
        at_least_one: Multi-label only: predict the top label when none passes its threshold.

    Returns:
        ``(n,)`` int ids for single-label tasks, ``(n, k)`` 0/1 ints for multi-label.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if task == "multilabel":
        t = 0.5 if threshold is None else np.asarray(threshold, dtype=np.float64)
        pred = (proba >= t).astype(np.int64)
        if at_least_one and len(pred):
            empty = pred.sum(axis=1) == 0
            pred[empty, proba[empty].argmax(axis=1)] = 1
        return pred
    if task == "binary":
        t = 0.5 if threshold is None else float(np.asarray(threshold).reshape(-1)[0])
        return (proba[:, 1] >= t).astype(np.int64)
    return proba.argmax(axis=1).astype(np.int64)


@dataclass
class DecisionRule:
    """How logits become labels: a temperature, then threshold(s), fitted on validation data.

    Attributes:
        temperature: Divides the logits (1.0 = uncalibrated).
        thresholds: ``None`` (argmax / 0.5), one float (binary) or one per label.
        at_least_one: Multi-label: always predict the top label when none passes.
        ece_before: Validation ECE before temperature scaling.
        ece_after: Validation ECE after it.
        threshold_result: What threshold tuning did on validation.
    """

    temperature: float = 1.0
    thresholds: float | list[float] | None = None
    at_least_one: bool = False
    ece_before: float | None = None
    ece_after: float | None = None
    threshold_result: ThresholdResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "thresholds": self.thresholds,
            "at_least_one": self.at_least_one,
            "validation_ece_before": self.ece_before,
            "validation_ece_after": self.ece_after,
            "threshold_tuning": None
            if self.threshold_result is None
            else self.threshold_result.to_dict(),
        }


def fit_decision_rule(
    task: str,
    labels: Sequence[str],
    logits: np.ndarray,
    y_true: np.ndarray,
    *,
    calibrate: bool = True,
    tune_thresholds: bool = True,
    threshold_metric: str = "f1",
    min_positives_per_label: int = 5,
    at_least_one: bool = False,
) -> DecisionRule:
    """Fit temperature scaling, then thresholds on the calibrated probabilities.

    Call it with *validation* logits only: the test split must never shape the rule
    that is evaluated on it.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label names.
        logits: ``(n, k)`` validation logits.
        y_true: ``(n,)`` ids or ``(n, k)`` 0/1 validation labels.
        calibrate: Fit a temperature.
        tune_thresholds: Tune the binary threshold / per-label thresholds.
        threshold_metric: Binary tuning target (multi-label always uses per-label F1).
        min_positives_per_label: Multi-label fallback for rare labels.
        at_least_one: Multi-label: predict the top label when none passes.

    Returns:
        The fitted rule (identity rule when ``logits`` is empty).
    """
    from textclf.evaluation.calibration import (
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
    )

    multilabel = task == "multilabel"
    rule = DecisionRule(at_least_one=at_least_one and multilabel)
    if len(logits) == 0:
        return rule
    rule.ece_before = expected_calibration_error(
        y_true, apply_temperature(logits, 1.0, multilabel=multilabel), multilabel=multilabel
    )
    if calibrate:
        rule.temperature = fit_temperature(logits, y_true, multilabel=multilabel)
    proba = apply_temperature(logits, rule.temperature, multilabel=multilabel)
    rule.ece_after = expected_calibration_error(y_true, proba, multilabel=multilabel)
    if tune_thresholds and task == "binary":
        rule.threshold_result = tune_binary_threshold(y_true, proba, metric=threshold_metric)
    elif tune_thresholds and multilabel:
        rule.threshold_result = tune_multilabel_thresholds(
            y_true, proba, labels=list(labels), min_positives=min_positives_per_label
        )
    if rule.threshold_result is not None:
        rule.thresholds = rule.threshold_result.thresholds
    return rule
