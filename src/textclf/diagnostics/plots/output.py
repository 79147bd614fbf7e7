"""A figure out: a file written atomically, or PNG bytes to embed in an HTML report.

Example:
    >>> from matplotlib.figure import Figure
    >>> figure_png(Figure())[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from matplotlib.figure import Figure

from textclf.atomic import atomic_path
from textclf.diagnostics.plots import style


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = style.DPI) -> Path:
    """Write ``fig`` atomically; the format follows the suffix (PNG without one).

    Args:
        fig: The figure.
        path: Target file, e.g. ``DIR/eval/figures/confusion.png``; folders are created.
        dpi: Resolution.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> save_figure(Figure(figsize=(2, 2)), "figures/empty.png")  # doctest: +SKIP
    """
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return target


def figure_png(fig: Figure, *, dpi: int = style.DPI) -> bytes:
    """The figure as PNG bytes (e.g. to embed in an HTML report as base64).

    Example:
        >>> figure_png(Figure(figsize=(2, 2)))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
