"""Pieces several pages draw: the stylesheet, the page header, the feedback box, the
explanation box and the threshold sliders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import streamlit as st

from textclf.app import session
from textclf.app.predictions import Prediction, saved_thresholds
from textclf.app.render import brand_html, token_chips_html
from textclf.app.session import ModelHandle
from textclf.app.settings import AppSettings
from textclf.errors import TextclfError
from textclf.feedback import FeedbackRecord

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

STYLE = Path(__file__).with_name("style.css")
LOGO = Path(__file__).with_name("logo.svg")


def inject_style() -> None:
    """The app's stylesheet (``style.css``), once per page run."""
    st.html(STYLE)


def header(title: str, subtitle: str) -> None:
    """The branded page header."""
    st.html(brand_html(title, subtitle))


def table_height(n_rows: int, *, max_rows: int = 10) -> int | Literal["auto"]:
    """``auto`` for a short table (no empty rows below it), else a fixed scrolling height."""
    return "auto" if n_rows <= max_rows else 36 + 35 * max_rows


def results_table(frame: pd.DataFrame, column_config: dict[str, Any]) -> None:
    """A table of predictions: the text wide, the confidence as a bar, plus ``column_config``."""
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=table_height(len(frame)),
        column_config={
            "text": st.column_config.TextColumn("text", width="large"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="%.3f"
            ),
            **column_config,
        },
    )


def download_buttons(
    file_stem: str,
    csv: Callable[[], str | bytes],
    jsonl: Callable[[], str | bytes],
    *,
    labels: tuple[str, str] = ("Download CSV", "Download JSONL"),
) -> None:
    """The same rows offered as CSV and as JSON Lines: two buttons side by side.

    Args:
        file_stem: The downloaded files' name without the extension.
        csv: Builds the CSV file.
        jsonl: Builds the JSON Lines file.
        labels: The two buttons' captions.
    """
    formats = ((csv, ".csv", "text/csv"), (jsonl, ".jsonl", "application/jsonl"))
    columns = st.columns([1, 1, 3])
    for column, label, (data, suffix, mime) in zip(columns, labels, formats, strict=False):
        with column:
            st.download_button(
                label,
                data=data,
                file_name=file_stem + suffix,
                mime=mime,
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )


# ---------------------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------------------


def threshold_sliders(handle: ModelHandle) -> list[float] | None:
    """Sliders for the decision thresholds (multi-label: one per label; binary: one).

    Moving a slider changes the session's thresholds for this model; "Reset" restores the
    saved ones. Returns the thresholds in force (``None`` for multi-class).
    """
    info = handle.info
    saved = saved_thresholds(info)
    if saved is None:
        return None
    current = session.thresholds(handle) or saved
    version = session.threshold_version(handle)
    names = info.labels if info.task == "multilabel" else [info.labels[1]]
    changed = current != saved
    with st.expander("Decision thresholds" + (" (adjusted)" if changed else ""), expanded=changed):
        st.caption(
            "A label is predicted when its score reaches its threshold. Moving a slider "
            "re-decides from the scores already computed; the model is not run again. "
            "Saved thresholds come from the validation split."
        )
        values: list[float] = []
        columns = st.columns(3 if len(names) > 2 else max(1, len(names)))
        for j, name in enumerate(names):
            with columns[j % len(columns)]:
                values.append(
                    st.slider(
                        name,
                        min_value=0.0,
                        max_value=1.0,
                        value=float(current[j]),
                        step=0.01,
                        key=f"thr-{handle.key}-{version}-{j}",
                        help=f"saved: {saved[j]:.2f}",
                    )
                )
        st.button(
            "Reset to saved thresholds",
            key=f"thr-reset-{handle.key}",
            on_click=session.reset_thresholds,
            args=(handle,),
            disabled=values == saved,
            icon=":material/restart_alt:",
        )
    session.set_thresholds(handle, values)
    return values


# ---------------------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------------------


def _save_feedback(cfg: AppSettings, pred: Prediction, key: str, confirmed: bool) -> None:
    """Store a verdict (a button callback: runs before the page is drawn again)."""
    if confirmed:
        right, comment = list(pred.predicted), None
    else:
        if pred.task == "multilabel":
            right = list(st.session_state.get(f"{key}-labels") or [])
        else:
            choice = st.session_state.get(f"{key}-label")
            right = [choice] if choice is not None else []
        comment = (st.session_state.get(f"{key}-comment") or "").strip() or None
    record = FeedbackRecord(
        text=pred.text,
        task=pred.task,
        model_labels=pred.labels,
        predicted=pred.predicted,
        scores=pred.score_map,
        labels=right,
        model_fingerprint=pred.model_fingerprint,
        model_name=pred.model_name,
        user=session.user(),
        comment=comment,
        source=pred.source if pred.row is None else f"{pred.source} row {pred.row}",
    )
    try:
        pred.feedback_id = session.store(cfg).add(record)
    except TextclfError as e:
        st.session_state[f"fb-error-{pred.id}"] = str(e)
        return
    pred.feedback = record.verdict
    st.session_state.pop(f"fb-error-{pred.id}", None)
    st.toast(f"Feedback saved (#{pred.feedback_id}). Thank you!", icon=":material/check:")


