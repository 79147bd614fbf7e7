"""Figures of the data: label frequencies per split and text lengths per split.

Example:
    >>> fig = label_distribution_figure({"train": {"a": 8, "b": 2}, "test": {"a": 1, "b": 1}})
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from textclf.diagnostics.plots import style


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
    fig = style.figure(7.0, 0.16 * n * min(m, 3) + 1.6 if horizontal else 3.8)
    ax = fig.subplots()
    style.axes(ax, grid="x" if horizontal else "y")
    pos = np.arange(n)
    width = 0.8 / m
    for i, split in enumerate(splits):
        raw = np.array([int(counts[split].get(x, 0)) for x in shown], dtype=np.float64)
        total = sum(int(v) for v in counts[split].values())
        values = 100 * raw / total if normalize and total else raw
        offset = (i - (m - 1) / 2) * width
        color = style.SPLIT_COLORS[i % len(style.SPLIT_COLORS)]
        label = f"{split} (n={total:,})"
        if horizontal:
            ax.barh(pos + offset, values, height=width, color=color, label=label)
        else:
            ax.bar(pos + offset, values, width=width, color=color, label=label)
    names = [style.shorten(x) for x in shown]
    what = "share of the split's labels (%)" if normalize else "examples"
    if horizontal:
        ax.set_yticks(pos, names, fontsize=style.FONT["tick"] if n <= 30 else style.FONT["small"])
        ax.set_ylim(n - 0.5, -0.5)  # most frequent on top, no empty margin
        style.labels(ax, None, what)
    else:
        rotate = n > 4 or max((len(x) for x in names), default=0) > 10
        ax.set_xticks(
            pos,
            names,
            rotation=45 if rotate else 0,
            ha="right" if rotate else "center",
            rotation_mode="anchor",
            fontsize=style.FONT["tick"],
        )
        style.labels(ax, None, "", what)
    note = f" (the {n} most frequent of {len(ranked)} labels)" if len(ranked) > max_labels else ""
    fig.suptitle(f"{title}{note}", fontsize=style.FONT["title"])
    if splits:
        # Beside the plot: inside it, the legend would hide the bars of some label.
        fig.legend(
            *ax.get_legend_handles_labels(),
            loc="outside right upper",
            fontsize=style.FONT["legend"],
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
    fig = style.figure(6.8, 3.8)
    ax = fig.subplots()
    style.axes(ax)
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
            color=style.SPLIT_COLORS[i % len(style.SPLIT_COLORS)],
            label=label + ")",
        )
    if max_length is not None:
        style.marker_line(
            ax,
            max_length,
            "incorrect",
            linewidth=1.2,
            label=f"max_length {max_length} (longer texts are truncated)",
            gid="max_length",
        )
    ax.set_xlim(0, hi)
    style.labels(
        ax, title, f"length ({unit}); the last bin holds longer texts", "share of the split"
    )
    style.legend(ax, loc="upper right")
    return fig
