"""Bootstrap confidence intervals for every metric, and paired comparisons of two models.

Resampling is vectorised. A resample is a weight vector ``w`` over the ``n`` examples
(``w_i`` = how many times example ``i`` was drawn); every metric of
:func:`textclf.evaluation.metrics.classification_metrics` is written as a function of a
few *linear* statistics ``D @ w``, where ``D`` is a sparse ``(R, n)`` design matrix built
once from the labels, predictions and scores:

* confusion counts (true, predicted and true-positive count per class or label) give
  accuracy, balanced accuracy, MCC, Cohen's kappa and precision / recall / F1 of every
  averaging, per class and per label;
* per-example values (log loss, Brier, subset accuracy, Hamming loss, sample-wise
  Jaccard / precision / recall / F1, LRAP, coverage error) give weighted means;
* signed calibration gaps summed per confidence bin give the ECE;
* for ROC AUC and average precision, the examples are ordered by score once and ``D``
  sums the weights of the positives at each distinct positive score, of the negatives
  tied with them and of the negatives between them; cumulative sums of those rows are the
  ROC / precision-recall curve of every resample at once (weighted Mann–Whitney statistic
  with half credit for ties; sklearn's step-wise average precision with tied scores
  grouped).

So ``B`` resamples cost one sparse-times-dense product ``D @ W`` (``W`` is ``(n, B)``)
plus arithmetic on its rows, in blocks of resamples to bound memory. The same formulas
with ``w = 1`` are the point estimate, and with integer ``w`` equal scikit-learn's
metrics with ``sample_weight`` (tested). The BCa acceleration needs the ``n``
leave-one-out (jackknife) values: confusion and per-example statistics are updated by
subtracting one column of ``D``; ROC AUC and average precision have closed-form
leave-one-out updates (prefix sums over the score order), so the ``n`` jackknife values
cost a fraction of the resampling instead of ``n`` full re-evaluations.

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
defined would give (:func:`_borrow_undefined`). Likewise a precision or recall that is
0 by ``zero_division`` only because a resample lacks the label is undefined there, not 0.
Before, rare labels with a low average precision dropped out of a third of the
resamples, the bootstrap distribution sat above the estimate, and on GoEmotions
``pr_auc_macro`` came out as 0.0864 [0.0867, 0.1269].

Every interval contains its point estimate. Where BCa is degenerate or excludes the
estimate it falls back to the percentile interval, and a percentile interval with fewer
than ``α/2`` of the resamples on one side of the estimate is widened to reach it; each
such interval says so in :attr:`Interval.fallback` (``"fallback"`` in ``metrics.json``)
and :attr:`BootstrapResult.fallbacks`. Small samples still need it at times: average
precision and ECE are biased upward under resampling (a positive drawn twice ties with
itself), and no choice of label set changes that.

Random stream: ``numpy.random.default_rng(seed)`` draws the indices of blocks of
:data:`BLOCK` resamples, ``rng.integers(0, n, size=(BLOCK, n))``, so resample ``b`` is
the same whatever ``n_resamples`` is, and two models compared with the same seed see
the same resamples.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse, stats
from scipy.special import ndtr, ndtri

from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import (
    classification_metrics,
    ece_bin_index,
    per_label_metrics,
    ranking_per_example,
)
from textclf.progress import progress_bar

logger = logging.getLogger(__name__)

#: Resamples drawn and evaluated together; it also fixes the random stream (see above).
BLOCK = 50

#: Jackknife replicates evaluated together through the generic (column-update) path.
_JACK_CHUNK = 2048

#: Above this many prefix-sum entries, the closed-form jackknife of a micro-averaged
#: average precision falls back to the generic path (only with very many labels per example).
_MAX_PREFIX_ENTRIES = 30_000_000

TASKS = ("binary", "multiclass", "multilabel")
METHODS = ("percentile", "bca")

Metrics = dict[str, np.ndarray]  # metric name -> (B,) values
PerLabel = dict[str, np.ndarray]  # "precision" | "recall" | "f1" -> (k, B) values
#: ``aggregate(P, N, AUC, AP, resamples=…)`` of ranking problems: ``(problems, B)`` in.
Aggregate = Callable[..., Metrics]


# --------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------


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
    method: str = "percentile"
    seed: int = 0
    n_undefined: int = 0

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
        }


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------


def _div0(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (sklearn's ``zero_division=0``)."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _divnan(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0``."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _rows(
    n: int, entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_rows: int
) -> sparse.csr_matrix:
    """A CSR ``(n_rows, n)`` matrix from ``(row, column, value)`` triples (duplicates summed)."""
    if entries:
        r = np.concatenate([e[0] for e in entries])
        c = np.concatenate([e[1] for e in entries])
        v = np.concatenate([e[2] for e in entries]).astype(np.float64)
    else:
        r = c = np.zeros(0, np.int64)
        v = np.zeros(0)
    return sparse.csr_matrix((v, (r, c)), shape=(n_rows, n))


def _borrow_undefined(values: np.ndarray) -> np.ndarray:
    """Each undefined (NaN) entry takes its row's value in the next resample that has one.

    ``values`` is ``(L, B)``: one row per label, one column per bootstrap resample of a
    block. Columns are independent draws, so the next column in which label ``l`` is
    defined (cyclically, within the block) holds a draw from the bootstrap distribution
    of label ``l`` *given that it is defined* — what redrawing the resample until the
    label has a positive would give (rejection sampling, one label at a time). A row
    defined in no column stays NaN.

    Args:
        values: ``(L, B)`` per-label values, NaN where undefined.

    Returns:
        ``(L, B)`` values with the NaNs filled where possible.
    """
    b = values.shape[1]
    defined = np.isfinite(values)
    if defined.all() or b == 0:
        return values
    col = np.where(defined, np.arange(b), b)  # b marks "undefined"
    # Next defined column at or after each one, then wrap around to the row's first.
    nxt = np.minimum.accumulate(col[:, ::-1], axis=1)[:, ::-1]
    nxt = np.where(nxt == b, col.min(axis=1, keepdims=True), nxt)
    taken = np.take_along_axis(values, np.minimum(nxt, b - 1), axis=1)
    return np.where(nxt < b, taken, np.nan)


def _macro(values: np.ndarray, member: np.ndarray, *, resamples: bool) -> np.ndarray:
    """Mean over a fixed label set of per-label values (NaN where a label is undefined).

    The set is the point estimate's (``member``, e.g. the labels with a positive in the
    evaluated data), never the labels that happen to be defined in a resample. Averaging
    over the latter made ``pr_auc_macro`` on GoEmotions drop its rare, low-AP labels in a
    third of the resamples, so the bootstrap distribution sat above the estimate and the
    interval excluded it (issue 12). In a block of resamples, a member undefined in one
    resample takes its value from another (:func:`_borrow_undefined`); for the point
    value and the jackknife, whose columns are not independent draws, it makes the mean
    undefined.

    Args:
        values: ``(L, B)`` per-label values.
        member: ``(L,)`` bool, the labels averaged.
        resamples: The columns are independent bootstrap resamples.

    Returns:
        ``(B,)`` means; NaN where a member stays undefined or the set is empty.
    """
    v = values[member]
    if len(v) == 0:
        return np.full(values.shape[1:], np.nan)
    if resamples:
        v = _borrow_undefined(v)
    return v.mean(axis=0)


def _ratio(num: np.ndarray, den: np.ndarray, defined_in_data: np.ndarray) -> np.ndarray:
    """``num / den``: 0 where the data itself has no denominator, NaN where only the resample.

    sklearn's ``zero_division=0`` scores a label never predicted (precision) or never true
    (recall) as 0, and the point estimate keeps that. A label *with* a denominator in the
    data but none in a resample is another case: its value is undefined there, not 0
    (counting it 0 pulled the resampled averages below the estimate; issue 12).

    Args:
        num: Numerators, ``(k, B)`` or ``(B,)``.
        den: Denominators of the same shape.
        defined_in_data: Whether the data has a denominator, broadcastable to ``num``.
    """
    raw = _divnan(num, den)
    return np.where(np.isnan(raw) & ~defined_in_data, 0.0, raw)


def _prf_metrics(
    tp: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    t0: np.ndarray,
    p0: np.ndarray,
    *,
    resamples: bool,
) -> tuple[Metrics, PerLabel]:
    """Micro, macro and support-weighted precision / recall / F1, and each label's.

    Args:
        tp: ``(k, B)`` true-positive counts; ``t`` true and ``p`` predicted counts alike.
        t0: ``(k,)`` true counts in the data (every weight 1); ``p0`` predicted counts.
        p0: See ``t0``.
        resamples: The columns are independent resamples (see :func:`_macro`).

    Returns:
        The nine averages, and ``{"precision", "recall", "f1"}`` → ``(k, B)`` per-label
        values (NaN where undefined in a column but defined in the data).
    """
    out: Metrics = {}
    per: PerLabel = {}
    every = np.ones(len(t0), bool)
    for name, num, den, den0 in (
        ("precision", tp, p, p0),
        ("recall", tp, t, t0),
        ("f1", 2 * tp, t + p, t0 + p0),
    ):
        per[name] = value = _ratio(num, den, (den0 > 0)[:, None])
        out[f"{name}_micro"] = _ratio(num.sum(0), den.sum(0), np.asarray(den0.sum() > 0))
        out[f"{name}_macro"] = _macro(value, every, resamples=resamples)
        filled = _borrow_undefined(value) if resamples else value
        # Weighted by the resample's support: a label absent from it weighs nothing, and
        # one undefined despite its support (left NaN) leaves the average undefined.
        out[f"{name}_weighted"] = _div0(np.where(t > 0, t * filled, 0.0).sum(0), t.sum(0))
    return out, per


# --------------------------------------------------------------------------------------
# Components: each owns some rows of D and turns them into metrics
# --------------------------------------------------------------------------------------


class _Component:
    """Rows of the design matrix and the metrics computed from their weighted sums."""

    names: tuple[str, ...] = ()
    design: sparse.csr_matrix

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        """Metrics from ``s = design @ W``, ``(R, B)``.

        Args:
            s: The component's rows of ``D @ W``.
            resamples: The columns are independent bootstrap resamples (see :func:`_macro`).
        """
        raise NotImplementedError

    def jackknife(self) -> tuple[Metrics, PerLabel] | None:
        """Leave-one-out values in closed form, or ``None`` to use the generic path."""
        return None


class _SingleCounts(_Component):
    """Per-class true / predicted / true-positive counts of a single-label task."""

    names = (
        "accuracy",
        "balanced_accuracy",
        "mcc",
        "cohen_kappa",
        *(
            f"{m}_{a}"
            for m in ("precision", "recall", "f1")
            for a in ("macro", "micro", "weighted")
        ),
    )

    def __init__(self, y: np.ndarray, pred: np.ndarray, k: int) -> None:
        n = len(y)
        ex = np.arange(n)
        hit = y == pred
        self.k = k
        self.t0 = np.bincount(y, minlength=k)[:k]
        self.p0 = np.bincount(pred, minlength=k)[:k]
        self.design = _rows(
            n,
            [
                (y, ex, np.ones(n)),
                (k + pred, ex, np.ones(n)),
                (2 * k + y[hit], ex[hit], np.ones(hit.sum())),
            ],
            3 * k,
        )

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        k = self.k
        t, p, tp = s[:k], s[k : 2 * k], s[2 * k :]
        n = t.sum(0)
        correct = tp.sum(0)
        out, per = _prf_metrics(tp, t, p, self.t0, self.p0, resamples=resamples)
        out["accuracy"] = _divnan(correct, n)
        # Recall averaged over the classes present in y_true (sklearn), a fixed set.
        out["balanced_accuracy"] = _macro(_divnan(tp, t), self.t0 > 0, resamples=resamples)
        # MCC and kappa from the confusion marginals, as sklearn (0 / NaN when degenerate).
        tt, pp, tdotp = (t * t).sum(0), (p * p).sum(0), (t * p).sum(0)
        cov_yy = n * n - tt
        cov_pp = n * n - pp
        prod = cov_yy * cov_pp
        out["mcc"] = np.where(prod == 0, 0.0, _div0(correct * n - tdotp, np.sqrt(prod)))
        out["cohen_kappa"] = 1 - _divnan((n - correct) * n, n * n - tdotp)
        return out, per


class _MultilabelCounts(_Component):
    """Per-label true / predicted / true-positive counts of a multi-label task."""

    names = tuple(
        f"{m}_{a}" for m in ("precision", "recall", "f1") for a in ("micro", "macro", "weighted")
    )

    def __init__(self, y: np.ndarray, pred: np.ndarray) -> None:
        n, k = y.shape
        self.k = k
        self.t0, self.p0 = (y == 1).sum(0), (pred == 1).sum(0)
        entries = []
        for offset, mask in ((0, y == 1), (k, pred == 1), (2 * k, (y == 1) & (pred == 1))):
            ex, lab = np.nonzero(mask)
            entries.append((offset + lab, ex, np.ones(len(ex))))
        self.design = _rows(n, entries, 3 * k)

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        k = self.k
        t, p, tp = s[:k], s[k : 2 * k], s[2 * k :]
        return _prf_metrics(tp, t, p, self.t0, self.p0, resamples=resamples)


class _Means(_Component):
    """Weighted means of per-example values: ``Σ w v / Σ w``."""

    def __init__(self, values: dict[str, np.ndarray]) -> None:
        self.names = tuple(values)
        n = len(next(iter(values.values())))
        dense = np.vstack([np.ones(n), *values.values()])
        self.design = sparse.csr_matrix(dense)

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        return {m: _divnan(s[i + 1], s[0]) for i, m in enumerate(self.names)}, {}


class _ECE(_Component):
    """Expected calibration error: ``Σ_bins |Σ w (correct − conf)| / Σ w``."""

    names = ("ece",)

    def __init__(self, y: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> None:
        n = len(y)
        conf = proba.max(axis=1)
        gap = (proba.argmax(axis=1) == y) - conf
        ex = np.arange(n)
        self.design = _rows(
            n,
            [(np.zeros(n, np.int64), ex, np.ones(n)), (1 + ece_bin_index(conf, n_bins), ex, gap)],
            1 + n_bins,
        )

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        return {"ece": _divnan(np.abs(s[1:]).sum(0), s[0])}, {}


class _RankProblem:
    """One binary ranking (a class vs the rest, a label, or all pairs flattened).

    Elements are laid out ``(n, kk)``: ``kk`` scored elements per example (1 for a class
    or label; ``k`` for a micro average over the flattened ``(example, label)`` pairs).

    With ``G`` distinct scores among positive elements, sorted descending, each element
    gets ``q`` = the number of those scores strictly above its own. Rows of the design:
    ``seg[q]`` negatives strictly between positive scores ``q−1`` and ``q`` (``q = G``:
    below all), ``pos[q]`` positives at score ``q``, ``tie[q]`` negatives tied with it
    (only when some exist). From their weighted sums: ``FP[q]`` = negatives scoring at or
    above positive score ``q``, ``TP[q]`` = positives at or above, and

    * ``AP = Σ_q pos[q] · TP[q] / (TP[q] + FP[q]) / P`` (sklearn's step-wise average
      precision; thresholds between positives add nothing);
    * ``AUC = Σ_q pos[q] · (N − FP[q] + tie[q]/2) / (P · N)`` (Mann–Whitney with half
      credit for ties, equal to the trapezoidal area under the ROC curve).
    """

    def __init__(self, scores: np.ndarray, truth: np.ndarray) -> None:
        scores = np.asarray(scores, np.float64).reshape(len(scores), -1)
        truth = np.asarray(truth).reshape(scores.shape).astype(bool)
        self.n, self.kk = scores.shape
        self.scores, self.truth = scores, truth
        s, y = scores.ravel(), truth.ravel()
        ex = np.repeat(np.arange(self.n), self.kk)
        self.pos_scores = np.unique(s[y])[::-1]
        g = self.G = len(self.pos_scores)
        q = np.searchsorted(-self.pos_scores, -s, side="left")
        tied = (
            ~y & (q < g) & (self.pos_scores[np.minimum(q, max(g - 1, 0))] == s) if g else ~y & False
        )
        self.has_ties = bool(tied.any())
        self.q = q.reshape(scores.shape)
        row = np.where(y, g + 1 + q, np.where(tied, 2 * g + 1 + q, q))
        self.n_rows = (3 * g + 1) if self.has_ties else (2 * g + 1)
        self.design = _rows(self.n, [(row, ex, np.ones(len(row)))], self.n_rows)

    def curves(self, s: np.ndarray) -> tuple[np.ndarray, ...]:
        """``pos, tie, FP, TP, P, N`` from this problem's rows of ``D @ W``."""
        g = self.G
        seg, tail, pos = s[:g], s[g], s[g + 1 : 2 * g + 1]
        fp = np.cumsum(seg, axis=0)
        if self.has_ties:
            tie = s[2 * g + 1 : 3 * g + 1]
            fp += np.cumsum(tie, axis=0)
        else:
            tie = np.zeros_like(pos)
        tp = np.cumsum(pos, axis=0)
        p = tp[-1] if g else np.zeros(s.shape[1:])
        n = (fp[-1] if g else 0) + tail
        return pos, tie, fp, tp, p, n

    def evaluate(self, s: np.ndarray) -> tuple[np.ndarray, ...]:
        """``P, N, AUC, AP`` per resample from ``(n_rows, B)`` sums."""
        pos, tie, fp, tp, p, n = self.curves(s)
        ap = _divnan((pos * _div0(tp, tp + fp)).sum(0), p)
        u = p * n - (pos * (fp - 0.5 * tie)).sum(0)
        auc = _divnan(u, p * n)
        return p, n, auc, ap

    def jackknife(self) -> tuple[np.ndarray, ...] | None:
        """Leave-one-example-out ``P, N, AUC, AP`` (``(n,)`` each), in closed form."""
        g, kk = self.G, self.kk
        curves = [np.asarray(a, np.float64) for a in self.curves(np.asarray(self.design.sum(1)))]
        pos, tie, fp, tp = (c[:, 0] for c in curves[:4])
        p_all, n_all = (float(np.squeeze(c)) for c in curves[4:])
        y, q = self.truth, self.q
        npos = y.sum(1)
        nneg = kk - npos
        p_j, n_j = p_all - npos, n_all - nneg

        # ROC AUC: remove each element's pairs, add back the pairs inside the example.
        u_all = p_all * n_all - float((pos * (fp - 0.5 * tie)).sum())
        qc = np.minimum(q, max(g - 1, 0))
        if g:
            tp_above = np.where(q < g, tp[qc] - pos[qc], p_all)  # positives strictly above
            is_tie = ~y & (q < g) & (self.pos_scores[qc] == self.scores)
            neg_pairs = tp_above + 0.5 * np.where(is_tie, pos[qc], 0.0)
            pos_pairs = n_all - fp[qc] + 0.5 * tie[qc]
            contrib = np.where(y, pos_pairs, neg_pairs).sum(1)
        else:
            contrib = np.zeros(self.n)
        if kk > 1:
            inside = np.zeros(self.n)
            for lo in range(0, self.n, 4096):
                sc, yy = self.scores[lo : lo + 4096], y[lo : lo + 4096]
                diff = sc[:, :, None] - sc[:, None, :]  # [i, p, m] = s_p − s_m
                h = (diff > 0) + 0.5 * (diff == 0)
                inside[lo : lo + 4096] = (h * (yy[:, :, None] & ~yy[:, None, :])).sum((1, 2))
            contrib = contrib - inside
        auc = _divnan(u_all - contrib, p_j * n_j)

        # Average precision: removing example j lowers TP[r] by a_r and FP[r] by b_r, step
        # functions of r that change only where j's own elements sit; precompute prefix
        # sums of pos[r]·(TP[r]−a)/(TP[r]−a+FP[r]−b) for every (a, b) that occurs.
        amax, bmax = int(npos.max(initial=0)), int(nneg.max(initial=0))
        if (amax + 1) * (bmax + 1) * (g + 1) > _MAX_PREFIX_ENTRIES:
            return None
        a_ = np.arange(amax + 1)[:, None, None]
        b_ = np.arange(bmax + 1)[None, :, None]
        num = tp[None, None, :] - a_
        fpb = fp[None, None, :] - b_
        valid = (num >= 0) & (fpb >= 0) & (num + fpb > 0)
        f = np.where(valid, num / np.where(valid, num + fpb, 1.0), 0.0)
        prefix = np.concatenate(
            [np.zeros((amax + 1, bmax + 1, 1)), np.cumsum(pos * f, axis=2)], axis=2
        ).reshape(-1)

        order = np.argsort(q, axis=1, kind="stable")
        qs = np.take_along_axis(q, order, axis=1)
        ys = np.take_along_axis(y, order, axis=1).astype(np.int64)
        a_cum = np.cumsum(ys, axis=1)
        b_cum = np.cumsum(1 - ys, axis=1)
        zeros = np.zeros((self.n, 1), np.int64)
        aa = np.hstack([zeros, a_cum])
        bb = np.hstack([zeros, b_cum])
        lo_ = np.hstack([zeros, qs])
        hi_ = np.hstack([qs, np.full((self.n, 1), g)])
        base = (aa * (bmax + 1) + bb) * (g + 1)
        total = (prefix[base + hi_] - prefix[base + lo_]).sum(1)
        # Each positive of j also leaves its own group: subtract its term at the counts
        # (a, b) in force at its score (all of j's elements at or above it).
        # Last sorted index with q <= q_i: the end of q_i's run of equal values.
        last = np.hstack([qs[:, 1:] != qs[:, :-1], np.ones((self.n, 1), bool)])
        ends = np.where(last, np.arange(kk), kk)
        upto = np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]
        a_at = np.take_along_axis(a_cum, upto, axis=1)
        b_at = np.take_along_axis(b_cum, upto, axis=1)
        if g:
            qsc = np.minimum(qs, g - 1)
            num_at = tp[qsc] - a_at
            den_at = num_at + fp[qsc] - b_at
            own = np.where(ys == 1, _div0(num_at, den_at), 0.0).sum(1)
        else:
            own = np.zeros(self.n)
        ap = _divnan(total - own, p_j)
        return p_j, n_j, auc, ap


