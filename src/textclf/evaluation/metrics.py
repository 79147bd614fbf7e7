"""Classification metrics as pure functions of arrays.

Point values come from scikit-learn, so they agree with it by construction; this module
chooses the set of metrics per task and names them consistently (``f1_macro``, …).

Example:
    >>> import numpy as np
    >>> m = classification_metrics("binary", np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]))
    >>> round(m["accuracy"], 3)
    0.667
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from textclf.evaluation.decision import decide


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> float:
    """Call a sklearn metric, returning NaN where it is undefined (e.g. one class present)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except ValueError:
            return float("nan")


def single_label_metrics(
    y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Headline metrics for binary and multi-class tasks.

    Args:
        y_true: ``(n,)`` true class ids.
        proba: ``(n, k)`` class probabilities.
        y_pred: ``(n,)`` predicted class ids.
    """
    k = proba.shape[1]
    labels = np.arange(k)
    out = {
        "accuracy": _quiet(skm.accuracy_score, y_true, y_pred),
        "balanced_accuracy": _quiet(skm.balanced_accuracy_score, y_true, y_pred),
        "mcc": _quiet(skm.matthews_corrcoef, y_true, y_pred),
    }
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=avg, zero_division=0
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = (
            float(p),
            float(r),
            float(f),
        )
    out["log_loss"] = _quiet(skm.log_loss, y_true, np.clip(proba, 1e-15, 1), labels=labels)
    if k == 2:
        out["roc_auc"] = _quiet(skm.roc_auc_score, y_true, proba[:, 1])
        out["pr_auc"] = _quiet(skm.average_precision_score, y_true, proba[:, 1])
    else:
        out["roc_auc"] = _quiet(
            skm.roc_auc_score, y_true, proba, multi_class="ovr", average="macro", labels=labels
        )
    return out


def multilabel_metrics(
    y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Headline metrics for multi-label tasks.

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        proba: ``(n, k)`` per-label probabilities.
        y_pred: ``(n, k)`` 0/1 predictions.
    """
    out = {
        "subset_accuracy": _quiet(skm.accuracy_score, y_true, y_pred),
        "hamming_loss": _quiet(skm.hamming_loss, y_true, y_pred),
        "jaccard_samples": _quiet(
            skm.jaccard_score, y_true, y_pred, average="samples", zero_division=0
        ),
    }
    for avg in ("micro", "macro", "weighted", "samples"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=avg, zero_division=0
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = (
            float(p),
            float(r),
            float(f),
        )
    present = y_true.sum(axis=0) > 0
    if present.any():
        out["roc_auc_macro"] = _quiet(
            skm.roc_auc_score, y_true[:, present], proba[:, present], average="macro"
        )
        out["pr_auc_macro"] = _quiet(
            skm.average_precision_score, y_true[:, present], proba[:, present], average="macro"
        )
    out["roc_auc_micro"] = _quiet(skm.roc_auc_score, y_true, proba, average="micro")
    return out


def classification_metrics(
    task: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float | Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """All headline metrics for ``task``, with predictions from :func:`decide`.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y_true: ``(n,)`` ids or ``(n, k)`` multi-hot rows.
        proba: ``(n, k)`` probabilities.
        threshold: Decision threshold(s) (see :func:`decide`).

    Returns:
        Metric name → value (NaN where undefined).
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    y_pred = decide(proba, task, threshold=threshold)
    if task == "multilabel":
        return multilabel_metrics(y_true.astype(np.int64), proba, y_pred)
    return single_label_metrics(y_true.astype(np.int64), proba, y_pred)


def per_label_metrics(
    task: str, y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per label (per class for single-label tasks)."""
    kwargs: dict[str, Any] = {"average": None, "zero_division": 0}
    if task != "multilabel":
        kwargs["labels"] = np.arange(len(labels))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, **kwargs)
    return {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, name in enumerate(labels)
    }


def headline_metric(task: str) -> str:
    """The metric early stopping and summaries use by default."""
    return "f1_micro" if task == "multilabel" else "f1_macro"
