"""Predict page: one text in, label(s) with a bar per score, thresholds, why, feedback."""

from __future__ import annotations

import json
import random
from pathlib import Path

import streamlit as st

from textclf.app import components, session
from textclf.app.predictions import Prediction, classify
from textclf.app.render import chips_html, score_bars_html

cfg = session.settings()
handle = session.model()
info = handle.info


def _examples(folder: Path, limit: int = 50) -> list[str]:
    """Texts from the model's test predictions, to try the app without typing."""
    path = folder / "eval" / "predictions.jsonl"
    if not path.is_file():
        return []
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                text = json.loads(line).get("text")
            except json.JSONDecodeError:
                continue
            if isinstance(text, str) and text.strip():
                texts.append(text)
            if len(texts) >= limit:
                break
    return texts


def _load_example(texts: list[str]) -> None:
    st.session_state["predict-text"] = random.choice(texts)


def _current() -> Prediction | None:
    wanted = st.session_state.get("current")
    for p in reversed(session.history()):
        if p.id == wanted and p.model_fingerprint == handle.fingerprint:
            return p
    return None


components.header("Predict", f"model {handle.name}: {info.task}, {len(info.labels)} labels")

# Text on the left, the verdict on the right: on a laptop screen both fit above the fold.
col_text, col_result = st.columns([3, 2], gap="medium")
with col_text:
    text = st.text_area(
        "Text to classify",
        key="predict-text",
        height=160,
        placeholder="Paste or type a text…",
    )
    buttons = st.columns([1, 1, 1])
    with buttons[0]:
        go = st.button("Predict", type="primary", icon=":material/play_arrow:", width="stretch")
    # Opt-in (textclf app --examples): they are the data's texts, seen by every user.
    examples = _examples(handle.path) if cfg.examples else []
    if examples:
        with buttons[1]:
            st.button(
                "Example",
                on_click=_load_example,
                args=(examples,),
                icon=":material/shuffle:",
                help="A text from the model's test split.",
                width="stretch",
            )

if go:
    if not text.strip():
        with col_text:
            st.warning("Type or paste a text first.", icon=":material/edit:")
    else:
        new = classify(
            handle.predictor(),
            text,
            model_name=handle.name,
            model_fingerprint=handle.fingerprint,
            thresholds=session.thresholds(handle),
        )
        session.count_model_run()
        session.history().append(new)
        st.session_state["current"] = new.id

pred = _current()
if pred is None:
    with col_result, st.container(border=True):
        st.markdown("**Prediction**")
        st.caption(
            "The model gives every label a probability. Here you will see the predicted "
            "label(s), a bar per label, why the model chose them, and you can tell it when "
            "it is wrong."
        )
    st.stop()

summary = col_result.container(border=True)
tab_scores, tab_why, tab_feedback = st.tabs(["Scores", "Why this label?", "Give feedback"])

with tab_scores:
    bars = st.empty()
    thresholds = components.threshold_sliders(handle)  # None for multi-class (argmax)
    if info.task == "multilabel":
        shown = len(info.labels)
    else:
        narrow, _ = st.columns([1, 4])
        shown = int(
            narrow.number_input(
                "Top k",
                min_value=1,
                max_value=len(info.labels),
                value=min(5, len(info.labels)),
                key="predict-top-k",
                help="How many of the best labels to show.",
            )
        )
    if pred.feedback is None:  # what the user sees is what feedback records
        pred.predicted = pred.redecide(thresholds)
        pred.thresholds = thresholds
    bars.html(
        score_bars_html(
            pred.labels,
            pred.scores,
            predicted=pred.predicted,
            thresholds=thresholds,
            limit=shown,
        )
    )

with summary:
    st.markdown("**Predicted**")
    st.html(f'<div class="tc-chips">{chips_html(pred.predicted)}</div>')
    m1, m2 = st.columns(2)
    m1.metric(
        "Confidence",
        f"{pred.confidence:.1%}",
        help="Probability of the predicted label (multi-label: of the least sure predicted "
        "label; with none predicted, 1 minus the highest score).",
    )
    m2.metric("Latency", f"{pred.latency_ms:.0f} ms", help="Time to score the text.")
    if session.thresholds_changed(handle):
        st.caption("Decided with adjusted thresholds (see Scores).")
    if pred.feedback:
        st.caption(f":material/task_alt: Feedback given: {pred.feedback}.")

with tab_why:
    components.explain_box(handle, pred, key=f"why-{pred.id}")

with tab_feedback:
    components.feedback_box(cfg, pred, key=f"fb-{pred.id}")
