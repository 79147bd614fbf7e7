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

import numpy as np


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
