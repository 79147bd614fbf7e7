"""An explanation's result type and its HTML rendering; numpy only, no torch.

:class:`TokenAttribution` holds one explanation's per-word scores (made by
:func:`textclf.diagnostics.attributions.explain`); :func:`highlight_html` colours the text
by them. The report, the ``explain`` command and the app render explanations with it, and
none of them needs torch for that.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from textclf.errors import ConfigError

#: An Integrated Gradients completeness error above this (in probability units) makes the
#: scores approximate: the raw scores no longer sum to the probability change they split.
#: More steps shrink it (on the demo model at 32 steps: median 0.001, max 0.03).
DELTA_TOLERANCE = 0.05


@dataclass
class TokenAttribution:
    """Per-word scores of one explanation.

    Attributes:
        text: The input text.
        tokens: Words shown to the user: special tokens removed, WordPieces merged
            (``"##"`` pieces joined; the original text span for other tokenizers or
            ``[UNK]``).
        offsets: Character span ``(start, end)`` of each token in ``text``.
        scores: ``(n_tokens,)`` signed scores scaled so that ``max |score| == 1``.
        raw_scores: ``(n_tokens,)`` scores before scaling (IG: in probability units).
        label: The label explained (``""`` for the label-agnostic attention rollout).
        probability: The calibrated probability of ``label``; for attention rollout,
            of the top-scoring label.
        method: ``integrated_gradients`` or ``attention_rollout``.
        convergence_delta: IG completeness error from captum (``sum(raw_scores)`` minus
            the probability change from baseline to input); ``None`` for rollout.
        truncated: The text was longer than ``info.max_length`` tokens; the rest of it
            was not seen by the model and is not scored.
    """

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]
    scores: np.ndarray
    raw_scores: np.ndarray
    label: str
    probability: float
    method: str
    convergence_delta: float | None = None
    truncated: bool = False

    @property
    def approximate(self) -> bool:
        """IG whose completeness error exceeds :data:`DELTA_TOLERANCE`: raise the steps."""
        delta = self.convergence_delta
        return delta is not None and math.isfinite(delta) and abs(delta) > DELTA_TOLERANCE

    def accuracy_note(self, steps: str) -> str | None:
        """A sentence on an :attr:`approximate` attribution, naming how to raise ``steps``
        (e.g. ``"--steps (now 32)"``); ``None`` when the scores add up.

        Example:
            >>> a = TokenAttribution("x", ["x"], [(0, 1)], np.ones(1), np.ones(1), "pos", 0.9,
            ...                      "integrated_gradients", convergence_delta=0.21)
            >>> a.accuracy_note("--steps (now 32)")
            'completeness error δ = 0.21, above 0.05: the scores are approximate; raise --steps (now 32).'
        """
        if not self.approximate:
            return None
        return (
            f"completeness error δ = {self.convergence_delta:.2g}, above {DELTA_TOLERANCE:g}: "
            f"the scores are approximate; raise {steps}."
        )

    def top_tokens(
        self, k: int = 10, *, sign: Literal["positive", "negative", "abs"] = "positive"
    ) -> list[tuple[str, float]]:
        """The ``k`` highest-scoring tokens with their scaled scores.

        Args:
            k: How many to return at most.
            sign: ``positive`` (largest scores above 0), ``negative`` (most negative
                scores below 0) or ``abs`` (largest ``|score|``, either sign).

        Returns:
            ``(token, score)`` pairs, strongest first.
        """
        scores = np.asarray(self.scores, dtype=np.float64)
        if sign == "positive":
            order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
        elif sign == "negative":
            order = [i for i in np.argsort(scores, kind="stable") if scores[i] < 0]
        elif sign == "abs":
            order = [i for i in np.argsort(-np.abs(scores), kind="stable") if scores[i] != 0]
        else:
            raise ConfigError(f"sign={sign!r} is not known; use 'positive', 'negative' or 'abs'.")
        return [(self.tokens[i], float(scores[i])) for i in order[:k]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists and plain floats)."""
        return {
            "text": self.text,
            "tokens": list(self.tokens),
            "offsets": [[int(s), int(e)] for s, e in self.offsets],
            "scores": [float(x) for x in self.scores],
            "raw_scores": [float(x) for x in self.raw_scores],
            "label": self.label,
            "probability": float(self.probability),
            "method": self.method,
            "convergence_delta": None
            if self.convergence_delta is None
            else float(self.convergence_delta),
            "truncated": bool(self.truncated),
        }


