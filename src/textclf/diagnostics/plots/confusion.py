"""Confusion figures: the single-label confusion matrix, one 2x2 matrix per label for
multi-label tasks, and how often two labels come together.

Example:
    >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from textclf.diagnostics.plots import style
from textclf.diagnostics.plots.inputs import class_ids, indicator


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
    short = [style.shorten(s) for s in names]
    size = style.FONT["tick"] if n <= 15 else style.FONT["small"]
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


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts: row = true class, column = predicted class.

    Example:
        >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    yt, yp = class_ids(y_true, k, "y_true"), class_ids(y_pred, k, "y_pred")
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
    fig = style.figure(side + 1.0, side)
    ax = fig.subplots()
    vmax = 1.0 if normalize else max(float(data.max()), 1.0)
    im = ax.imshow(data, cmap=style.SEQUENTIAL, vmin=0, vmax=vmax, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.ax.tick_params(labelsize=style.FONT["small"])
    if n <= style.ANNOTATE_MAX:
        fmt = (lambda v: f"{v:.2f}") if normalize else (lambda v: f"{int(v)}")
        texts = np.vectorize(lambda v: fmt(v) if v else "", otypes=[object])(data)
        _annotate_cells(ax, data, texts, vmax=vmax, fontsize=_cell_font(n))
    names = [labels[i] for i in shown.tolist()]
    _matrix_ticks(ax, names)
    what = " (share of each true class)" if normalize else ""
    style.labels(ax, f"{title}{note}{what}", "Predicted", "True")
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
    yt, yp = indicator(y_true, k, "y_true"), indicator(y_pred, k, "y_pred")
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
    fig = style.figure(1.9 * max(ncols, 2) + 0.4, 1.95 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, max(ncols, 1), squeeze=False)).ravel()
    cmap = colormaps[style.SEQUENTIAL]
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
        _annotate_cells(ax, share, texts, vmax=1.0, fontsize=style.FONT["small"])
        ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=style.FONT["small"])
        ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=style.FONT["small"])
        ax.tick_params(length=0)
        ax.set_title(style.shorten(labels[j], 22), fontsize=style.FONT["label"])
    for ax in axes[n:]:
        ax.set_visible(False)
    note = f" ({n} of {k} labels, those with the most errors)" if k > max_labels else ""
    fig.suptitle(f"{title}{note}", fontsize=style.FONT["title"])
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
    yt = indicator(y_true, k, "y_true").astype(np.int64)
    yp = indicator(y_pred, k, "y_pred").astype(np.int64)
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
    fig = style.figure(2 * side + 1.2, side + 0.4)
    axes = fig.subplots(1, 2)
    cmap = colormaps[style.SEQUENTIAL].with_extremes(bad="#EEEEEE")
    images = []
    for ax, mat, name, y in zip(
        axes, mats, ("True labels", "Predicted labels"), (yt, yp), strict=True
    ):
        masked = np.ma.masked_array(mat.astype(np.float64), mask=diag)
        images.append(ax.imshow(masked, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest"))
        if n <= style.ANNOTATE_MAX:
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
        style.labels(ax, f"{name} ({multi:,} examples with 2+ labels)")
    cbar = fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    cbar.ax.tick_params(labelsize=style.FONT["small"])
    note = f" ({n} of {k} labels, those in the most pairs)" if k > max_labels else ""
    fig.suptitle(
        f"{title}{note}: examples with both labels (diagonal, grey: with the label)",
        fontsize=style.FONT["title"],
    )
    return fig