class _Rank(_Component):
    """ROC AUC and average precision of several ranking problems, then averaged."""

    def __init__(
        self,
        problems: list[_RankProblem],
        aggregate: Aggregate,
        names: tuple[str, ...],
    ) -> None:
        self.problems = problems
        self.aggregate = aggregate
        self.names = names
        self.design = sparse.vstack([pr.design for pr in problems]).tocsr()
        self.offsets = np.cumsum([0] + [pr.n_rows for pr in problems])

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        parts = [
            pr.evaluate(s[self.offsets[i] : self.offsets[i + 1]])
            for i, pr in enumerate(self.problems)
        ]
        p, n, auc, ap = (np.stack(x) for x in zip(*parts, strict=True))
        return self.aggregate(p, n, auc, ap, resamples=resamples), {}

    def jackknife(self) -> tuple[Metrics, PerLabel] | None:
        parts = [pr.jackknife() for pr in self.problems]
        if any(x is None for x in parts):
            return None
        p, n, auc, ap = (np.stack(x) for x in zip(*parts, strict=True))
        return self.aggregate(p, n, auc, ap, resamples=False), {}


def _agg_binary(
    p: np.ndarray, n: np.ndarray, auc: np.ndarray, ap: np.ndarray, *, resamples: bool
) -> Metrics:
    # One ranking problem, no average: a resample without a positive leaves it undefined.
    return {"roc_auc": auc[0], "roc_auc_weighted": auc[0], "pr_auc": ap[0]}