# Orange pushes toward the label, blue away (a colour-blind-safe pair). Backgrounds are
# blended over the fragment's own white card and text is near-black, so the fragment reads
# the same on light and dark pages; the strongest tint keeps contrast above 4.5:1.
_POSITIVE = (230, 97, 1)
_NEGATIVE = (33, 102, 172)
_MAX_ALPHA = 0.7
_INK = "#1f2328"
_PAPER = "#ffffff"

_METHOD_NAMES = {
    "integrated_gradients": "Integrated gradients",
    "attention_rollout": "Attention rollout",
}


def _background(score: float) -> str:
    r, g, b = _POSITIVE if score >= 0 else _NEGATIVE
    alpha = round(_MAX_ALPHA * min(1.0, abs(score)), 3)
    return f"rgba({r}, {g}, {b}, {alpha})"


def _swatch(colour: tuple[int, int, int]) -> str:
    r, g, b = colour
    return (
        f'<span style="display:inline-block;width:0.9em;height:0.9em;vertical-align:-0.1em;'
        f'border-radius:2px;background:rgba({r}, {g}, {b}, {_MAX_ALPHA});"></span>'
    )


def highlight_html(attribution: TokenAttribution, *, title: str | None = None) -> str:
    """The original text with each word's background coloured by its score.

    Orange pushes toward the label, blue away from it (attention rollout: orange only);
    tint strength follows ``|score|``, and hovering a word shows its score. The fragment
    is self-contained: inline styles on a white card with dark text (readable on light and
    dark pages), no scripts, no external URLs.

    Args:
        attribution: One result of :func:`explain`.
        title: Optional heading above the header line (HTML-escaped).

    Returns:
        An HTML ``<div>`` fragment.

    Example:
        >>> attr = TokenAttribution("a <b>", ["a"], [(0, 1)], np.array([1.0]), np.array([0.2]),
        ...                         "pos", 0.9, "integrated_gradients", 0.001)
        >>> "&lt;b&gt;" in highlight_html(attr)
        True
    """
    a = attribution
    text = a.text
    parts: list[str] = []
    cursor = 0
    for (start, end), token, score, raw in zip(
        a.offsets, a.tokens, a.scores, a.raw_scores, strict=True
    ):
        if start < cursor or end <= start:
            continue
        parts.append(html.escape(text[cursor:start]))
        tip = f"{token}: {float(score):+.2f} (raw {float(raw):+.4g})"
        parts.append(
            f'<span title="{html.escape(tip)}" style="background:{_background(float(score))};'
            f'color:{_INK};border-radius:3px;padding:0 1px;">{html.escape(text[start:end])}</span>'
        )
        cursor = end
    rest = text[cursor:]
    if a.truncated and rest:
        parts.append(
            '<span title="not seen by the model (beyond max_length)" '
            f'style="color:#6e7781;">{html.escape(rest)}</span>'
        )
    else:
        parts.append(html.escape(rest))

    method = _METHOD_NAMES.get(a.method, a.method)
    if a.label:
        header = f"{html.escape(method)} · label <b>{html.escape(a.label)}</b>"
        header += f" · p = {a.probability:.3f}"
        legend = (
            f"{_swatch(_POSITIVE)} toward {html.escape(a.label)} &nbsp; "
            f"{_swatch(_NEGATIVE)} away from it"
        )
    else:
        header = f"{html.escape(method)} · label-agnostic · top p = {a.probability:.3f}"
        legend = f"{_swatch(_POSITIVE)} share of attention reaching [CLS]"
    if a.convergence_delta is not None and math.isfinite(a.convergence_delta):
        header += f" · δ = {a.convergence_delta:.2g}"
        if a.approximate:  # the scores do not add up to the probability change they split
            header += (
                f' <b style="color:#9a6700;">(above {DELTA_TOLERANCE:g}: approximate, '
                "use more steps)</b>"
            )
    if a.truncated:
        legend += " &nbsp; grey: beyond max_length, not scored"
    heading = (
        f'<div style="font-weight:600;margin-bottom:2px;">{html.escape(title)}</div>'
        if title
        else ""
    )
    return (
        f'<div style="background:{_PAPER};color:{_INK};border:1px solid #d0d7de;'
        "border-radius:6px;padding:8px 10px;margin:4px 0;font-family:system-ui,-apple-system,"
        'Segoe UI,Roboto,sans-serif;font-size:14px;line-height:1.6;">'
        f"{heading}"
        f'<div style="font-size:12px;color:#57606a;margin-bottom:4px;">{header}</div>'
        f'<div style="white-space:pre-wrap;word-wrap:break-word;">{"".join(parts)}</div>'
        f'<div style="font-size:11px;color:#57606a;margin-top:4px;">{legend}</div>'
        "</div>"
    )
