"""Diagnostic figures: arrays in, :class:`matplotlib.figure.Figure` out.

Every function builds a ``Figure`` directly, never through ``pyplot``: no global figure
registry, no backend selection, nothing to close, so the functions are safe in servers and
threads. A figure is freed like any object once the last reference is dropped (the next
garbage collection breaks its internal reference cycles). Styling is passed to each artist
rather than set in ``rcParams``, which are process-global.

Conventions: single-label ``y_true``/``y_pred`` are ``(n,)`` int class ids; multi-label
ones are ``(n, k)`` 0/1 matrices; ``labels`` are the ``k`` label names in id / column order.
Long label names are shortened with an ellipsis in ticks and legends.

Example:
    >>> import numpy as np
    >>> fig = confusion_matrix_figure(np.array([0, 1, 1]), np.array([0, 1, 0]), ["no", "yes"])
    >>> png = figure_png(fig)
    >>> png[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn import metrics as skm

from textclf.atomic import atomic_path
from textclf.diagnostics.curves import LearningCurves
from textclf.evaluation.calibration import expected_calibration_error
from textclf.evaluation.metrics import ECE_BINS, ece_bin_index

# ---------------------------------------------------------------------------------------
# Look: one place for sizes and colours.
# ---------------------------------------------------------------------------------------
#: Resolution of saved PNGs: sharp on screens, small files (~50-150 kB per figure).
DPI = 110
FONT = {"title": 10.5, "label": 9.0, "tick": 8.0, "small": 7.0, "legend": 8.0}
#: Characters kept of a label name in ticks and legends (longer ones end with "…").
LABEL_WIDTH = 28
#: Okabe & Ito's colour-blind-safe palette, by role.
COLORS = {
    "train": "#0072B2",
    "valid": "#E69F00",
    "metric": "#009E73",
    "correct": "#009E73",
    "incorrect": "#D55E00",
    "positive": "#D55E00",
    "negative": "#0072B2",
    "best": "#444444",
    "neutral": "#BBBBBB",
    "grid": "#E5E5E5",
}
#: Colours of the splits in split comparisons, in order.
SPLIT_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_SEQUENTIAL = "Blues"
#: Tallest figure in inches: taller ones do not fit a report page or a screen.
MAX_HEIGHT = 16.0
#: Matrices up to this size get a number in every cell; beyond it the text is unreadable.
ANNOTATE_MAX = 25
#: Most points drawn per curve: enough for a smooth line, fast for 10^5-point curves.
_CURVE_POINTS = 1500


def shorten(text: object, width: int = LABEL_WIDTH) -> str:
    """``text`` as a string of at most ``width`` characters, ending in "…" when cut.

    Example:
        >>> shorten("a very long label name indeed", 10)
        'a very lo…'
    """
    s = str(text)
    return s if len(s) <= width else s[: max(width - 1, 0)] + "…"


def _categorical_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours: tab20's darker shades first, then its lighter ones."""
    tab20 = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return [tab20(order[i % 20]) for i in range(n)]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, min(height, MAX_HEIGHT)), dpi=DPI, layout="constrained")


