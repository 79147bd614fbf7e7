"""HTML fragments the app draws itself: score bars with threshold marks, and label chips.

Plain strings (every text HTML-escaped), styled by the classes in ``style.css``: colours
are translucent or inherit the theme's text colour, so the same fragment reads well in
Streamlit's light and dark themes.

Example:
    >>> "tc-bar" in score_bars_html(["a", "b"], [0.9, 0.1], predicted=["a"])
    True
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np


def chips_html(labels: Sequence[str], *, empty: str = "no label") -> str:
    """Predicted labels as chips (a muted chip saying ``empty`` when there are none)."""
    if not labels:
        return f'<span class="tc-chip tc-chip-empty">{html.escape(empty)}</span>'
    return "".join(f'<span class="tc-chip">{html.escape(lab)}</span>' for lab in labels)


def score_bars_html(
    labels: Sequence[str],
    scores: Sequence[float],
    *,
    predicted: Sequence[str],
    thresholds: Sequence[float] | None = None,
    limit: int | None = None,
) -> str:
    """One bar per label, highest score first.

    Args:
        labels: Label names.
        scores: Probability per label.
        predicted: Labels drawn as predicted (accent colour).
        thresholds: Per-label marks (multi-label: one per label; binary: one value, drawn on
            the positive label, the second one); ``None``: no marks.
        limit: Show only the best ``limit`` labels (and say how many are hidden).

    Returns:
        A ``<div class="tc-bars">`` fragment.
    """
    order = list(np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"))
    marks: dict[int, float] = {}
    if thresholds is not None:
        if len(thresholds) == len(labels):
            marks = dict(enumerate(float(t) for t in thresholds))
        elif len(thresholds) == 1 and len(labels) == 2:
            marks = {1: float(thresholds[0])}
    shown = order if limit is None else order[:limit]
    rows = []
    chosen = set(predicted)
    for j in shown:
        score = float(scores[j])
        width = max(0.0, min(100.0, 100 * score))
        on = " tc-on" if labels[j] in chosen else ""
        mark = ""
        if j in marks:
            t = marks[j]
            mark = (
                f'<span class="tc-thr" style="left:{100 * t:.1f}%" '
                f'title="threshold {t:.2f}"></span>'
            )
        rows.append(
            f'<div class="tc-bar{on}">'
            f'<span class="tc-bar-label" title="{html.escape(labels[j])}">'
            f"{html.escape(labels[j])}</span>"
            f'<span class="tc-bar-track"><span class="tc-bar-fill" style="width:{width:.1f}%">'
            f"</span>{mark}</span>"
            f'<span class="tc-bar-value">{score:.3f}</span>'
            "</div>"
        )
    hidden = len(order) - len(shown)
    more = f'<div class="tc-bars-more">{hidden} more label(s) below these</div>' if hidden else ""
    return f'<div class="tc-bars">{"".join(rows)}{more}</div>'


def brand_html(title: str, subtitle: str) -> str:
    """The page header: the textclf mark, a title and a muted subtitle."""
    return (
        '<div class="tc-brand">'
        '<span class="tc-brand-mark" aria-hidden="true"></span>'
        f'<span class="tc-brand-title">{html.escape(title)}</span>'
        f'<span class="tc-brand-sub">{html.escape(subtitle)}</span>'
        "</div>"
    )


def sidebar_card_html(*, name: str, facts: list[str]) -> str:
    """The sidebar's model card: the name, then one muted line per fact."""
    lines = "".join(f'<div class="tc-card-fact">{html.escape(f)}</div>' for f in facts)
    return (
        '<div class="tc-card"><div class="tc-card-kicker">Model</div>'
        f'<div class="tc-card-name">{html.escape(name)}</div>{lines}</div>'
    )


def token_chips_html(tokens: list[tuple[str, float]], *, direction: str) -> str:
    """Tokens with their scores as chips tinted like the highlight (``toward``: orange,
    ``away``: blue)."""
    if not tokens:
        return '<span class="tc-chip tc-chip-empty">none</span>'
    return "".join(
        f'<span class="tc-chip tc-chip-{direction}">{html.escape(t)} '
        f'<span class="tc-chip-score">{s:+.2f}</span></span>'
        for t, s in tokens
    )


#: Forbids scripts (inline handlers included), plugins, a changed base URL and form posts in
#: an embedded document; the inline styles and data: images of textclf's reports still work.
_NO_SCRIPTS = (
    '<meta http-equiv="Content-Security-Policy" content="script-src \'none\'; '
    "object-src 'none'; base-uri 'none'; form-action 'none'\">"
)


def scriptless(document: str) -> str:
    """``document`` with a Content-Security-Policy forbidding scripts, ahead of anything
    that could run.

    Streamlit embeds an HTML string in an iframe allowed to run scripts with the app's own
    origin: a report in a model folder from elsewhere could read the logged-in user's
    history and act as them (security review). textclf's reports need no scripts.

    Example:
        >>> scriptless("<!DOCTYPE html><p>x</p>").startswith("<!DOCTYPE html><meta http-equiv")
        True
    """
    start = re.match(r"\s*<!doctype[^>]*>", document, re.IGNORECASE)
    cut = start.end() if start else 0
    return document[:cut] + _NO_SCRIPTS + document[cut:]
