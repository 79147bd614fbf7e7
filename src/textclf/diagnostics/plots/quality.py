"""Quality per label and ranking curves: F1 per label with its interval, ROC and
precision-recall curves.

Example:
    >>> fig = per_label_f1_figure(["a", "b"], np.array([0.9, 0.5]), support=np.array([10, 3]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn import metrics as skm

from textclf.diagnostics.plots import style
from textclf.diagnostics.plots.inputs import class_ids, indicator

#: Most points drawn per curve: enough for a smooth line, fast for 10^5-point curves.
_CURVE_POINTS = 1500


def per_label_f1_figure(
    labels: Sequence[str],
    f1: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    support: np.ndarray | None = None,
    *,
    max_labels: int = 60,
    title: str = "F1 per label",
) -> Figure:
    """Horizontal F1 bars sorted worst first, with confidence intervals and support.

    The figure grows with the number of labels up to ``MAX_HEIGHT``; beyond
    ``max_labels`` labels only the lowest-F1 ones are drawn and the title says so. A dashed
    line marks the unweighted mean (macro F1).

    Args:
        labels: ``k`` label names.
        f1: ``(k,)`` F1 per label.
        lower: ``(k,)`` lower confidence bounds (NaN: none), or ``None``.
        upper: ``(k,)`` upper confidence bounds, or ``None``.
        support: ``(k,)`` true examples per label, shown in the tick labels, or ``None``.
        max_labels: Most bars.
        title: Title.

    Returns:
        The figure: bar ``i`` from the top is the ``i``-th lowest F1.

    Example:
        >>> fig = per_label_f1_figure(["a", "b"], np.array([0.9, 0.5]), support=np.array([10, 3]))
    """
    k = len(labels)
    f = np.asarray(f1, dtype=np.float64)
    if f.shape != (k,):
        raise ValueError(f"f1 must have shape ({k},), got {f.shape}.")
    order = np.lexsort((np.arange(k), np.where(np.isnan(f), np.inf, f)))
    shown = order[:max_labels]
    n = len(shown)
    fig = style.figure(6.8, 0.24 * n + 1.4 if n > 4 else 2.6)
    ax = fig.subplots()
    style.axes(ax, grid="x")
    y = np.arange(n)
    xerr = None
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, float)[shown], np.asarray(upper, float)[shown]
        xerr = np.nan_to_num(np.vstack([f[shown] - lo, hi - f[shown]]).clip(min=0))
    ax.barh(
        y,
        np.nan_to_num(f[shown]),
        xerr=xerr,
        color=style.COLORS["train"],
        height=0.7,
        error_kw={"ecolor": style.COLORS["best"], "elinewidth": 0.9, "capsize": 2},
    )
    sup = None if support is None else np.asarray(support)
    names = [
        style.shorten(labels[i]) + ("" if sup is None else f" (n={int(sup[i]):,})") for i in shown
    ]
    ax.set_yticks(y, names, fontsize=style.FONT["tick"] if n <= 30 else style.FONT["small"])
    ax.set_ylim(max(n, 1) - 0.5, -0.5)  # worst on top, no empty margin
    ax.set_xlim(0, 1.0)
    if np.isfinite(f).any():
        macro = float(np.nanmean(f))
        style.marker_line(ax, macro, "incorrect", linewidth=1, label=f"macro F1 {macro:.3f}")
        style.legend(ax, loc="lower right")
    note = f" (the {n} lowest of {k} labels)" if k > max_labels else ""
    ci = ", bars: confidence interval" if xerr is not None else ""
    style.labels(ax, f"{title}{note}", f"F1{ci}")
    return fig


def _thin(
    x: np.ndarray, y: np.ndarray, max_points: int = _CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a curve (first and last kept) for drawing."""
    if len(x) <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
    return x[idx], y[idx]


def _draw_ranking(
    roc_ax: Axes,
    pr_ax: Axes,
    y: np.ndarray,
    s: np.ndarray,
    name: str,
    *,
    auc: float,
    ap: float,
    **line: Any,
) -> None:
    """Draw the ROC and precision-recall curves of scores ``s`` for the 0/1 truth ``y``.

    Args:
        roc_ax: The ROC panel.
        pr_ax: The precision-recall panel.
        y: ``(n,)`` 0/1 or bool truth.
        s: ``(n,)`` scores.
        name: Legend name; AUC and AP are appended.
        auc: The ROC AUC shown.
        ap: The average precision shown.
        **line: Line properties shared by both curves (colour, width, alpha).
    """
    fpr, tpr, _ = skm.roc_curve(y, s)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    roc_ax.plot(*_thin(fpr, tpr), label=f"{name} (AUC {auc:.3f})", **line)
    pr_ax.plot(
        *_thin(recall, precision), drawstyle="steps-post", label=f"{name} (AP {ap:.3f})", **line
    )


