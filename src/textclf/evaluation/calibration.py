"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks").

One scalar ``T`` divides the logits; it is fitted on validation data by minimising the
negative log-likelihood, so it changes confidence but never the argmax. For multi-label
models the same ``T`` scales every label's logit (a shared sigmoid temperature).

The expected calibration error that judges the fit lives in
:mod:`textclf.evaluation.metrics` (one implementation, issue 12); it is re-exported here
for the callers that read it beside the temperature.

Example:
    >>> import numpy as np
    >>> logits = np.array([[4.0, 0.0], [3.0, 0.0], [0.0, 3.5], [2.5, 0.0]])
    >>> y = np.array([0, 1, 1, 0])
    >>> fit_temperature(logits, y, multilabel=False) > 1  # over-confident → T > 1
    True
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax

from textclf.evaluation.metrics import expected_calibration_error

__all__ = ["apply_temperature", "expected_calibration_error", "fit_temperature"]


def apply_temperature(logits: np.ndarray, temperature: float, *, multilabel: bool) -> np.ndarray:
    """Probabilities from logits divided by ``temperature`` (softmax or sigmoid).

    Args:
        logits: ``(n, k)`` raw scores.
        temperature: ``T > 0``; 1 leaves the model's probabilities unchanged.
        multilabel: Sigmoid per label instead of a softmax over the classes.

    Returns:
        ``(n, k)`` probabilities.

    Example:
        >>> apply_temperature(np.array([[2.0, 0.0]]), 2.0, multilabel=True).round(4).tolist()
        [[0.7311, 0.5]]
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    return expit(z) if multilabel else np.exp(log_softmax(z, axis=1))


def _nll(logits: np.ndarray, y_true: np.ndarray, temperature: float, multilabel: bool) -> float:
    z = logits / temperature
    if multilabel:
        # log σ(z) = -log(1 + e^-z), computed stably
        return float(np.mean(y_true * np.logaddexp(0, -z) + (1 - y_true) * np.logaddexp(0, z)))
    return float(-np.mean(log_softmax(z, axis=1)[np.arange(len(y_true)), y_true]))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray, *, multilabel: bool) -> float:
    """The temperature minimising validation NLL, searched on log T in [1/20, 20].

    Args:
        logits: ``(n, k)`` validation logits.
        y_true: ``(n,)`` ids, or ``(n, k)`` 0/1 rows for multi-label.
        multilabel: Sigmoid per label instead of softmax.

    Returns:
        ``T`` (1.0 when there are no validation examples).
    """
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true)
    if len(logits) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: _nll(logits, y, float(np.exp(log_t)), multilabel),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))
