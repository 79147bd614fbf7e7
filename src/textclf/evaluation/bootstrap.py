"""Bootstrap confidence intervals for every metric, and paired comparisons of two models.

Resampling is vectorised: a resample is a weight vector over the examples, and every
metric is a function of a few weighted sums, so a block of resamples costs one sparse
product (:mod:`textclf.evaluation.resampling` runs it, over the metric components of
:mod:`textclf.evaluation.weighted_metrics`). This module turns the resampled values into
intervals and p-values.

Intervals are percentile or BCa (Efron & Tibshirani 1993, ch. 13 and 14.3), matching
:func:`scipy.stats.bootstrap` (same quantile rule, same ``z0`` and jackknife
acceleration). A resample where a metric is undefined (e.g. the only positive of a
binary task left out) gives NaN; quantiles ignore those and
:attr:`BootstrapResult.n_undefined` counts them.

Each resample computes the *same* statistic as the point estimate (issue 12). A macro
average runs over the point estimate's label set — for ``pr_auc_macro`` the labels with
a positive in the data — not over the labels that happen to be defined in the resample;
a label of that set left undefined by one resample (its only positives not drawn) takes
its value from another resample of the same block, which is what redrawing until it is
defined would give (:func:`~textclf.evaluation.weighted_metrics.borrow_undefined`).
Likewise a precision or recall that is 0 by ``zero_division`` only because a resample
lacks the label is undefined there, not 0. Before, rare labels with a low average
precision dropped out of a third of the resamples, the bootstrap distribution sat above
the estimate, and on GoEmotions ``pr_auc_macro`` came out as 0.0864 [0.0867, 0.1269].

Every interval contains its point estimate. Where BCa is degenerate or excludes the
estimate it falls back to the percentile interval, and a percentile interval with fewer
than ``α/2`` of the resamples on one side of the estimate is widened to reach it; each
such interval says so in :attr:`Interval.fallback` (``"fallback"`` in ``metrics.json``)
and :attr:`BootstrapResult.fallbacks`. Small samples still need it at times: average
precision and ECE are biased upward under resampling (a positive drawn twice ties with
itself), and no choice of label set changes that.

Random stream: the resamples come in blocks of
:data:`~textclf.evaluation.resampling.BLOCK` drawn from
``numpy.random.default_rng(seed)``, so resample ``b`` is the same whatever
``n_resamples`` is, and two models compared with the same seed see the same resamples.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    >>> p = np.array([[.8, .2], [.3, .7], [.4, .6], [.6, .4], [.2, .8], [.7, .3], [.55, .45], [.1, .9]])
    >>> res = bootstrap_metrics("binary", y, p, labels=["no", "yes"], n_resamples=200, seed=1)
    >>> res.metrics["accuracy"].value
    0.875
    >>> res.metrics["accuracy"].ci_low <= 0.875 <= res.metrics["accuracy"].ci_high
    True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import ndtr, ndtri

from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import classification_metrics, per_label_metrics
from textclf.evaluation.resampling import Engine, concatenate, weight_blocks
from textclf.evaluation.weighted_metrics import Metrics, PerLabel
from textclf.progress import progress_bar

logger = logging.getLogger(__name__)

TASKS = ("binary", "multiclass", "multilabel")
METHODS = ("percentile", "bca")


def _undefined_per_label(support: int, predicted: int) -> tuple[str, ...]:
    """The per-label scores that are 0/0 for a label with ``support`` true examples and
    ``predicted`` predictions: precision without a prediction, recall without a true
    example, and F1 (2TP / (2TP + FP + FN)) with neither.

    Example:
        >>> _undefined_per_label(0, 0), _undefined_per_label(0, 3), _undefined_per_label(4, 0)
        (('precision', 'recall', 'f1'), ('recall',), ('precision',))
    """
    undefined = {"precision": predicted == 0, "recall": support == 0}
    undefined["f1"] = undefined["precision"] and undefined["recall"]
    return tuple(key for key, yes in undefined.items() if yes)


# --------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------


def _listed(names: Sequence[str], most: int = 6) -> str:
    """``a, b, c`` or ``a, b, … and 7 more``: a log line names a few, not forty."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _none_if_nan(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