def _agg_multiclass(probabilities: bool, present: np.ndarray) -> Aggregate:
    """One-vs-rest averages; ``present`` = the classes with an example in ``y_true``."""
    every = np.ones(len(present), bool)

    def agg(
        p: np.ndarray, n: np.ndarray, auc: np.ndarray, ap: np.ndarray, *, resamples: bool
    ) -> Metrics:
        out = {
            # sklearn averages over every class: NaN as soon as one is absent from y_true.
            "roc_auc": _macro(auc, every, resamples=resamples),
            # sklearn forces the score of a zero-weight (absent) class to 0 here; the
            # weights follow the resample, so a class that vanishes weighs nothing.
            "roc_auc_weighted": _divnan(np.where(p > 0, p * auc, 0).sum(0), p.sum(0)),
            "pr_auc": _macro(ap, present, resamples=resamples),
        }
        if not probabilities:  # sklearn refuses rows that are not probabilities
            out["roc_auc"] = out["roc_auc_weighted"] = np.full(auc.shape[1:], np.nan)
        return out

    return agg


def _agg_multilabel(present: np.ndarray) -> Aggregate:
    """Macro over the labels with a positive in ``y_true``; the last problem is micro."""

    def agg(
        p: np.ndarray, n: np.ndarray, auc: np.ndarray, ap: np.ndarray, *, resamples: bool
    ) -> Metrics:
        return {
            "roc_auc_macro": _macro(auc[:-1], present, resamples=resamples),
            "pr_auc_macro": _macro(ap[:-1], present, resamples=resamples),
            "roc_auc_micro": auc[-1],
            "pr_auc_micro": ap[-1],
        }

    return agg


