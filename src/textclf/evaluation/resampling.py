"""The resampling engine: every metric of one model's predictions on blocks of resamples.

A resample is a weight vector over the examples (how often each was drawn). The engine
stacks the design rows of the metric components of
:mod:`textclf.evaluation.weighted_metrics`, so ``B`` resamples cost one
sparse-times-dense product ``D @ W`` (``W`` is ``(n, B)``) plus arithmetic on its rows,
in blocks of :data:`BLOCK` resamples to bound memory. The BCa acceleration needs the
``n`` leave-one-out (jackknife) values: components with a closed form give them
directly, the others are evaluated with one column of ``D`` subtracted at a time, so the
``n`` jackknife values cost a fraction of the resampling instead of ``n`` full
re-evaluations.

Random stream: ``numpy.random.default_rng(seed)`` draws the indices of blocks of
:data:`BLOCK` resamples, ``rng.integers(0, n, size=(BLOCK, n))``, so resample ``b`` is
the same whatever ``n_resamples`` is, and two models compared with the same seed see
the same resamples.

Example:
    >>> y = np.array([0, 1, 1, 0])
    >>> p = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    >>> float(Engine("binary", y, p).point()[0]["accuracy"][0])
    0.75
    >>> [w.shape for w in weight_blocks(4, 120, seed=0)]
    [(4, 50), (4, 50), (4, 20)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from scipy import sparse

from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import ranked_labels
from textclf.evaluation.weighted_metrics import (
    ECE,
    Component,
    Means,
    Metrics,
    MultilabelCounts,
    PerLabel,
    Rank,
    RankProblem,
    SingleCounts,
    agg_binary,
    agg_multiclass,
    agg_multilabel,
    multilabel_values,
    single_label_values,
)

#: Resamples drawn and evaluated together; it also fixes the random stream (see above).
BLOCK = 50

#: Jackknife replicates evaluated together through the generic (column-update) path.
_JACK_CHUNK = 2048


class Engine:
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
        comps: list[Component] = []
        if task == "multilabel":
            comps.append(MultilabelCounts(y, pred))
            comps.append(Means(multilabel_values(y, proba, pred)))
            if wanted is None or wanted & {
                "roc_auc_macro",
                "pr_auc_macro",
                "roc_auc_micro",
                "pr_auc_micro",
            }:
                problems = [RankProblem(proba[:, j], y[:, j]) for j in range(k)]
                problems.append(RankProblem(proba, y))
                comps.append(
                    Rank(
                        problems,
                        agg_multilabel(ranked_labels(y)),
                        ("roc_auc_macro", "pr_auc_macro", "roc_auc_micro", "pr_auc_micro"),
                    )
                )
        else:
            comps.append(SingleCounts(y, pred, k))
            comps.append(Means(single_label_values(y, proba)))
            comps.append(ECE(y, proba))
            rank_names = ("roc_auc", "roc_auc_weighted", "pr_auc")
            if wanted is None or wanted & set(rank_names):
                if k == 2:
                    comps.append(Rank([RankProblem(proba[:, 1], y == 1)], agg_binary, rank_names))
                else:
                    probs = bool(np.allclose(1, proba.sum(axis=1)))
                    problems = [RankProblem(proba[:, c], y == c) for c in range(k)]
                    present = np.bincount(y, minlength=k)[:k] > 0
                    comps.append(Rank(problems, agg_multiclass(probs, present), rank_names))
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
                (:func:`~textclf.evaluation.weighted_metrics.borrow_undefined`); ``False``
                evaluates each column on its own.
        """
        s = np.asarray(self.design @ w_t)
        return _merge(
            comp.evaluate(s[self.offsets[i] : self.offsets[i + 1]], resamples=resamples)
            for i, comp in enumerate(self.components)
        )

    def point(self) -> tuple[Metrics, PerLabel]:
        """Metrics with every weight 1 (equal to sklearn's up to rounding)."""
        return self.evaluate(np.ones((self.n, 1)), resamples=False)

    def jackknife(self, *, generic: bool = False) -> tuple[Metrics, PerLabel]:
        """Leave-one-out values ``(n,)`` of every metric (and ``(k, n)`` per label).

        Args:
            generic: Use the column-update path for every component (slow for the
                ranking metrics; the reference the closed forms are tested against).
        """
        closed = [None if generic else comp.jackknife() for comp in self.components]
        metrics, per_label = _merge(c for c in closed if c is not None)
        rest = [i for i, c in enumerate(closed) if c is None]
        if rest:
            rows = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in rest])
            sub = self.design[rows]
            full = np.asarray(sub.sum(axis=1))  # (R, 1): sums with every weight 1
            cols = sub.tocsc()
            local = np.cumsum([0] + [self.offsets[i + 1] - self.offsets[i] for i in rest])
            chunk = max(1, min(_JACK_CHUNK, 4_000_000 // max(1, len(rows))))
            blocks = []
            for lo in range(0, self.n, chunk):
                s = full - cols[:, lo : lo + chunk].toarray()
                # Leave-one-out columns are not independent draws: resamples=False.
                blocks.append(
                    _merge(
                        self.components[i].evaluate(s[local[j] : local[j + 1]])
                        for j, i in enumerate(rest)
                    )
                )
            m, pl = concatenate(blocks)
            metrics.update(m)
            per_label.update(pl)
        return metrics, per_label


def _merge(parts: Iterable[tuple[Metrics, PerLabel]]) -> tuple[Metrics, PerLabel]:
    """The metrics of several components (each names its own) as one pair of dicts."""
    metrics: Metrics = {}
    per_label: PerLabel = {}
    for m, pl in parts:
        metrics.update(m)
        per_label.update(pl)
    return metrics, per_label


def concatenate(blocks: Sequence[tuple[Metrics, PerLabel]]) -> tuple[Metrics, PerLabel]:
    """Join the metrics of consecutive blocks of columns (resamples or left-out examples).

    Args:
        blocks: ``(metrics, per_label)`` of each block, with the same keys: ``(B_i,)``
            values per metric and ``(k, B_i)`` per label.

    Returns:
        ``(ΣB_i,)`` values per metric and ``(k, ΣB_i)`` per label, blocks in order.
    """
    first_m, first_l = blocks[0]
    return (
        {key: np.concatenate([m[key] for m, _ in blocks]) for key in first_m},
        {key: np.concatenate([pl[key] for _, pl in blocks], axis=1) for key in first_l},
    )


def _resample_weights(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """``(n, m)`` counts: column ``b`` = how often each example is drawn in resample ``b``."""
    idx = rng.integers(0, n, size=(m, n))
    flat = (idx * m + np.arange(m)[:, None]).ravel()
    return np.bincount(flat, minlength=n * m).reshape(n, m).astype(np.float64)


def weight_blocks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield the weight blocks of the documented random stream."""
    rng = np.random.default_rng(seed)
    for lo in range(0, n_resamples, BLOCK):
        yield _resample_weights(rng, n, min(BLOCK, n_resamples - lo))