@dataclass(frozen=True)
class Interval:
    """A point value and its confidence interval (NaN where undefined).

    Attributes:
        value: The point estimate.
        ci_low: Lower bound; never above ``value``.
        ci_high: Upper bound; never below ``value``.
        fallback: Why the interval is not the requested method's plain interval (BCa
            that fell back to percentile, a percentile interval widened to reach the
            estimate), or ``None``.
    """

    value: float
    ci_low: float
    ci_high: float
    fallback: str | None = None

    def to_dict(self) -> dict[str, float | str | None]:
        """``{"value", "ci_low", "ci_high"}`` with NaN as ``None`` (valid JSON), and
        ``"fallback"`` when there was one."""
        out: dict[str, float | str | None] = {
            "value": _none_if_nan(self.value),
            "ci_low": _none_if_nan(self.ci_low),
            "ci_high": _none_if_nan(self.ci_high),
        }
        if self.fallback:
            out["fallback"] = self.fallback
        return out


@dataclass
class BootstrapResult:
    """Every metric of a task with its bootstrap confidence interval.

    Attributes:
        metrics: Metric name → interval, for every metric of ``classification_metrics``.
        per_label: Label → ``{"precision", "recall", "f1"}`` intervals and ``"support"``.
        n_resamples: Bootstrap resamples drawn.
        confidence: Confidence level, e.g. 0.95.
        method: ``percentile`` or ``bca``.
        seed: Seed of the resampling.
        n_undefined: Metric name → resamples in which it was undefined (ignored by the
            quantiles); metrics always defined are left out.
        fallbacks: Metric name (``label/key`` per label) → why its interval is not the
            requested method's (see :attr:`Interval.fallback`); empty when none.
    """

    metrics: dict[str, Interval]
    per_label: dict[str, dict[str, Interval | int]]
    n_resamples: int
    confidence: float
    method: str
    seed: int
    n_undefined: dict[str, int] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)


@dataclass
class PairedComparison:
    """Model B against model A on one metric, on the same resamples of the same examples.

    Attributes:
        metric: The metric compared.
        a: Model A's value and interval.
        b: Model B's value and interval.
        difference: ``b − a`` and the interval of the resampled differences.
        p_value: Two-sided paired-bootstrap p-value of "no difference" (see
            :func:`paired_bootstrap`).
        mcnemar_statistic: McNemar's statistic on per-example correctness (single-label
            tasks; ``None`` for multi-label).
        mcnemar_p_value: Its p-value.
        n_resamples: Bootstrap resamples drawn.
        confidence: Confidence level.
        method: ``percentile`` or ``bca``.
        seed: Seed of the resampling.
        n_undefined: Resamples where the difference was undefined (ignored).
        n_disagree: Examples the two models decide differently (any label, multi-label):
            all the paired resampling can learn from. Below :data:`FEW_DISAGREEMENTS` the
            bootstrap p-value reaches its floor where an exact test would not.
    """

    metric: str
    a: Interval
    b: Interval
    difference: Interval
    p_value: float
    mcnemar_statistic: float | None
    mcnemar_p_value: float | None
    n_resamples: int
    confidence: float
    method: str = "bca"
    seed: int = 0
    n_undefined: int = 0
    n_disagree: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        return {
            "metric": self.metric,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "difference": self.difference.to_dict(),
            "p_value": _none_if_nan(self.p_value),
            "p_value_method": "paired bootstrap, shifted null (two-sided)",
            "mcnemar_statistic": None
            if self.mcnemar_statistic is None
            else _none_if_nan(self.mcnemar_statistic),
            "mcnemar_p_value": None
            if self.mcnemar_p_value is None
            else _none_if_nan(self.mcnemar_p_value),
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
            "method": self.method,
            "seed": self.seed,
            "n_undefined": self.n_undefined,
            "n_disagree": self.n_disagree,
        }


# --------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------


def _acceleration(jack: np.ndarray) -> float:
    """BCa acceleration from jackknife values (Efron & Tibshirani 1993, eq. 14.15)."""
    jack = jack[np.isfinite(jack)]
    if len(jack) < 3:
        return 0.0
    d = jack.mean() - jack
    den = (d**2).sum()
    # All leave-one-out values equal: no skewness to correct (scipy gives NaN here).
    return 0.0 if den == 0 else float((d**3).sum() / (6 * den**1.5))


def _tolerance(value: float) -> float:
    """Rounding slack between the point value (sklearn) and the engine's sums."""
    return 1e-9 * max(1.0, abs(value))