# --------------------------------------------------------------------------------------
# Per-example values of the decomposable metrics
# --------------------------------------------------------------------------------------


def _single_label_values(y: np.ndarray, proba: np.ndarray) -> dict[str, np.ndarray]:
    n, k = proba.shape
    eps = np.finfo(np.float64).eps
    p_true = np.clip(proba, eps, 1 - eps)[np.arange(n), y]
    # Two classes: the positive class's squared error; more: summed over classes (sklearn).
    brier = (proba[:, 1] - y) ** 2 if k == 2 else ((proba - np.eye(k)[y]) ** 2).sum(1)
    checked = proba[:, 1] if k == 2 else proba
    if checked.min() < 0 or checked.max() > 1:  # sklearn refuses these: NaN, as the point value
        brier = np.full(n, np.nan)
    return {"log_loss": -np.log(p_true), "brier": brier}


def _multilabel_values(y: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    yb, pb = y == 1, pred == 1
    tp = (yb & pb).sum(1)
    t, p = yb.sum(1), pb.sum(1)
    lrap, coverage = ranking_per_example(y, proba)
    return {
        "subset_accuracy": (yb == pb).all(1).astype(np.float64),
        "hamming_loss": (yb != pb).mean(1),
        "jaccard_samples": _div0(tp, t + p - tp),
        "precision_samples": _div0(tp, p),
        "recall_samples": _div0(tp, t),
        "f1_samples": _div0(2 * tp, t + p),
        "lrap": lrap,
        "coverage_error": coverage,
    }


# --------------------------------------------------------------------------------------
# The engine: all components, evaluated on blocks of weights
# --------------------------------------------------------------------------------------


class _Engine:
    """Every metric of one model's predictions, for any non-negative example weights."""

    def __init__(
        self,
        task: str,
        y_true: np.ndarray,
        proba: np.ndarray,
        *,
        threshold: float | Sequence[float] | np.ndarray | None = None,
        wanted: set[str] | None = None,
    ) -> None:
        self.n, k = proba.shape
        pred = decide(proba, task, threshold=threshold)
        y = y_true.astype(np.int64)
        comps: list[_Component] = []
        if task == "multilabel":
            comps.append(_MultilabelCounts(y, pred))
            comps.append(_Means(_multilabel_values(y, proba, pred)))
            if wanted is None or wanted & {
                "roc_auc_macro",
                "pr_auc_macro",
                "roc_auc_micro",
                "pr_auc_micro",
            }:
                problems = [_RankProblem(proba[:, j], y[:, j]) for j in range(k)]
                problems.append(_RankProblem(proba, y))
                comps.append(
                    _Rank(
                        problems,
                        _agg_multilabel(y.sum(axis=0) > 0),
                        ("roc_auc_macro", "pr_auc_macro", "roc_auc_micro", "pr_auc_micro"),
                    )
                )
        else:
            comps.append(_SingleCounts(y, pred, k))
            comps.append(_Means(_single_label_values(y, proba)))
            comps.append(_ECE(y, proba))
            rank_names = ("roc_auc", "roc_auc_weighted", "pr_auc")
            if wanted is None or wanted & set(rank_names):
                if k == 2:
                    comps.append(
                        _Rank([_RankProblem(proba[:, 1], y == 1)], _agg_binary, rank_names)
                    )
                else:
                    probs = bool(np.allclose(1, proba.sum(axis=1)))
                    problems = [_RankProblem(proba[:, c], y == c) for c in range(k)]
                    present = np.bincount(y, minlength=k)[:k] > 0
                    comps.append(_Rank(problems, _agg_multiclass(probs, present), rank_names))
        if wanted is not None:
            comps = [c for c in comps if wanted & set(c.names) or c is comps[0]]
        self.components = comps
        self.offsets = np.cumsum([0] + [c.design.shape[0] for c in comps])
        self.design = sparse.vstack([c.design for c in comps]).tocsr()

    def evaluate(self, w_t: np.ndarray, *, resamples: bool = True) -> tuple[Metrics, PerLabel]:
        """Metrics for the weights ``w_t`` ``(n, B)`` (column ``b`` = resample ``b``).

        Args:
            w_t: Non-negative example weights, one column per resample.
            resamples: The columns are independent bootstrap resamples, so a label of a
                macro average undefined in one may take its value from another
                (:func:`_macro`); ``False`` evaluates each column on its own.
        """
        s = np.asarray(self.design @ w_t)
        metrics: Metrics = {}
        per_label: PerLabel = {}
        for i, comp in enumerate(self.components):
            m, pl = comp.evaluate(s[self.offsets[i] : self.offsets[i + 1]], resamples=resamples)
            metrics.update(m)
            per_label.update(pl)
        return metrics, per_label

    def point(self) -> tuple[Metrics, PerLabel]:
        """Metrics with every weight 1 (equal to sklearn's up to rounding)."""
        return self.evaluate(np.ones((self.n, 1)), resamples=False)

    def jackknife(self, *, generic: bool = False) -> tuple[Metrics, PerLabel]:
        """Leave-one-out values ``(n,)`` of every metric (and ``(k, n)`` per label).

        Args:
            generic: Use the column-update path for every component (slow for the
                ranking metrics; the reference the closed forms are tested against).
        """
        metrics: Metrics = {}
        per_label: PerLabel = {}
        rest = []
        for i, comp in enumerate(self.components):
            closed = None if generic else comp.jackknife()
            if closed is None:
                rest.append(i)
            else:
                metrics.update(closed[0])
                per_label.update(closed[1])
        if rest:
            rows = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in rest])
            sub = self.design[rows]
            full = np.asarray(sub.sum(axis=1))  # (R, 1): sums with every weight 1
            cols = sub.tocsc()
            local = np.cumsum([0] + [self.offsets[i + 1] - self.offsets[i] for i in rest])
            chunk = max(1, min(_JACK_CHUNK, 4_000_000 // max(1, len(rows))))
            parts_m: list[Metrics] = []
            parts_l: list[PerLabel] = []
            for lo in range(0, self.n, chunk):
                s = full - cols[:, lo : lo + chunk].toarray()
                m: Metrics = {}
                pl: PerLabel = {}
                for j, i in enumerate(rest):
                    # Leave-one-out columns are not independent draws: resamples=False.
                    mm, ll = self.components[i].evaluate(s[local[j] : local[j + 1]])
                    m.update(mm)
                    pl.update(ll)
                parts_m.append(m)
                parts_l.append(pl)
            for key in parts_m[0]:
                metrics[key] = np.concatenate([pm[key] for pm in parts_m])
            for key in parts_l[0]:
                per_label[key] = np.concatenate([pl[key] for pl in parts_l], axis=1)
        return metrics, per_label


def _resample_weights(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """``(n, m)`` counts: column ``b`` = how often each example is drawn in resample ``b``."""
    idx = rng.integers(0, n, size=(m, n))
    flat = (idx * m + np.arange(m)[:, None]).ravel()
    return np.bincount(flat, minlength=n * m).reshape(n, m).astype(np.float64)


def _weight_blocks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield the weight blocks of the documented random stream."""
    rng = np.random.default_rng(seed)
    for lo in range(0, n_resamples, BLOCK):
        yield _resample_weights(rng, n, min(BLOCK, n_resamples - lo))


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


def _interval(
    values: np.ndarray,
    confidence: float,
    method: str,
    theta_hat: float,
    jack: np.ndarray | None,
    value: float,
) -> tuple[float, float, str | None]:
    """``(low, high, fallback)`` from resampled values (NaNs ignored).

    The interval always contains ``value``, the reported point estimate (issue 12):

    1. BCa, where asked for, unless it breaks down — every resample on one side of the
       estimate, a bias correction ``|z0| ≥ z_{1−α/2}`` (with ``a = 0`` the endpoints are
       the quantiles at ``Φ(2·z0 ± z_{1−α/2})``, so one of them crosses the estimate), an
       acceleration past the formula's range — or its interval excludes the estimate;
       then the percentile interval.
    2. The percentile interval, unless fewer than ``α/2`` of the resamples lie on one
       side of the estimate; then it is widened to reach the estimate.

    Each step away from the requested method is described in ``fallback`` (``None``
    when there was none), which reaches ``metrics.json``. An undefined estimate gets no
    interval; a defined one that no resample could compute gets NaN bounds and a note.
    Bounds within rounding of the estimate are set to it without a note: they come from
    the same formula summed in another order.
    """
    if not math.isfinite(value):
        return float("nan"), float("nan"), None
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return float("nan"), float("nan"), "undefined in every resample: no interval"
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
                return lo, hi, None
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
    return lo, hi, "; ".join(notes) or None


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
    method: str = "percentile",
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
    engine = _Engine(task, y_true, proba, threshold=threshold)
    samples_m: list[Metrics] = []
    samples_l: list[PerLabel] = []
    with progress_bar(
        total=n_resamples, desc="bootstrap", unit="resample", enabled=progress, leave=False
    ) as bar:
        for w in _weight_blocks(engine.n, n_resamples, seed):
            m, pl = engine.evaluate(w)
            samples_m.append(m)
            samples_l.append(pl)
            bar.update(w.shape[1])
    boot = {key: np.concatenate([s[key] for s in samples_m]) for key in samples_m[0]}
    boot_l = {key: np.concatenate([s[key] for s in samples_l], axis=1) for key in samples_l[0]}

    theta_m, theta_l = engine.point()
    jack_m: Metrics = {}
    jack_l: PerLabel = {}
    if method == "bca":
        jack_m, jack_l = engine.jackknife()

    point = classification_metrics(task, y_true, proba, threshold=threshold)
    y_pred = decide(proba, task, threshold=threshold)
    point_l = per_label_metrics(task, y_true.astype(np.int64), y_pred, names)

    fallbacks: dict[str, str] = {}
    metrics: dict[str, Interval] = {}
    undefined: dict[str, int] = {}
    for name, value in point.items():
        vals = boot[name]
        theta = float(theta_m[name][0])
        lo, hi, why = _interval(vals, confidence, method, theta, jack_m.get(name), value)
        metrics[name] = Interval(float(value), lo, hi, why)
        if why:
            fallbacks[name] = why
        if (nan := int(np.isnan(vals).sum())) > 0:
            undefined[name] = nan
    per_label: dict[str, dict[str, Interval | int]] = {}
    for i, label in enumerate(names):
        entry: dict[str, Interval | int] = {}
        for key in ("precision", "recall", "f1"):
            jack = jack_l[key][i] if jack_l else None
            value = float(point_l[label][key])
            theta = float(theta_l[key][i, 0])
            lo, hi, why = _interval(boot_l[key][i], confidence, method, theta, jack, value)
            entry[key] = Interval(value, lo, hi, why)
            if why:
                fallbacks[f"{label}/{key}"] = why
        entry["support"] = int(point_l[label]["support"])
        per_label[label] = entry
    if undefined:
        logger.info(
            "Bootstrap: some metrics were undefined in some resamples and were left out of "
            "their intervals: %s.",
            ", ".join(f"{k} ({v}/{n_resamples})" for k, v in undefined.items()),
        )
    if fallbacks:
        logger.warning(
            "Bootstrap: %d interval(s) are not plain %s intervals (noted in metrics.json "
            "under 'fallback'): %s.",
            len(fallbacks),
            method,
            "; ".join(f"{k}: {v}" for k, v in fallbacks.items()),
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
    method: str = "percentile",
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
        _Engine(task, y_true, pr, threshold=t, wanted={metric})
        for pr, t in ((proba_a, threshold_a), (proba_b, threshold_b))
    ]
    draws: list[list[np.ndarray]] = [[], []]
    for w in _weight_blocks(len(y_true), n_resamples, seed):
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
        lo, hi, why = _interval(vals, confidence, method, theta, jack, float(value))
        if why:
            logger.warning("Paired bootstrap on %s: %s.", metric, why)
        return Interval(float(value), lo, hi, why)

    stat = p_mc = None
    if task != "multilabel":
        y = y_true.astype(np.int64)
        stat, p_mc = mcnemar(
            decide(proba_a, task, threshold=threshold_a) == y,
            decide(proba_b, task, threshold=threshold_b) == y,
        )
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
    )
