"""Every metric as a function of example weights, so that many resamples cost one product.

A resample is a weight vector ``w`` over the ``n`` examples (``w_i`` = how many times
example ``i`` was drawn); every metric of
:func:`textclf.evaluation.metrics.classification_metrics` is written as a function of a
few *linear* statistics ``D @ w``, where ``D`` is a sparse ``(R, n)`` design matrix built
once from the labels, predictions and scores. Each component here owns some rows of ``D``
and turns their weighted sums into metrics:

* confusion counts (true, predicted and true-positive count per class or label) give
  accuracy, balanced accuracy, MCC, Cohen's kappa and precision / recall / F1 of every
  averaging, per class and per label (:class:`SingleCounts`, :class:`MultilabelCounts`);
* per-example values (log loss, Brier, subset accuracy, Hamming loss, sample-wise
  Jaccard / precision / recall / F1, LRAP, coverage error) give weighted means
  (:class:`Means`);
* signed calibration gaps summed per confidence bin give the ECE (:class:`ECE`);
* for ROC AUC and average precision, the examples are ordered by score once and ``D``
  sums the weights of the positives at each distinct positive score, of the negatives
  tied with them and of the negatives between them; cumulative sums of those rows are the
  ROC / precision-recall curve of every resample at once (weighted Mann–Whitney statistic
  with half credit for ties; sklearn's step-wise average precision with tied scores
  grouped) (:class:`RankProblem`, :class:`Rank`).

The same formulas with ``w = 1`` are the point estimate, and with integer ``w`` equal
scikit-learn's metrics with ``sample_weight`` (tested). For the BCa acceleration,
confusion and per-example statistics are updated for each left-out example by
subtracting one column of ``D`` (:mod:`textclf.evaluation.resampling`); ROC AUC and
average precision have closed-form leave-one-out updates (prefix sums over the score
order, :meth:`RankProblem.jackknife`).

Each resample computes the *same* statistic as the point estimate (issue 12): a macro
average runs over the point estimate's label set, and a label of that set undefined in
one resample borrows its value from another (:func:`borrow_undefined`); a precision or
recall that is 0 by ``zero_division`` only because a resample lacks the label is
undefined there, not 0.

Example:
    >>> y, pred = np.array([0, 1, 1]), np.array([0, 1, 0])
    >>> counts = SingleCounts(y, pred, k=2)
    >>> metrics, _ = counts.evaluate(np.asarray(counts.design @ np.ones((3, 1))))
    >>> round(float(metrics["accuracy"][0]), 3)
    0.667
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse

from textclf.evaluation.metrics import (
    ECE_BINS,
    ece_bin_index,
    ranking_per_example,
    sample_wise_scores,
)

#: Above this many prefix-sum entries, the closed-form jackknife of a micro-averaged
#: average precision falls back to the generic path (only with very many labels per example).
_MAX_PREFIX_ENTRIES = 30_000_000

Metrics = dict[str, np.ndarray]  # metric name -> (B,) values
PerLabel = dict[str, np.ndarray]  # "precision" | "recall" | "f1" -> (k, B) values
#: ``aggregate(P, N, AUC, AP, resamples=…)`` of ranking problems: ``(problems, B)`` in.
Aggregate = Callable[..., Metrics]


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


def borrow_undefined(values: np.ndarray) -> np.ndarray:
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
    resample takes its value from another (:func:`borrow_undefined`); for the point
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
        v = borrow_undefined(v)
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
        filled = borrow_undefined(value) if resamples else value
        # Weighted by the resample's support: a label absent from it weighs nothing, and
        # one undefined despite its support (left NaN) leaves the average undefined.
        out[f"{name}_weighted"] = _div0(np.where(t > 0, t * filled, 0.0).sum(0), t.sum(0))
    return out, per


# --------------------------------------------------------------------------------------
# Components: each owns some rows of D and turns them into metrics
# --------------------------------------------------------------------------------------


class Component:
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


class SingleCounts(Component):
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


class MultilabelCounts(Component):
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


class Means(Component):
    """Weighted means of per-example values: ``Σ w v / Σ w``."""

    def __init__(self, values: dict[str, np.ndarray]) -> None:
        self.names = tuple(values)
        n = len(next(iter(values.values())))
        dense = np.vstack([np.ones(n), *values.values()])
        self.design = sparse.csr_matrix(dense)

    def evaluate(self, s: np.ndarray, *, resamples: bool = False) -> tuple[Metrics, PerLabel]:
        return {m: _divnan(s[i + 1], s[0]) for i, m in enumerate(self.names)}, {}


class ECE(Component):
    """Expected calibration error: ``Σ_bins |Σ w (correct − conf)| / Σ w``."""

    names = ("ece",)

    def __init__(self, y: np.ndarray, proba: np.ndarray, n_bins: int = ECE_BINS) -> None:
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


class RankProblem:
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


class Rank(Component):
    """ROC AUC and average precision of several ranking problems, then averaged."""

    def __init__(
        self,
        problems: list[RankProblem],
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


def agg_binary(
    p: np.ndarray, n: np.ndarray, auc: np.ndarray, ap: np.ndarray, *, resamples: bool
) -> Metrics:
    # One ranking problem, no average: a resample without a positive leaves it undefined.
    return {"roc_auc": auc[0], "roc_auc_weighted": auc[0], "pr_auc": ap[0]}


def agg_multiclass(probabilities: bool, present: np.ndarray) -> Aggregate:
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


def agg_multilabel(present: np.ndarray) -> Aggregate:
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


def single_label_values(y: np.ndarray, proba: np.ndarray) -> dict[str, np.ndarray]:
    n, k = proba.shape
    eps = np.finfo(np.float64).eps
    p_true = np.clip(proba, eps, 1 - eps)[np.arange(n), y]
    # Two classes: the positive class's squared error; more: summed over classes (sklearn).
    brier = (proba[:, 1] - y) ** 2 if k == 2 else ((proba - np.eye(k)[y]) ** 2).sum(1)
    checked = proba[:, 1] if k == 2 else proba
    if checked.min() < 0 or checked.max() > 1:  # sklearn refuses these: NaN, as the point value
        brier = np.full(n, np.nan)
    return {"log_loss": -np.log(p_true), "brier": brier}


def multilabel_values(y: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    yb, pb = y == 1, pred == 1
    lrap, coverage = ranking_per_example(y, proba)
    return {
        "subset_accuracy": (yb == pb).all(1).astype(np.float64),
        "hamming_loss": (yb != pb).mean(1),
        **sample_wise_scores(y, pred),
        "lrap": lrap,
        "coverage_error": coverage,
    }