def _style(ax: Axes, *, grid: Literal["x", "y", "both"] | None = "y") -> None:
    """Light frame, readable ticks, an optional grid behind the data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT["tick"])
    if grid:
        ax.grid(axis=grid, color=COLORS["grid"], linewidth=0.8)
        ax.set_axisbelow(True)


def _labels(ax: Axes, title: str | None = None, xlabel: str = "", ylabel: str = "") -> None:
    if title:
        ax.set_title(title, fontsize=FONT["title"])
    ax.set_xlabel(xlabel, fontsize=FONT["label"])
    ax.set_ylabel(ylabel, fontsize=FONT["label"])


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:  # an empty legend only warns
        ax.legend(fontsize=FONT["legend"], frameon=False, **kwargs)


def _ids(y: np.ndarray, k: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be (n,) class ids, got shape {arr.shape}.")
    arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"{name} holds ids outside 0..{k - 1} for {k} labels.")
    return arr


def _indicator(y: np.ndarray, k: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 2 or arr.shape[1] != k:
        raise ValueError(f"{name} must be an (n, {k}) 0/1 matrix, got shape {arr.shape}.")
    return arr.astype(bool)


def _annotate_cells(
    ax: Axes, values: np.ndarray, texts: np.ndarray, *, vmax: float, fontsize: float
) -> None:
    """Write ``texts`` in the cells of an image, white on dark cells."""
    for (i, j), text in np.ndenumerate(texts):
        if not text:
            continue
        v = values[i, j]
        dark = np.isfinite(v) and vmax > 0 and v > 0.55 * vmax
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if dark else "#222222",
        )


def _cell_font(n: int) -> float:
    return 8.0 if n <= 10 else 6.5 if n <= 18 else 5.5


def _matrix_ticks(ax: Axes, names: Sequence[str], *, x: bool = True, y: bool = True) -> None:
    n = len(names)
    short = [shorten(s) for s in names]
    size = FONT["tick"] if n <= 15 else FONT["small"]
    if x:
        rotate = n > 4 or max((len(s) for s in short), default=0) > 8
        ax.set_xticks(
            range(n),
            short,
            fontsize=size,
            rotation=45 if rotate else 0,
            ha="right" if rotate else "center",
            rotation_mode="anchor",
        )
    else:
        ax.set_xticks(range(n), [])
    if y:
        ax.set_yticks(range(n), short, fontsize=size)
    else:
        ax.set_yticks(range(n), [])


# ---------------------------------------------------------------------------------------
# Confusion
# ---------------------------------------------------------------------------------------
def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts: row = true class, column = predicted class.

    Example:
        >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    yt, yp = _ids(y_true, k, "y_true"), _ids(y_pred, k, "y_pred")
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} rows but y_pred has {len(yp)}.")
    return np.bincount(yt * k + yp, minlength=k * k).reshape(k, k)


def most_confused(cm: np.ndarray, max_classes: int) -> np.ndarray:
    """Ids of the ``max_classes`` classes with the most off-diagonal mass, most first.

    A class's mass counts both its examples predicted as another class and other classes'
    examples predicted as it; ties go to the class with more examples.

    Args:
        cm: ``(k, k)`` confusion counts.
        max_classes: How many to keep.

    Returns:
        ``(min(k, max_classes),)`` class ids.
    """
    off = cm.astype(np.int64).copy()
    np.fill_diagonal(off, 0)
    mass = off.sum(axis=0) + off.sum(axis=1)
    order = np.lexsort((np.arange(len(cm)), -cm.sum(axis=1), -mass))
    return order[:max_classes]


def confusion_matrix_figure(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    *,
    normalize: bool = False,
    max_classes: int = 25,
    title: str = "Confusion matrix",
) -> Figure:
    """Confusion matrix of a single-label task, as counts or row-normalised shares.

    With more than ``max_classes`` classes only those most involved in confusions are
    shown (see :func:`most_confused`), ordered by that involvement, and the title says so;
    normalised rows stay shares of *all* the class's examples, so a row of the subset can
    sum to less than 1.

    Args:
        y_true: ``(n,)`` true class ids.
        y_pred: ``(n,)`` predicted class ids.
        labels: ``k`` class names.
        normalize: Divide each row by its class's number of examples (recall on the diagonal).
        max_classes: Most classes shown.
        title: Title (the subset note is appended).

    Returns:
        The figure; its image holds the matrix shown (rows true, columns predicted).

    Example:
        >>> fig = confusion_matrix_figure(np.array([0, 1]), np.array([1, 1]), ["a", "b"])
    """
    k = len(labels)
    cm = confusion_counts(y_true, y_pred, k)
    shown = np.arange(k) if k <= max_classes else most_confused(cm, max_classes)
    note = f" ({len(shown)} of {k} classes, those most confused)" if k > max_classes else ""
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        full = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    else:
        full = cm.astype(np.float64)
    data = full[np.ix_(shown, shown)]
    n = len(shown)
    side = float(np.clip(0.34 * n + 2.6, 3.6, 12.0))
    fig = _figure(side + 1.0, side)
    ax = fig.subplots()
    vmax = 1.0 if normalize else max(float(data.max()), 1.0)
    im = ax.imshow(data, cmap=_SEQUENTIAL, vmin=0, vmax=vmax, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.ax.tick_params(labelsize=FONT["small"])
    if n <= ANNOTATE_MAX:
        fmt = (lambda v: f"{v:.2f}") if normalize else (lambda v: f"{int(v)}")
        texts = np.vectorize(lambda v: fmt(v) if v else "", otypes=[object])(data)
        _annotate_cells(ax, data, texts, vmax=vmax, fontsize=_cell_font(n))
    names = [labels[i] for i in shown.tolist()]
    _matrix_ticks(ax, names)
    what = " (share of each true class)" if normalize else ""
    _labels(ax, f"{title}{note}{what}", "Predicted", "True")
    return fig


def multilabel_confusion_figure(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    *,
    max_labels: int = 20,
    title: str = "Per-label confusion",
) -> Figure:
    """One 2x2 confusion matrix per label (``TN FP / FN TP``), as small multiples.

    Cells hold counts; colours are row shares (specificity and recall), so rare labels
    stay readable. With more than ``max_labels`` labels the ones with the most errors
    (FP + FN) are shown and the title says so.

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        y_pred: ``(n, k)`` 0/1 predictions.
        labels: ``k`` label names.
        max_labels: Most panels.
        title: Figure title.

    Returns:
        The figure; panel ``j`` shows ``[[TN, FP], [FN, TP]]`` of the ``j``-th label shown.

    Example:
        >>> fig = multilabel_confusion_figure(np.eye(3), np.eye(3), ["a", "b", "c"])
    """
    k = len(labels)
    yt, yp = _indicator(y_true, k, "y_true"), _indicator(y_pred, k, "y_pred")
    tp = (yt & yp).sum(axis=0)
    fp = (~yt & yp).sum(axis=0)
    fn = (yt & ~yp).sum(axis=0)
    tn = (~yt & ~yp).sum(axis=0)
    errors = fp + fn
    shown = (
        np.arange(k)
        if k <= max_labels
        else np.lexsort((np.arange(k), -yt.sum(axis=0), -errors))[:max_labels]
    )
    n = len(shown)
    ncols = min(5, n)
    nrows = math.ceil(n / ncols) if n else 1
    fig = _figure(1.9 * max(ncols, 2) + 0.4, 1.95 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, max(ncols, 1), squeeze=False)).ravel()
    cmap = colormaps[_SEQUENTIAL]
    for ax, j in zip(axes, shown, strict=False):
        counts = np.array([[tn[j], fp[j]], [fn[j], tp[j]]])
        rows = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, rows, out=np.zeros((2, 2)), where=rows > 0)
        ax.imshow(share, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        names = np.array([["TN", "FP"], ["FN", "TP"]])
        texts = np.array(
            [[f"{names[a, b]}\n{counts[a, b]:,}" for b in range(2)] for a in range(2)],
            dtype=object,
        )
        _annotate_cells(ax, share, texts, vmax=1.0, fontsize=FONT["small"])
        ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=FONT["small"])
        ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=FONT["small"])
        ax.tick_params(length=0)
        ax.set_title(shorten(labels[j], 22), fontsize=FONT["label"])
    for ax in axes[n:]:
        ax.set_visible(False)
    note = f" ({n} of {k} labels, those with the most errors)" if k > max_labels else ""
    fig.suptitle(f"{title}{note}", fontsize=FONT["title"])
    return fig


def cooccurrence_figure(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    *,
    max_labels: int = 30,
    title: str = "Label co-occurrence",
) -> Figure:
    """How often two labels are on the same example, in the truth and in the predictions.

    Cell ``(i, j)`` counts the examples carrying both labels ``i`` and ``j``; the
    diagonal (examples with the label at all) is greyed out so that it does not swamp the
    colour scale, which both panels share. With more than ``max_labels`` labels, those in
    the most pairs (truth and predictions together) are shown and the title says so.

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        y_pred: ``(n, k)`` 0/1 predictions.
        labels: ``k`` label names.
        max_labels: Most labels shown.
        title: Figure title.

    Returns:
        The figure: true co-occurrence on the left, predicted on the right; each image
        holds the counts with the diagonal masked.

    Example:
        >>> y = np.array([[1, 1, 0], [1, 0, 1]])
        >>> fig = cooccurrence_figure(y, y, ["a", "b", "c"])
    """
    k = len(labels)
    yt = _indicator(y_true, k, "y_true").astype(np.int64)
    yp = _indicator(y_pred, k, "y_pred").astype(np.int64)
    ct, cp = yt.T @ yt, yp.T @ yp
    if k > max_labels:
        mass = ct.sum(0) - np.diag(ct) + cp.sum(0) - np.diag(cp)
        shown = np.lexsort((np.arange(k), -np.diag(ct), -mass))[:max_labels]
    else:
        shown = np.arange(k)
    n = len(shown)
    mats = [c[np.ix_(shown, shown)] for c in (ct, cp)]
    diag = np.eye(n, dtype=bool)
    vmax = max(1, *(int(m[~diag].max()) if n > 1 else 1 for m in mats))
    side = float(np.clip(0.3 * n + 2.4, 3.2, 9.0))
    fig = _figure(2 * side + 1.2, side + 0.4)
    axes = fig.subplots(1, 2)
    cmap = colormaps[_SEQUENTIAL].with_extremes(bad="#EEEEEE")
    images = []
    for ax, mat, name, y in zip(
        axes, mats, ("True labels", "Predicted labels"), (yt, yp), strict=True
    ):
        masked = np.ma.masked_array(mat.astype(np.float64), mask=diag)
        images.append(ax.imshow(masked, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest"))
        if n <= ANNOTATE_MAX:
            texts = np.array(
                [
                    [f"{int(v)}" if (v or i == j) else "" for j, v in enumerate(r)]
                    for i, r in enumerate(mat)
                ],
                dtype=object,
            )
            _annotate_cells(ax, np.where(diag, 0, mat), texts, vmax=vmax, fontsize=_cell_font(n))
        _matrix_ticks(ax, [labels[i] for i in shown], y=ax is axes[0])
        multi = int((y.sum(axis=1) >= 2).sum())
        _labels(ax, f"{name} ({multi:,} examples with 2+ labels)")
    cbar = fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    cbar.ax.tick_params(labelsize=FONT["small"])
    note = f" ({n} of {k} labels, those in the most pairs)" if k > max_labels else ""
    fig.suptitle(
        f"{title}{note}: examples with both labels (diagonal, grey: with the label)",
        fontsize=FONT["title"],
    )
    return fig


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def _steps_per_epoch(curves: LearningCurves) -> float | None:
    steps = np.concatenate([curves.train_step, curves.eval_step]).astype(np.float64)
    epochs = np.concatenate([curves.train_epoch, curves.eval_epoch])
    ok = np.isfinite(epochs) & (epochs > 0) & (steps > 0)
    if not ok.any():
        return None
    return float(np.median(steps[ok] / epochs[ok]))


def learning_curves_figure(curves: LearningCurves, *, title: str = "Learning curves") -> Figure:
    """Training and validation loss over steps, the chosen metric below, the best step marked.

    The top axis shows epochs (from the logged step/epoch ratio). A dashed vertical line
    marks :attr:`LearningCurves.best_step`, the checkpoint the Trainer kept. The loss axis
    turns logarithmic when the losses span more than a factor of 20.

    Args:
        curves: From :func:`textclf.diagnostics.curves.parse_log_history`; training loss
            ``(t,)``, validation loss and metric ``(e,)``.
        title: Figure title.

    Returns:
        The figure: one panel (loss) without validation metrics, else two (loss, metric).

    Example:
        >>> from textclf.diagnostics.curves import parse_log_history
        >>> fig = learning_curves_figure(parse_log_history([{"loss": 0.7, "epoch": 1.0, "step": 5}]))
    """
    metric = curves.metric
    show_metric = (
        curves.has_validation
        and curves.metric_name not in (None, "loss")
        and bool(np.isfinite(metric).any())
    )
    fig = _figure(7.0, 5.6 if show_metric else 3.4)
    axes = np.atleast_1d(
        fig.subplots(2 if show_metric else 1, 1, sharex=True, squeeze=False)
    ).ravel()
    ax = axes[0]
    _style(ax, grid="both")
    if len(curves.train_step):
        ax.plot(
            curves.train_step,
            curves.train_loss,
            color=COLORS["train"],
            linewidth=1.2,
            label="training loss",
        )
    if curves.has_validation:
        ax.plot(
            curves.eval_step,
            curves.eval_loss,
            color=COLORS["valid"],
            marker="o",
            markersize=4,
            linewidth=1.4,
            label="validation loss",
        )
    losses = np.concatenate([curves.train_loss, curves.eval_loss])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if len(losses) and losses.max() / losses.min() > 20:
        ax.set_yscale("log")
    suffix = "" if curves.has_validation else " (no validation split)"
    _labels(ax, f"{title}{suffix}", "" if show_metric else "step", "loss")
    _legend(ax, loc="upper right")

    best = curves.best_step
    name = curves.metric_name or "loss"
    if show_metric:
        mx = axes[1]
        _style(mx, grid="both")
        mx.plot(
            curves.eval_step,
            metric,
            color=COLORS["metric"],
            marker="o",
            markersize=4,
            linewidth=1.4,
            label=f"validation {name}",
        )
        _labels(mx, None, "step", name)
        _legend(mx, loc="lower right")
    for a in axes:
        if best is not None:
            a.axvline(best, color=COLORS["best"], linestyle="--", linewidth=1.0, gid="best_step")
    if best is not None and curves.best_value is not None:
        target = axes[-1]
        target.annotate(
            f"best checkpoint\nstep {best}, {name} {curves.best_value:.3f}",
            xy=(best, curves.best_value),
            xytext=(-8, -4 if show_metric else 8),
            textcoords="offset points",
            ha="right",
            va="top" if show_metric else "bottom",
            fontsize=FONT["small"],
            color=COLORS["best"],
        )
    spe = _steps_per_epoch(curves)
    if spe:
        top = axes[0].secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe))
        top.set_xlabel("epoch", fontsize=FONT["label"])
        top.tick_params(labelsize=FONT["tick"])
    return fig


# ---------------------------------------------------------------------------------------
# Confidence and calibration
# ---------------------------------------------------------------------------------------
def _confidence_inputs(
    confidence: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    ok = np.asarray(correct).astype(bool).ravel()
    if conf.shape != ok.shape:
        raise ValueError(f"confidence has {conf.size} values but correct has {ok.size}.")
    return conf, ok


def confidence_histogram_figure(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    bins: int = 20,
    title: str = "Confidence of the predictions",
    xlabel: str = "predicted-class probability",
) -> Figure:
    """Histogram of the predicted-class probability, correct and incorrect overlaid.

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]`` (the top class's, for single-label).
        correct: ``(n,)`` bool, whether each prediction was right.
        bins: Number of equal-width bins over ``[0, 1]``.
        title: Title (accuracy and mean confidence are appended).
        xlabel: What ``confidence`` is.

    Returns:
        The figure: two bar series (correct, incorrect) whose heights are the counts.

    Example:
        >>> fig = confidence_histogram_figure(np.array([0.9, 0.6]), np.array([True, False]))
    """
    conf, ok = _confidence_inputs(confidence, correct)
    edges = np.linspace(0.0, 1.0, bins + 1)
    fig = _figure(6.4, 3.6)
    ax = fig.subplots()
    _style(ax)
    width = edges[1] - edges[0]
    for mask, key, name in ((ok, "correct", "correct"), (~ok, "incorrect", "incorrect")):
        counts, _ = np.histogram(np.clip(conf[mask], 0, 1), bins=edges)
        mean = f", mean {conf[mask].mean():.2f}" if mask.any() else ""
        ax.bar(
            edges[:-1],
            counts,
            width=width,
            align="edge",
            color=COLORS[key],
            alpha=0.6,
            edgecolor="white",
            linewidth=0.5,
            label=f"{name} (n={int(mask.sum()):,}{mean})",
        )
    head = (
        f"{title} (accuracy {ok.mean():.3f}, mean confidence {conf.mean():.3f})"
        if len(conf)
        else f"{title} (no examples)"
    )
    _labels(ax, head, xlabel, "examples")
    ax.set_xlim(0, 1)
    _legend(ax, loc="upper left")
    return fig


def reliability_figure(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    n_bins: int = ECE_BINS,
    title: str = "Reliability diagram",
    xlabel: str = "confidence (predicted-class probability)",
) -> Figure:
    """Accuracy per confidence bin against the diagonal, with the bin counts below.

    Bins and ECE are those of :mod:`textclf.evaluation` (equal-width, left-closed; the
    default ``n_bins`` is ``ECE_BINS``, so the title's ECE equals ``ece`` in
    ``metrics.json``). For multi-label, pass every (example, label) probability as
    ``confidence`` and whether the label is true as ``correct``.

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]``.
        correct: ``(n,)`` bool, whether each prediction was right.
        n_bins: Number of bins.
        title: Title (the ECE is appended).
        xlabel: What ``confidence`` is.

    Returns:
        The figure: top, one accuracy bar per non-empty bin; bottom, the counts.

    Example:
        >>> fig = reliability_figure(np.array([0.9, 0.6, 0.8]), np.array([True, False, True]))
    """
    conf, ok = _confidence_inputs(confidence, correct)
    # The multi-label form of the ECE scores each (probability, 0/1 outcome) pair, which is
    # exactly a list of confidences and whether they were right.
    ece = expected_calibration_error(ok[:, None], conf[:, None], multilabel=True, n_bins=n_bins)
    bins = ece_bin_index(conf, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    acc = np.divide(np.bincount(bins, ok, n_bins), count, out=np.zeros(n_bins), where=count > 0)
    mean_conf = np.divide(
        np.bincount(bins, conf, n_bins), count, out=np.zeros(n_bins), where=count > 0
    )
    edges = np.linspace(0, 1, n_bins + 1)
    width = 1.0 / n_bins
    filled = count > 0
    fig = _figure(5.6, 5.6)
    ax, cx = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    _style(ax, grid="both")
    ax.plot(
        [0, 1],
        [0, 1],
        linestyle="--",
        color=COLORS["best"],
        linewidth=1,
        label="perfect calibration",
    )
    ax.bar(
        edges[:-1][filled],
        acc[filled],
        width=width,
        align="edge",
        color=COLORS["train"],
        edgecolor="white",
        label="accuracy in bin",
        gid="accuracy",
    )
    ax.bar(
        edges[:-1][filled],
        (mean_conf - acc)[filled],
        bottom=acc[filled],
        width=width,
        align="edge",
        facecolor="none",
        edgecolor=COLORS["incorrect"],
        hatch="///",
        linewidth=0.6,
        label="gap to mean confidence",
        gid="gap",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ece_text = "n/a" if math.isnan(ece) else f"{ece:.3f}"
    _labels(ax, f"{title} (ECE {ece_text}, {n_bins} bins, n={len(conf):,})", "", "accuracy")
    # Framed: bars of an under-confident model reach into the legend's corner.
    ax.legend(loc="upper left", fontsize=FONT["legend"], framealpha=0.9, edgecolor="none")
    _style(cx)
    cx.bar(
        edges[:-1],
        count,
        width=width,
        align="edge",
        color=COLORS["neutral"],
        edgecolor="white",
        gid="counts",
    )
    _labels(cx, None, xlabel, "examples")
    return fig


def score_distributions_figure(
    scores: np.ndarray,
    y_true: np.ndarray,
    labels: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray | None = None,
    *,
    max_labels: int = 16,
    bins: int = 20,
    title: str = "Score distributions per label",
) -> Figure:
    """Per label, the scores of its positive and negative examples, and the threshold.

    Each group is drawn as its share of the group (the negatives usually outnumber the
    positives by far), with the counts in the panel title. With more than ``max_labels``
    labels, those with the most errors at the thresholds (or, without thresholds, the most
    positives) are shown and the title says so.

    Args:
        scores: ``(n, k)`` per-label probabilities.
        y_true: ``(n, k)`` 0/1 true labels.
        labels: ``k`` label names.
        thresholds: One threshold for all labels, ``(k,)`` per label, or ``None``.
        max_labels: Most panels.
        bins: Histogram bins over ``[0, 1]``.
        title: Figure title.

    Returns:
        The figure; each panel has a vertical line at its label's threshold.

    Example:
        >>> y = np.array([[1, 0], [0, 1], [1, 1]])
        >>> fig = score_distributions_figure(y * 0.8, y, ["a", "b"], thresholds=[0.4, 0.5])
    """
    k = len(labels)
    y = _indicator(y_true, k, "y_true")
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(f"scores has shape {s.shape} but y_true has {y.shape}.")
    thr = None if thresholds is None else np.broadcast_to(np.asarray(thresholds, float), (k,))
    if k > max_labels:
        if thr is not None:
            pred = s >= thr
            rank = ((pred & ~y) | (~pred & y)).sum(axis=0)
            why = "those with the most errors"
        else:
            rank, why = y.sum(axis=0), "those with the most positives"
        shown = np.lexsort((np.arange(k), -rank))[:max_labels]
        note = f" ({max_labels} of {k} labels, {why})"
    else:
        shown, note = np.arange(k), ""
    n = len(shown)
    ncols = min(4, max(n, 1))
    nrows = max(math.ceil(n / ncols), 1)
    fig = _figure(2.5 * ncols + 0.4, 2.1 * nrows + 0.8)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True)).ravel()
    edges = np.linspace(0, 1, bins + 1)
    for ax, j in zip(axes, shown, strict=False):
        _style(ax)
        pos, neg = s[y[:, j], j], s[~y[:, j], j]
        for values, key in ((neg, "negative"), (pos, "positive")):
            if len(values):
                ax.hist(
                    np.clip(values, 0, 1),
                    bins=edges,
                    weights=np.full(len(values), 1 / len(values)),
                    color=COLORS[key],
                    alpha=0.5,
                    histtype="stepfilled",
                    gid=key,
                )
        head = f"{shorten(labels[j], 22)}\n{len(pos):,} pos · {len(neg):,} neg"
        if thr is not None:
            ax.axvline(thr[j], color=COLORS["best"], linestyle="--", linewidth=1.1, gid="threshold")
            head += f" · t={thr[j]:.2f}"
        ax.set_title(head, fontsize=FONT["small"] + 0.5)
        ax.set_xlim(0, 1)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(n - ncols, 0) : n]:  # the lowest panel of each column keeps its ticks
        ax.xaxis.set_tick_params(labelbottom=True)
    handles: list[Any] = [
        Patch(color=COLORS["positive"], alpha=0.5, label="positives"),
        Patch(color=COLORS["negative"], alpha=0.5, label="negatives"),
    ]
    if thr is not None:
        handles.append(Line2D([], [], color=COLORS["best"], linestyle="--", label="threshold"))
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=FONT["legend"],
        frameon=False,
    )
    fig.supxlabel("score", fontsize=FONT["label"])
    fig.supylabel("share of the group", fontsize=FONT["label"])
    fig.suptitle(f"{title}{note}", fontsize=FONT["title"])
    return fig


# ---------------------------------------------------------------------------------------
# Per-label quality and ranking curves
# ---------------------------------------------------------------------------------------
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
    fig = _figure(6.8, 0.24 * n + 1.4 if n > 4 else 2.6)
    ax = fig.subplots()
    _style(ax, grid="x")
    y = np.arange(n)
    xerr = None
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, float)[shown], np.asarray(upper, float)[shown]
        xerr = np.nan_to_num(np.vstack([f[shown] - lo, hi - f[shown]]).clip(min=0))
    ax.barh(
        y,
        np.nan_to_num(f[shown]),
        xerr=xerr,
        color=COLORS["train"],
        height=0.7,
        error_kw={"ecolor": COLORS["best"], "elinewidth": 0.9, "capsize": 2},
    )
    sup = None if support is None else np.asarray(support)
    names = [shorten(labels[i]) + ("" if sup is None else f" (n={int(sup[i]):,})") for i in shown]
    ax.set_yticks(y, names, fontsize=FONT["tick"] if n <= 30 else FONT["small"])
    ax.set_ylim(max(n, 1) - 0.5, -0.5)  # worst on top, no empty margin
    ax.set_xlim(0, 1.0)
    if np.isfinite(f).any():
        macro = float(np.nanmean(f))
        ax.axvline(
            macro,
            color=COLORS["incorrect"],
            linestyle="--",
            linewidth=1,
            label=f"macro F1 {macro:.3f}",
        )
        _legend(ax, loc="lower right")
    note = f" (the {n} lowest of {k} labels)" if k > max_labels else ""
    ci = ", bars: confidence interval" if xerr is not None else ""
    _labels(ax, f"{title}{note}", f"F1{ci}")
    return fig


def _thin(
    x: np.ndarray, y: np.ndarray, max_points: int = _CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a curve (first and last kept) for drawing."""
    if len(x) <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
    return x[idx], y[idx]


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
    fig = _figure(10.0, 4.4)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for ax in (roc_ax, pr_ax):
        _style(ax, grid="both")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color=COLORS["neutral"], linewidth=1)
    _labels(roc_ax, "ROC", "false positive rate", "true positive rate")
    _labels(pr_ax, "Precision-recall", "recall", "precision")
    notes: list[str] = []

    if task == "binary":
        y = _ids(y_true, max(k, 2), "y_true") == 1
        pos = s[:, 1] if s.ndim == 2 else s
        if len(pos) != len(y):
            raise ValueError(f"scores has {len(pos)} rows but y_true has {len(y)}.")
        if y.all() or not y.any():
            notes.append(
                f"undefined: the split has {'no negative' if y.all() else 'no positive'} examples"
            )
        else:
            fpr, tpr, _ = skm.roc_curve(y, pos)
            precision, recall, _ = skm.precision_recall_curve(y, pos)
            name = shorten(labels[1] if k > 1 else "positive")
            roc_ax.plot(
                *_thin(fpr, tpr),
                color=COLORS["train"],
                linewidth=1.6,
                label=f"{name} (AUC {skm.roc_auc_score(y, pos):.3f})",
            )
            pr_ax.plot(
                *_thin(recall, precision),
                color=COLORS["train"],
                linewidth=1.6,
                drawstyle="steps-post",
                label=f"{name} (AP {skm.average_precision_score(y, pos):.3f})",
            )
            pr_ax.axhline(
                y.mean(),
                linestyle=":",
                color=COLORS["neutral"],
                linewidth=1,
                label=f"chance (prevalence {y.mean():.3f})",
            )
    else:
        if task == "multiclass":
            ids = _ids(y_true, k, "y_true")
            y = np.zeros((len(ids), k), dtype=bool)
            y[np.arange(len(ids)), ids] = True
        else:
            y = _indicator(y_true, k, "y_true")
        if s.shape != y.shape:
            raise ValueError(f"scores has shape {s.shape} but the labels make {y.shape}.")
        npos = y.sum(axis=0)
        valid = np.flatnonzero((npos > 0) & (npos < len(y)))
        skipped = [labels[j] for j in range(k) if j not in set(valid.tolist())]
        if skipped:
            listed = ", ".join(shorten(x, 20) for x in skipped[:5]) + (
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
            fpr, tpr, _ = skm.roc_curve(flat_y, flat_s)
            precision, recall, _ = skm.precision_recall_curve(flat_y, flat_s)
            roc_ax.plot(
                *_thin(fpr, tpr),
                color=COLORS["train"],
                linewidth=1.8,
                label=f"micro-average (AUC {skm.roc_auc_score(flat_y, flat_s):.3f})",
            )
            pr_ax.plot(
                *_thin(recall, precision),
                color=COLORS["train"],
                linewidth=1.8,
                drawstyle="steps-post",
                label=f"micro-average (AP {skm.average_precision_score(flat_y, flat_s):.3f})",
            )
            macro_tpr = np.mean(tprs, axis=0)
            macro_tpr[0] = 0.0
            roc_ax.plot(
                grid,
                macro_tpr,
                color=COLORS["valid"],
                linewidth=1.8,
                label=f"macro-average (AUC {aucs.mean():.3f})",
            )
            pr_ax.plot(
                grid,
                np.mean(precs, axis=0),
                color=COLORS["valid"],
                linewidth=1.8,
                label=f"macro-average (AP {aps.mean():.3f})",
            )
            worst = np.argsort(aps, kind="stable")[: max(0, min(max_worst, len(valid)))]
            colors = _categorical_colors(len(worst) + 2)[2:] if len(worst) else []
            for rank, w in enumerate(worst):
                col = int(valid[w])
                fpr, tpr, _ = skm.roc_curve(y[:, col], s[:, col])
                precision, recall, _ = skm.precision_recall_curve(y[:, col], s[:, col])
                name = shorten(labels[col], 22)
                style = {"color": colors[rank], "linewidth": 1.0, "alpha": 0.9}
                roc_ax.plot(*_thin(fpr, tpr), label=f"{name} (AUC {aucs[w]:.3f})", **style)
                pr_ax.plot(
                    *_thin(recall, precision),
                    drawstyle="steps-post",
                    label=f"{name} (AP {aps[w]:.3f})",
                    **style,
                )
            if worst.size:
                notes.append(f"thin lines: the {len(worst)} classes with the lowest AP")
    for ax in (roc_ax, pr_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(
                fontsize=FONT["small"],
                frameon=False,
                loc="lower right" if ax is roc_ax else "lower left",
            )
    fig.suptitle(title + (f"\n({'; '.join(notes)})" if notes else ""), fontsize=FONT["title"])
    return fig


# ---------------------------------------------------------------------------------------
# Embeddings and data
# ---------------------------------------------------------------------------------------
def embedding_figure(
    coords: np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    correct: np.ndarray | None = None,
    *,
    title: str = "Embeddings",
    max_legend: int = 20,
) -> Figure:
    """2-D map of examples coloured by their true label, wrong predictions as crosses.

    With more than ``max_legend`` distinct labels, the most frequent ones get colours and
    the rest are grey (drawn underneath), and the title says so.

    Args:
        coords: ``(n, 2)`` coordinates (PCA, t-SNE, UMAP, …).
        labels: ``(n,)`` true label of each point (names or ids; multi-label callers pass
            e.g. the first label or the joined label set).
        correct: ``(n,)`` bool, whether the prediction was right; ``None`` draws all as dots.
        title: Title.
        max_legend: Most labels given their own colour.

    Returns:
        The figure: one scatter of the correct points (gid ``"correct"``) and one of the
        incorrect ones with ``x`` markers (gid ``"incorrect"``).

    Example:
        >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]])
        >>> fig = embedding_figure(xy, ["a", "b", "a"], np.array([True, False, True]))
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords must be (n, 2), got shape {xy.shape}.")
    names = np.array([str(x) for x in labels], dtype=object)
    if len(names) != len(xy):
        raise ValueError(f"coords has {len(xy)} rows but labels has {len(names)}.")
    ok = np.ones(len(xy), bool) if correct is None else np.asarray(correct).astype(bool)
    if len(ok) != len(xy):
        raise ValueError(f"coords has {len(xy)} rows but correct has {len(ok)}.")
    uniq, counts = (
        np.unique(names, return_counts=True) if len(names) else (np.array([]), np.array([]))
    )
    ranked = [uniq[i] for i in np.lexsort((uniq, -counts))] if len(uniq) else []
    coloured = ranked[:max_legend]
    palette = dict(zip(coloured, _categorical_colors(len(coloured)), strict=True))
    grey = to_rgba(COLORS["neutral"])
    colors = np.array([palette.get(x, grey) for x in names]).reshape(-1, 4)
    # Grey points first, so the coloured ones stay visible on top of them.
    draw = np.argsort([x in palette for x in names], kind="stable")
    xy, colors, ok = xy[draw], colors[draw], ok[draw]
    size = float(np.clip(6000 / max(len(xy), 1), 4, 36))
    fig = _figure(8.4 if len(coloured) > 1 else 6.4, 6.0)
    ax = fig.subplots()
    _style(ax, grid=None)
    ax.scatter(
        xy[ok, 0],
        xy[ok, 1],
        c=colors[ok],
        s=size,
        marker="o",
        linewidths=0,
        alpha=0.75,
        gid="correct",
    )
    ax.scatter(
        xy[~ok, 0],
        xy[~ok, 1],
        c=colors[~ok],
        s=size * 1.8,
        marker="x",
        linewidths=1.1,
        gid="incorrect",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    handles: list[Any] = [
        Line2D([], [], marker="o", linestyle="", color=palette[x], label=shorten(x, 24))
        for x in coloured
    ]
    rest = len(ranked) - len(coloured)
    if rest:
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=grey, label=f"other ({rest} labels)")
        )
    if correct is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="x",
                linestyle="",
                color="#333333",
                label=f"wrong prediction ({int((~ok).sum()):,})",
            )
        )
    if handles:
        ax.legend(
            handles=handles,
            fontsize=FONT["small"],
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0,
        )
    note = f" (colours: the {len(coloured)} most frequent of {len(ranked)} labels)" if rest else ""
    _labels(ax, f"{title}{note}")
    return fig


def label_distribution_figure(
    counts: Mapping[str, Mapping[str, int]],
    *,
    normalize: bool = True,
    max_labels: int = 60,
    title: str = "Labels per split",
) -> Figure:
    """Grouped bars of label frequencies per split, sorted by overall frequency.

    Splits differ in size, so by default each bar is the label's share of its split's
    label assignments (for multi-label tasks, of all label occurrences), which makes a
    distribution shift visible; the split sizes are in the legend. Up to 12 labels get
    vertical bars; more get horizontal bars in a figure that grows with them, and beyond
    ``max_labels`` only the most frequent are drawn (the title says so).

    Args:
        counts: Split name → label name → count, e.g. ``{"train": {"a": 80, "b": 20}}``.
        normalize: Shares (%) instead of counts.
        max_labels: Most labels drawn.
        title: Title.

    Returns:
        The figure: one bar series per split (in ``counts`` order).

    Example:
        >>> fig = label_distribution_figure({"train": {"a": 8, "b": 2}, "test": {"a": 1, "b": 1}})
    """
    splits = list(counts)
    totals: dict[str, int] = {}
    for split in splits:
        for name, c in counts[split].items():
            totals[str(name)] = totals.get(str(name), 0) + int(c)
    ranked = sorted(totals, key=lambda x: (-totals[x], x))
    shown = ranked[:max_labels]
    n, m = len(shown), max(len(splits), 1)
    horizontal = n > 12
    fig = _figure(7.0, 0.16 * n * min(m, 3) + 1.6 if horizontal else 3.8)
    ax = fig.subplots()
    _style(ax, grid="x" if horizontal else "y")
    pos = np.arange(n)
    width = 0.8 / m
    for i, split in enumerate(splits):
        raw = np.array([int(counts[split].get(x, 0)) for x in shown], dtype=np.float64)
        total = sum(int(v) for v in counts[split].values())
        values = 100 * raw / total if normalize and total else raw
        offset = (i - (m - 1) / 2) * width
        color = SPLIT_COLORS[i % len(SPLIT_COLORS)]
        label = f"{split} (n={total:,})"
        if horizontal:
            ax.barh(pos + offset, values, height=width, color=color, label=label)
        else:
            ax.bar(pos + offset, values, width=width, color=color, label=label)
    names = [shorten(x) for x in shown]
    what = "share of the split's labels (%)" if normalize else "examples"
    if horizontal:
        ax.set_yticks(pos, names, fontsize=FONT["tick"] if n <= 30 else FONT["small"])
        ax.set_ylim(n - 0.5, -0.5)  # most frequent on top, no empty margin
        _labels(ax, None, what)
    else:
        rotate = n > 4 or max((len(x) for x in names), default=0) > 10
        ax.set_xticks(
            pos,
            names,
            rotation=45 if rotate else 0,
            ha="right" if rotate else "center",
            rotation_mode="anchor",
            fontsize=FONT["tick"],
        )
        _labels(ax, None, "", what)
    note = f" (the {n} most frequent of {len(ranked)} labels)" if len(ranked) > max_labels else ""
    fig.suptitle(f"{title}{note}", fontsize=FONT["title"])
    if splits:
        # Beside the plot: inside it, the legend would hide the bars of some label.
        fig.legend(
            *ax.get_legend_handles_labels(),
            loc="outside right upper",
            fontsize=FONT["legend"],
            frameon=False,
        )
    return fig


def text_length_figure(
    lengths: Mapping[str, np.ndarray],
    *,
    unit: str = "tokens",
    max_length: int | None = None,
    bins: int = 40,
    title: str = "Text length per split",
) -> Figure:
    """Histogram of text lengths per split, with the truncation length marked.

    Each split is drawn as its share of examples, so splits of different sizes compare.
    The x axis stops at the 99.5th percentile (or just past ``max_length``); longer texts
    are counted in the last bin. Pass lengths measured *without* truncation, or the share
    truncated is 0.

    Args:
        lengths: Split name → ``(n,)`` lengths.
        unit: What a length counts, for the axis label (``tokens``, ``characters``, …).
        max_length: The model's truncation length, or ``None``.
        bins: Number of bins.
        title: Title.

    Returns:
        The figure: one step histogram per split; the legend gives n, the median and the
        share longer than ``max_length``.

    Example:
        >>> fig = text_length_figure({"train": np.array([5, 12, 40])}, max_length=32)
    """
    arrays = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in lengths.items()}
    every = np.concatenate([*arrays.values(), np.zeros(0)])
    hi = float(np.percentile(every, 99.5)) if len(every) else 1.0
    if max_length is not None:
        hi = max(hi, max_length * 1.05)
    hi = max(hi, 1.0)
    edges = np.linspace(0, hi, bins + 1)
    fig = _figure(6.8, 3.8)
    ax = fig.subplots()
    _style(ax)
    for i, (split, values) in enumerate(arrays.items()):
        if not len(values):
            continue
        label = f"{split} (n={len(values):,}, median {np.median(values):.0f}"
        if max_length is not None:
            label += f", {100 * float(np.mean(values > max_length)):.1f} % > {max_length}"
        ax.hist(
            np.clip(values, 0, hi),
            bins=edges.tolist(),
            weights=np.full(len(values), 1 / len(values)),
            histtype="step",
            linewidth=1.6,
            color=SPLIT_COLORS[i % len(SPLIT_COLORS)],
            label=label + ")",
        )
    if max_length is not None:
        ax.axvline(
            max_length,
            color=COLORS["incorrect"],
            linestyle="--",
            linewidth=1.2,
            label=f"max_length {max_length} (longer texts are truncated)",
            gid="max_length",
        )
    ax.set_xlim(0, hi)
    _labels(ax, title, f"length ({unit}); the last bin holds longer texts", "share of the split")
    _legend(ax, loc="upper right")
    return fig


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------
def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = DPI) -> Path:
    """Write ``fig`` atomically; the format follows the suffix (PNG without one).

    Args:
        fig: The figure.
        path: Target file, e.g. ``DIR/eval/figures/confusion.png``; folders are created.
        dpi: Resolution.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> save_figure(confusion_matrix_figure(np.array([0]), np.array([0]), ["a"]), "cm.png")  # doctest: +SKIP
    """
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return target


def figure_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (e.g. to embed in an HTML report as base64).

    Example:
        >>> figure_png(confusion_matrix_figure(np.array([0]), np.array([0]), ["a"]))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
