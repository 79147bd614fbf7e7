"""History page: every prediction of this session, searchable and downloadable."""

from __future__ import annotations

import streamlit as st

from textclf.app import components, session
from textclf.app.history import history_csv, history_frame, history_jsonl, search_history
from textclf.app.predictions import NO_LABEL, BatchRun

cfg = session.settings()
handle = session.model()

components.header("History", "everything classified in this session")


def _thresholds_for(run: BatchRun) -> list[float] | None:
    # A run of the current model uses the session's thresholds; another model's run is
    # shown as decided when it was predicted, under that model's saved thresholds.
    if run.model_fingerprint == handle.fingerprint:
        return session.thresholds(handle)
    state = st.session_state.get("thresholds", {})
    return state.get(run.model_fingerprint)


frame = history_frame(session.history(), session.batch_runs(), thresholds_for=_thresholds_for)
if frame.empty:
    st.info(
        "Nothing classified yet in this session. Texts from the Predict page and files from "
        "the Batch page appear here.",
        icon=":material/history:",
    )
    st.stop()

labels = [*sorted({lab for p in frame["predicted"] for lab in p}), NO_LABEL]
f1, f2, f3, f4 = st.columns([3, 2, 2, 1.4], vertical_alignment="bottom")
with f1:
    query = st.text_input("Search texts", key="history-query", placeholder="Words in the text")
with f2:
    chosen = st.multiselect("Predicted label", labels, key="history-labels", placeholder="Any")
with f3:
    sources = st.multiselect(
        "Source", sorted(frame["source"].unique()), key="history-sources", placeholder="Any"
    )
with f4:
    feedback_only = st.toggle("Feedback only", key="history-feedback")

shown = search_history(
    frame, query=query, labels=chosen, sources=sources, feedback_only=feedback_only
)
n_single = len(session.history())
st.caption(
    f"{len(shown):,} of {len(frame):,} predictions · {n_single} typed text(s), "
    f"{len(session.batch_runs())} batch file(s)"
)
components.results_table(
    shown.drop(columns=["predicted", "id"]).assign(time=shown["time"].str[11:19]),
    {
        "time": st.column_config.TextColumn("time (UTC)", width="small"),
        "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.0f"),
        "row": st.column_config.NumberColumn("row", width="small"),
    },
)
components.download_buttons(
    "textclf-history", lambda: history_csv(shown), lambda: history_jsonl(shown)
)

typed = {p.id: p for p in reversed(session.history())}
if typed:
    with st.expander("Give feedback on a typed text"):
        pick_id = st.selectbox(
            "Prediction",
            list(typed),
            format_func=lambda i: (
                f"{typed[i].created[11:19]} · "
                f"{', '.join(typed[i].predicted) or NO_LABEL} · {typed[i].text[:70]}"
            ),
            key="history-feedback-pick",
        )
        if pick_id is not None:
            pick = typed[pick_id]
            st.text(pick.text[:1000])
            components.feedback_box(cfg, pick, key=f"fb-{pick.id}")