def _bca_levels(
    v: np.ndarray, levels: np.ndarray, theta_hat: float, jack: np.ndarray | None
) -> tuple[np.ndarray | None, str | None]:
    """BCa quantile levels (Efron & Tibshirani 1993, eq. 14.9), or ``None`` and why not.

    Same estimator as :func:`scipy.stats.bootstrap`: ``z0`` from the mid-rank share of
    resamples below the estimate, the acceleration from the jackknife. Resampled values
    within rounding of the estimate count as equal to it, so a metric constant under
    resampling gets ``z0 = 0`` rather than an infinite bias from float noise.
    """
    if jack is None or not math.isfinite(theta_hat):
        return None, "no leave-one-out values for the acceleration"
    tol = _tolerance(theta_hat)
    share = ((v < theta_hat - tol).sum() + (v <= theta_hat + tol).sum()) / (2 * len(v))
    z0 = float(ndtri(share))
    if not math.isfinite(z0):
        return None, "every resample lies on one side of the estimate (infinite bias correction)"
    # With |z0| past the interval's own normal quantile, one BCa endpoint lands on the
    # wrong side of the estimate (or, through ties, a sliver next to it): BCa breaks down.
    z_edge = float(ndtri(levels[1]))
    if abs(z0) >= z_edge:
        return None, f"bias correction z0 = {z0:.2f} is beyond ±{z_edge:.2f}"
    a = _acceleration(jack)
    z = z0 + ndtri(levels)
    den = 1 - a * z
    # Past 1 − a·z = 0 the BCa map from levels to levels stops being increasing, so its
    # "interval" no longer means anything.
    if not math.isfinite(a) or np.any(den <= 0):
        return None, f"acceleration {a:.3g} too large for the BCa formula"
    return ndtr(z0 + z / den), None


#: Why an interval has no width: the bootstrap cannot show the uncertainty of a count of
#: none or all (5 of 5 positives found is 1.0 in every resample; an exact binomial
#: interval for it is [0.48, 1]).
CONSTANT_NOTE = (
    "every resample gave the same value (none or all of the examples it counts, e.g. a "
    "rare label's), so the interval has no width and understates the uncertainty"
)
#: Below this many examples decided differently, a paired bootstrap p-value is not to be
#: trusted: 5 of 5 in one model's favour gives p = 0.001, an exact sign test 0.0625.
FEW_DISAGREEMENTS = 10
#: Why ECE gets no interval.
ECE_NOTE = (
    "no interval: the binned ECE is biased upward on small samples (by about 0.03 at 200 "
    "examples), so bootstrap intervals around it miss the true value most of the time"
)


def _interval(
    values: np.ndarray,
    confidence: float,
    method: str,
    theta_hat: float,
    jack: np.ndarray | None,
    value: float,
    *,
    constant_note: bool = True,
) -> Interval:
    """The interval of the estimate ``value`` from its resampled values (NaNs ignored).

    The interval always contains ``value``, the reported point estimate (issue 12):

    1. BCa, where asked for, unless it breaks down — every resample on one side of the
       estimate, a bias correction ``|z0| ≥ z_{1−α/2}`` (with ``a = 0`` the endpoints are
       the quantiles at ``Φ(2·z0 ± z_{1−α/2})``, so one of them crosses the estimate), an
       acceleration past the formula's range — or its interval excludes the estimate;
       then the percentile interval.
    2. The percentile interval, unless fewer than ``α/2`` of the resamples lie on one
       side of the estimate; then it is widened to reach the estimate.

    Each step away from the requested method is described in :attr:`Interval.fallback`
    (``None`` when there was none), which reaches ``metrics.json``. An undefined estimate gets no
    interval; a defined one that no resample could compute gets NaN bounds and a note.
    Bounds within rounding of the estimate are set to it without a note: they come from
    the same formula summed in another order.
    """
    value = float(value)
    nan = float("nan")
    if not math.isfinite(value):
        return Interval(value, nan, nan)
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return Interval(value, nan, nan, "undefined in every resample: no interval")
    if v.min() == v.max() == value:
        # No width: said so (CONSTANT_NOTE), except where the caller knows why (a paired
        # difference of models that decide alike).
        return Interval(value, value, value, CONSTANT_NOTE if constant_note else None)
    alpha = (1 - confidence) / 2
    levels = np.array([alpha, 1 - alpha])
    tol = _tolerance(value)
    notes: list[str] = []

    def snapped(lo: float, hi: float) -> tuple[float, float, bool]:
        lo = value if value < lo <= value + tol else lo
        hi = value if value - tol <= hi < value else hi
        return lo, hi, lo <= value <= hi

    if method == "bca":
        adjusted, why = _bca_levels(v, levels, theta_hat, jack)
        if adjusted is not None:
            lo, hi, ok = snapped(*(float(q) for q in np.quantile(v, adjusted)))
            if ok:
                return Interval(value, lo, hi)
            why = f"the BCa interval [{lo:.4g}, {hi:.4g}] excludes the estimate"
        notes.append(f"BCa fell back to percentile: {why}")
    lo, hi, ok = snapped(*(float(q) for q in np.quantile(v, levels)))
    if not ok:
        below = float((v < value).mean())
        notes.append(
            f"the percentile interval [{lo:.4g}, {hi:.4g}] excludes the estimate ({below:.1%} "
            "of the resamples below it): widened to reach it; the metric is strongly biased "
            "under resampling at this sample size"
        )
        lo, hi = min(lo, value), max(hi, value)
    return Interval(value, lo, hi, "; ".join(notes) or None)