def _interp_precision(y: np.ndarray, s: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Interpolated precision (the best precision at recall ≥ r) on a recall grid."""
    precision, recall, _ = skm.precision_recall_curve(y, s)
    precision, recall = precision[::-1], recall[::-1]  # recall increasing
    best_after = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.clip(np.searchsorted(recall, grid, side="left"), 0, len(recall) - 1)
    return best_after[idx]


def roc_pr_figure(
    y_true: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    task: str,
    max_worst: int = 3,
    title: str = "ROC and precision-recall curves",
) -> Figure:
    """ROC and precision-recall curves, one panel each.

    Binary: one curve for the positive class (``labels[1]``) with its AUC and average
    precision. Multi-class (one-vs-rest) and multi-label: the micro average (every
    example-class pair one decision, all classes), the macro average (mean over classes of
    the per-class AUC / AP, drawn as the mean of the interpolated curves) and the
    ``max_worst`` classes with the lowest AP. Classes without positive or without negative
    examples have no curve; they are skipped and the title names them.

    Args:
        y_true: ``(n,)`` ids (binary, multi-class) or ``(n, k)`` 0/1 rows (multi-label).
        scores: ``(n, k)`` probabilities; for binary also ``(n,)`` positive-class scores.
        labels: ``k`` label names.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        max_worst: Per-class curves drawn (worst AP first).
        title: Figure title.

    Returns:
        The figure: left ROC, right precision-recall; legends carry AUC / AP.

    Raises:
        ValueError: For an unknown task or mismatched shapes.

    Example:
        >>> y = np.array([0, 1, 1, 0]); p = np.array([0.2, 0.8, 0.6, 0.4])
        >>> fig = roc_pr_figure(y, p, ["neg", "pos"], task="binary")
    """
    if task not in ("binary", "multiclass", "multilabel"):
        raise ValueError(f"task must be binary, multiclass or multilabel, not {task!r}.")
    k = len(labels)
    s = np.asarray(scores, dtype=np.float64)
    fig = style.figure(10.0, 4.4)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for ax in (roc_ax, pr_ax):
        style.axes(ax, grid="both")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color=style.COLORS["neutral"], linewidth=1)
    style.labels(roc_ax, "ROC", "false positive rate", "true positive rate")
    style.labels(pr_ax, "Precision-recall", "recall", "precision")
    notes: list[str] = []

    if task == "binary":
        y = class_ids(y_true, max(k, 2), "y_true") == 1
        pos = s[:, 1] if s.ndim == 2 else s
        if len(pos) != len(y):
            raise ValueError(f"scores has {len(pos)} rows but y_true has {len(y)}.")
        if y.all() or not y.any():
            notes.append(
                f"undefined: the split has {'no negative' if y.all() else 'no positive'} examples"
            )
        else:
            _draw_ranking(
                roc_ax,
                pr_ax,
                y,
                pos,
                style.shorten(labels[1] if k > 1 else "positive"),
                auc=skm.roc_auc_score(y, pos),
                ap=skm.average_precision_score(y, pos),
                color=style.COLORS["train"],
                linewidth=1.6,
            )
            pr_ax.axhline(
                y.mean(),
                linestyle=":",
                color=style.COLORS["neutral"],
                linewidth=1,
                label=f"chance (prevalence {y.mean():.3f})",
            )
    else:
        if task == "multiclass":
            ids = class_ids(y_true, k, "y_true")
            y = np.zeros((len(ids), k), dtype=bool)
            y[np.arange(len(ids)), ids] = True
        else:
            y = indicator(y_true, k, "y_true")
        if s.shape != y.shape:
            raise ValueError(f"scores has shape {s.shape} but the labels make {y.shape}.")
        npos = y.sum(axis=0)
        valid = np.flatnonzero((npos > 0) & (npos < len(y)))
        skipped = [labels[j] for j in range(k) if j not in set(valid.tolist())]
        if skipped:
            listed = ", ".join(style.shorten(x, 20) for x in skipped[:5]) + (
                ", …" if len(skipped) > 5 else ""
            )
            notes.append(
                f"{len(skipped)} of {k} skipped, without positive or negative examples: {listed}"
            )
        if len(valid):
            grid = np.linspace(0, 1, 201)
            aucs = np.array([skm.roc_auc_score(y[:, j], s[:, j]) for j in valid])
            aps = np.array([skm.average_precision_score(y[:, j], s[:, j]) for j in valid])
            tprs = []
            precs = []
            for j in valid:
                fpr, tpr, _ = skm.roc_curve(y[:, j], s[:, j])
                tprs.append(np.interp(grid, fpr, tpr))
                precs.append(_interp_precision(y[:, j], s[:, j], grid))
            flat_y, flat_s = y.ravel(), s.ravel()
            _draw_ranking(
                roc_ax,
                pr_ax,
                flat_y,
                flat_s,
                "micro-average",
                auc=skm.roc_auc_score(flat_y, flat_s),
                ap=skm.average_precision_score(flat_y, flat_s),
                color=style.COLORS["train"],
                linewidth=1.8,
            )
            macro_tpr = np.mean(tprs, axis=0)
            macro_tpr[0] = 0.0
            roc_ax.plot(
                grid,
                macro_tpr,
                color=style.COLORS["valid"],
                linewidth=1.8,
                label=f"macro-average (AUC {aucs.mean():.3f})",
            )
            pr_ax.plot(
                grid,
                np.mean(precs, axis=0),
                color=style.COLORS["valid"],
                linewidth=1.8,
                label=f"macro-average (AP {aps.mean():.3f})",
            )
            worst = np.argsort(aps, kind="stable")[: max(0, min(max_worst, len(valid)))]
            colors = style.categorical_colors(len(worst) + 2)[2:] if len(worst) else []
            for rank, w in enumerate(worst):
                col = int(valid[w])
                _draw_ranking(
                    roc_ax,
                    pr_ax,
                    y[:, col],
                    s[:, col],
                    style.shorten(labels[col], 22),
                    auc=aucs[w],
                    ap=aps[w],
                    color=colors[rank],
                    linewidth=1.0,
                    alpha=0.9,
                )
            if worst.size:
                notes.append(f"thin lines: the {len(worst)} classes with the lowest AP")
    for ax in (roc_ax, pr_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(
                fontsize=style.FONT["small"],
                frameon=False,
                loc="lower right" if ax is roc_ax else "lower left",
            )
    fig.suptitle(title + (f"\n({'; '.join(notes)})" if notes else ""), fontsize=style.FONT["title"])
    return fig
