"""The look of every figure: one place for sizes and colours, a new :class:`Figure`,
axis styling and shortened label names.

Styling is passed to each artist rather than set in ``rcParams``, which are
process-global. The figure modules import this one whole and write ``style.figure(6.4,
3.6)``, ``style.COLORS["train"]``, ``style.labels(ax, title)``.

Example:
    >>> shorten("a very long label name indeed", 10)
    'a very lo…'
"""

from __future__ import annotations

from typing import Any, Literal

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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
SEQUENTIAL = "Blues"
#: Tallest figure in inches: taller ones do not fit a report page or a screen.
MAX_HEIGHT = 16.0
#: Matrices up to this size get a number in every cell; beyond it the text is unreadable.
ANNOTATE_MAX = 25


def shorten(text: object, width: int = LABEL_WIDTH) -> str:
    """``text`` as a string of at most ``width`` characters, ending in "…" when cut.

    Example:
        >>> shorten("a very long label name indeed", 10)
        'a very lo…'
    """
    s = str(text)
    return s if len(s) <= width else s[: max(width - 1, 0)] + "…"


def categorical_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours: tab20's darker shades first, then its lighter ones."""
    tab20 = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return [tab20(order[i % 20]) for i in range(n)]


def figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width`` x ``height`` inches (height capped)."""
    return Figure(figsize=(width, min(height, MAX_HEIGHT)), dpi=DPI, layout="constrained")


def axes(ax: Axes, *, grid: Literal["x", "y", "both"] | None = "y") -> None:
    """Light frame, readable ticks, an optional grid behind the data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT["tick"])
    if grid:
        ax.grid(axis=grid, color=COLORS["grid"], linewidth=0.8)
        ax.set_axisbelow(True)


def labels(ax: Axes, title: str | None = None, xlabel: str = "", ylabel: str = "") -> None:
    """Title and axis labels in the house font sizes."""
    if title:
        ax.set_title(title, fontsize=FONT["title"])
    ax.set_xlabel(xlabel, fontsize=FONT["label"])
    ax.set_ylabel(ylabel, fontsize=FONT["label"])


def marker_line(ax: Axes, x: float, role: str, *, linewidth: float, **kwargs: Any) -> None:
    """A dashed vertical line at ``x`` in the colour of ``role``: a threshold, a limit, an
    average or the kept checkpoint (``kwargs``: ``label``, ``gid``)."""
    ax.axvline(x, color=COLORS[role], linestyle="--", linewidth=linewidth, **kwargs)


def legend(ax: Axes, **kwargs: Any) -> None:
    """A frameless legend, only when something is labelled."""
    if ax.get_legend_handles_labels()[0]:  # an empty legend only warns
        ax.legend(fontsize=FONT["legend"], frameon=False, **kwargs)
