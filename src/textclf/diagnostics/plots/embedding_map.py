"""The embedding map: examples in two dimensions, coloured by their true label, wrong
predictions as crosses.

Example:
    >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]])
    >>> fig = embedding_figure(xy, ["a", "b", "a"], np.array([True, False, True]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from textclf.diagnostics.plots import style


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
    palette = dict(zip(coloured, style.categorical_colors(len(coloured)), strict=True))
    grey = to_rgba(style.COLORS["neutral"])
    colors = np.array([palette.get(x, grey) for x in names]).reshape(-1, 4)
    # Grey points first, so the coloured ones stay visible on top of them.
    draw = np.argsort([x in palette for x in names], kind="stable")
    xy, colors, ok = xy[draw], colors[draw], ok[draw]
    size = float(np.clip(6000 / max(len(xy), 1), 4, 36))
    fig = style.figure(8.4 if len(coloured) > 1 else 6.4, 6.0)
    ax = fig.subplots()
    style.axes(ax, grid=None)
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
        Line2D([], [], marker="o", linestyle="", color=palette[x], label=style.shorten(x, 24))
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
            fontsize=style.FONT["small"],
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0,
        )
    note = f" (colours: the {len(coloured)} most frequent of {len(ranked)} labels)" if rest else ""
    style.labels(ax, f"{title}{note}")
    return fig
