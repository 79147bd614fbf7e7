"""Checks of the label arrays that figures take: class ids ``(n,)`` and 0/1 matrices ``(n, k)``.

Example:
    >>> class_ids(np.array([0, 2, 1]), 3, "y_true").tolist()
    [0, 2, 1]
"""

from __future__ import annotations

import numpy as np


def class_ids(y: np.ndarray, k: int, name: str) -> np.ndarray:
    """``y`` as ``(n,)`` int64 ids in ``0..k-1``.

    Raises:
        ValueError: Another shape, or an id out of range; the message names ``name``.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be (n,) class ids, got shape {arr.shape}.")
    arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"{name} holds ids outside 0..{k - 1} for {k} labels.")
    return arr


def indicator(y: np.ndarray, k: int, name: str) -> np.ndarray:
    """``y`` as an ``(n, k)`` bool matrix.

    Raises:
        ValueError: Another shape; the message names ``name``.
    """
    arr = np.asarray(y)
    if arr.ndim != 2 or arr.shape[1] != k:
        raise ValueError(f"{name} must be an (n, {k}) 0/1 matrix, got shape {arr.shape}.")
    return arr.astype(bool)