def _check(
    task: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    method: str,
    confidence: float,
    n_resamples: int,
) -> tuple[np.ndarray, np.ndarray, str]:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {TASKS}.")
    method = method.lower()
    if method not in METHODS:
        raise ValueError(f"Unknown interval method {method!r}; use 'percentile' or 'bca'.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}.")
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(proba) != len(y_true) or len(proba) == 0:
        raise ValueError(
            f"Expected probabilities of shape (n, k) with n = len(y_true) = {len(y_true)} > 0; "
            f"got {proba.shape}."
        )
    return y_true, proba, method


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def bootstrap_metrics(
    task: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    labels: Sequence[str],
    threshold: float | Sequence[float] | np.ndarray | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    method: str = "bca",
    seed: int = 0,
    progress: bool = False,
) -> BootstrapResult:
    """Every metric of ``task`` and per-label precision / recall / F1, with bootstrap CIs.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y_true: ``(n,)`` class ids, or ``(n, k)`` 0/1 rows for multi-label.
        proba: ``(n, k)`` probabilities, columns in ``labels`` order.
        labels: The ``k`` label names.
        threshold: Decision threshold(s), as :func:`textclf.evaluation.decision.decide`.
        n_resamples: Bootstrap resamples.
        confidence: Two-sided confidence level.
        method: ``percentile`` or ``bca`` (bias-corrected and accelerated).
        seed: Seed of the resampling (see the module docstring for the stream).
        progress: Show a progress bar over blocks of resamples.

    Returns:
        Point values (exactly :func:`classification_metrics` and
        :func:`per_label_metrics`) with their intervals.

    Raises:
        ValueError: Unknown task or method, or arrays of mismatched shapes.

    Example:
        >>> y = np.array([0, 1, 2, 2, 1, 0])
        >>> p = np.eye(3)[[0, 1, 2, 1, 1, 0]] * 0.7 + 0.1
        >>> res = bootstrap_metrics("multiclass", y, p, labels=["a", "b", "c"], n_resamples=100)
        >>> round(res.metrics["accuracy"].value, 3), res.per_label["c"]["support"]
        (0.833, 2)
    """
    y_true, proba, method = _check(task, y_true, proba, method, confidence, n_resamples)
    names = [str(x) for x in labels]
    if len(names) != proba.shape[1]:
        raise ValueError(f"{len(names)} label names for {proba.shape[1]} probability columns.")
    engine = Engine(task, y_true, proba, threshold=threshold)
    blocks = []
    with progress_bar(
        total=n_resamples, desc="bootstrap", unit="resample", enabled=progress, leave=False
    ) as bar:
        for w in weight_blocks(engine.n, n_resamples, seed):
            blocks.append(engine.evaluate(w))
            bar.update(w.shape[1])
    boot, boot_l = concatenate(blocks)

    theta_m, theta_l = engine.point()
    jack_m: Metrics = {}
    jack_l: PerLabel = {}
    if method == "bca":
        jack_m, jack_l = engine.jackknife()

    point = classification_metrics(task, y_true, proba, threshold=threshold)
    y_pred = decide(proba, task, threshold=threshold)
    point_l = per_label_metrics(task, y_true.astype(np.int64), y_pred, names)

    metrics = {
        name: _interval(
            boot[name], confidence, method, float(theta_m[name][0]), jack_m.get(name), value
        )
        for name, value in point.items()
    }
    if "ece" in metrics:
        metrics["ece"] = Interval(metrics["ece"].value, math.nan, math.nan, ECE_NOTE)
    fallbacks = {name: iv.fallback for name, iv in metrics.items() if iv.fallback}
    undefined = {name: nan for name in point if (nan := int(np.isnan(boot[name]).sum())) > 0}
    per_label: dict[str, dict[str, Interval | int]] = {}
    predicted = (
        y_pred.sum(axis=0) if task == "multilabel" else np.bincount(y_pred, minlength=len(names))
    )
    for i, label in enumerate(names):
        entry: dict[str, Interval | int] = {}
        for key in _undefined_per_label(int(point_l[label]["support"]), int(predicted[i])):
            # 0/0: scikit-learn's zero_division fills 0 in (and the macro averages count
            # it so), but a "0.000 [0.000, 0.000]" row would read as a measured failure.
            entry[key] = Interval(math.nan, math.nan, math.nan)
        for key in ("precision", "recall", "f1"):
            if key in entry:
                continue
            jack = jack_l[key][i] if jack_l else None
            theta = float(theta_l[key][i, 0])
            entry[key] = iv = _interval(
                boot_l[key][i], confidence, method, theta, jack, point_l[label][key]
            )
            if iv.fallback:
                fallbacks[f"{label}/{key}"] = iv.fallback
        entry["support"] = int(point_l[label]["support"])
        per_label[label] = entry
    if undefined:
        logger.info(
            "Bootstrap: some metrics were undefined in some resamples and were left out of "
            "their intervals: %s.",
            ", ".join(f"{k} ({v}/{n_resamples})" for k, v in undefined.items()),
        )
    logged = {k: v for k, v in fallbacks.items() if v != ECE_NOTE}  # ECE's is always so
    if logged:
        # A note, not a warning: the interval is still valid (each records its 'fallback'
        # in the metrics document), and this runs for splits whose document is not saved.
        by_reason: dict[str, list[str]] = {}
        for key, why in logged.items():
            by_reason.setdefault(why, []).append(key)
        logger.info(
            "Bootstrap: %d interval(s) are not plain %s intervals: %s.",
            len(logged),
            method,
            "; ".join(f"{_listed(keys)}: {why}" for why, keys in by_reason.items()),
        )
    return BootstrapResult(
        metrics=metrics,
        per_label=per_label,
        n_resamples=n_resamples,
        confidence=confidence,
        method=method,
        seed=seed,
        n_undefined=undefined,
        fallbacks=fallbacks,
    )


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, float]:
    """McNemar's test of equal accuracy from per-example correctness of two models.

    With ``b`` = examples only A gets right and ``c`` = only B: when ``b + c < 25`` the
    exact two-sided binomial test of ``b ~ Bin(b + c, 1/2)``, statistic ``min(b, c)`` (as
    statsmodels); otherwise the χ² test with continuity correction,
    ``(|b − c| − 1)² / (b + c)`` on 1 degree of freedom (Edwards 1948).

    Args:
        correct_a: ``(n,)`` booleans, model A right on each example.
        correct_b: ``(n,)`` booleans, model B right.

    Returns:
        ``(statistic, p_value)``; ``(0.0, 1.0)`` when the models never disagree.

    Example:
        >>> a = np.array([True] * 10 + [False] * 2)
        >>> stat, p = mcnemar(a, ~a)
        >>> stat, round(p, 4)
        (2.0, 0.0386)
    """
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"correct_a {a.shape} and correct_b {b_.shape} differ in shape.")
    b = int((a & ~b_).sum())
    c = int((~a & b_).sum())
    if b + c == 0:
        return 0.0, 1.0
    if b + c < 25:
        return float(min(b, c)), float(stats.binomtest(b, b + c, 0.5).pvalue)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return float(statistic), float(stats.chi2.sf(statistic, 1))