def feedback_box(cfg: AppSettings, pred: Prediction, *, key: str) -> None:
    """Mark ``pred`` correct, or give the right label(s) and a comment.

    Stored in the feedback database with the text, prediction, scores, model fingerprint,
    time and user; ``textclf feedback export`` turns it into training data.
    """
    error = st.session_state.get(f"fb-error-{pred.id}")
    if error:
        st.error(error)
    if pred.feedback:
        verdict = (
            "marked this prediction correct"
            if pred.feedback == "correct"
            else ("corrected this prediction")
        )
        st.success(
            f"You {verdict} (feedback #{pred.feedback_id}). Sending another verdict replaces "
            "it in the training file.",
            icon=":material/task_alt:",
        )
    st.button(
        "Prediction is correct",
        key=f"{key}-ok",
        icon=":material/thumb_up:",
        on_click=_save_feedback,
        args=(cfg, pred, key, True),
    )
    with st.form(f"{key}-form", border=True):
        st.markdown("**Or give the right answer**")
        if pred.task == "multilabel":
            st.multiselect(
                "Right labels",
                pred.labels,
                default=pred.predicted,
                key=f"{key}-labels",
                help="All labels that apply; leave it empty when none applies.",
            )
        else:
            default = pred.labels.index(pred.predicted[0]) if pred.predicted else 0
            st.selectbox("Right label", pred.labels, index=default, key=f"{key}-label")
        st.text_input("Comment (optional)", key=f"{key}-comment", placeholder="Why is it wrong?")
        st.form_submit_button(
            "Send correction",
            icon=":material/send:",
            on_click=_save_feedback,
            args=(cfg, pred, key, False),
        )


# ---------------------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------------------

_METHODS = {
    "integrated_gradients": "Integrated gradients (per label, signed)",
    "attention_rollout": "Attention rollout (label-agnostic, fast)",
}


def explain_box(handle: ModelHandle, pred: Prediction, *, key: str) -> None:
    """Token attributions for a prediction, computed when asked for and kept in the session."""
    from textclf.diagnostics.attributions import explain, highlight_html

    st.caption(
        "Which words pushed the model toward a label (orange) or away from it (blue). "
        "Computed on demand: a few seconds on a CPU."
    )
    left, right, go = st.columns([3, 3, 1], vertical_alignment="bottom")
    with left:
        default_label = (
            pred.predicted[0]
            if pred.predicted
            else max(pred.score_map, key=lambda k: pred.score_map[k])
        )
        label = st.selectbox(
            "Label to explain",
            pred.labels,
            index=pred.labels.index(default_label),
            key=f"{key}-label",
        )
    with right:
        method = st.selectbox(
            "Method",
            list(_METHODS),
            format_func=lambda m: _METHODS[m],
            key=f"{key}-method",
        )
    cache = st.session_state.setdefault("explanations", {})
    ident = (pred.id, handle.fingerprint, label, method)
    clicked = go.button(
        "Explain", key=f"{key}-go", type="primary", icon=":material/insights:", width="stretch"
    )
    if clicked:
        try:
            with st.spinner("Computing attributions…"):
                attrs = explain(
                    handle.predictor(),
                    pred.text,
                    labels=[label] if method == "integrated_gradients" else None,
                    methods=(method,),
                )
            cache[ident] = attrs[0]
        except TextclfError as e:
            st.error(str(e))
    attr = cache.get(ident)
    if attr is None:
        return
    st.html(highlight_html(attr))
    toward = attr.top_tokens(5, sign="positive")
    away = attr.top_tokens(5, sign="negative")
    cols = st.columns(2)
    with cols[0]:
        st.markdown("**Strongest toward**" + (f" {attr.label}" if attr.label else ""))
        st.html(f'<div class="tc-chips">{token_chips_html(toward, direction="toward")}</div>')
    if attr.label:
        with cols[1]:
            st.markdown("**Strongest away**")
            st.html(f'<div class="tc-chips">{token_chips_html(away, direction="away")}</div>')
    if attr.truncated:
        st.info("The text is longer than the model reads; the grey end was not seen.")