def paired_bootstrap(
    task: str,
    y_true: np.ndarray,
    proba_a: np.ndarray,
    proba_b: np.ndarray,
    *,
    metric: str,
    threshold_a: float | Sequence[float] | np.ndarray | None = None,
    threshold_b: float | Sequence[float] | np.ndarray | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "bca",
) -> PairedComparison:
    """Compare two models on the same examples: interval of ``b − a`` and a p-value.

    Both models are scored on the *same* resamples (paired bootstrap; Koehn 2004,
    Berg-Kirkpatrick et al. 2012), so the interval of the difference reflects only the
    disagreement between them, not the sampling of the examples twice.

    The p-value tests "no difference" by shifting the resampled differences ``d*`` to the
    null (Hall & Wilson 1991, guideline 1; Efron & Tibshirani 1993, §16.4):
    ``p = (1 + #{|d* − d̂| ≥ |d̂|}) / (1 + B)`` over the ``B`` defined resamples
    (the ``+1`` keeps it a valid p-value, Davison & Hinkley 1997, eq. 4.11). Identical
    models give ``p = 1``. On single-label tasks McNemar's test on per-example
    correctness is reported as well (:func:`mcnemar`).

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y_true: ``(n,)`` ids or ``(n, k)`` 0/1 rows.
        proba_a: ``(n, k)`` model A's probabilities (the reference).
        proba_b: ``(n, k)`` model B's probabilities.
        metric: A metric name of :func:`classification_metrics` for ``task``.
        threshold_a: Model A's decision threshold(s).
        threshold_b: Model B's decision threshold(s).
        n_resamples: Bootstrap resamples.
        confidence: Two-sided confidence level.
        seed: Seed of the resampling.
        method: ``percentile`` or ``bca``.

    Returns:
        Both models' values, the difference ``b − a`` with its interval, and the p-values.

    Raises:
        ValueError: Unknown metric, task or method; mismatched shapes.

    Example:
        >>> y = np.array([0, 1] * 20)
        >>> good = np.eye(2)[y] * 0.8 + 0.1
        >>> cmp = paired_bootstrap("binary", y, good, good, metric="accuracy", n_resamples=200)
        >>> cmp.difference.value, cmp.p_value
        (0.0, 1.0)
    """
    y_true, proba_a, method = _check(task, y_true, proba_a, method, confidence, n_resamples)
    proba_b = np.asarray(proba_b, dtype=np.float64)
    if proba_b.shape != proba_a.shape:
        raise ValueError(f"proba_a {proba_a.shape} and proba_b {proba_b.shape} differ in shape.")
    point_a = classification_metrics(task, y_true, proba_a, threshold=threshold_a)
    if metric not in point_a:
        raise ValueError(f"Unknown metric {metric!r} for {task}; use one of {sorted(point_a)}.")
    point_b = classification_metrics(task, y_true, proba_b, threshold=threshold_b)
    engines = [
        Engine(task, y_true, pr, threshold=t, wanted={metric})
        for pr, t in ((proba_a, threshold_a), (proba_b, threshold_b))
    ]
    draws: list[list[np.ndarray]] = [[], []]
    for w in weight_blocks(len(y_true), n_resamples, seed):
        for i, eng in enumerate(engines):
            draws[i].append(eng.evaluate(w)[0][metric])
    va, vb = (np.concatenate(d) for d in draws)
    diff = vb - va
    ta, tb = (float(eng.point()[0][metric][0]) for eng in engines)
    jack_a = jack_b = jack_d = None
    if method == "bca":
        jack_a, jack_b = (eng.jackknife()[0][metric] for eng in engines)
        jack_d = jack_b - jack_a
    d_hat = tb - ta
    ok = np.isfinite(diff)
    p_value = float("nan")
    if ok.any() and math.isfinite(d_hat):
        # Shifted null with a tolerance for rounding: identical models give exactly 1.
        extreme = np.abs(diff[ok] - d_hat) >= abs(d_hat) - 1e-12
        p_value = float((1 + extreme.sum()) / (1 + ok.sum()))

    def iv(value: float, vals: np.ndarray, theta: float, jack: np.ndarray | None) -> Interval:
        out = _interval(vals, confidence, method, theta, jack, value, constant_note=False)
        if out.fallback:
            logger.warning("Paired bootstrap on %s: %s.", metric, out.fallback)
        return out

    stat = p_mc = None
    dec_a = decide(proba_a, task, threshold=threshold_a)
    dec_b = decide(proba_b, task, threshold=threshold_b)
    differ = dec_a != dec_b
    n_disagree = int(differ.any(axis=1).sum() if differ.ndim == 2 else differ.sum())
    if task != "multilabel":
        y = y_true.astype(np.int64)
        stat, p_mc = mcnemar(dec_a == y, dec_b == y)
    return PairedComparison(
        metric=metric,
        a=iv(point_a[metric], va, ta, jack_a),
        b=iv(point_b[metric], vb, tb, jack_b),
        difference=iv(point_b[metric] - point_a[metric], diff, d_hat, jack_d),
        p_value=p_value,
        mcnemar_statistic=stat,
        mcnemar_p_value=p_mc,
        n_resamples=n_resamples,
        confidence=confidence,
        method=method,
        seed=seed,
        n_undefined=int((~ok).sum()),
        n_disagree=n_disagree,
    )
