"""Feedback page: what users said about the predictions, and the training file it makes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from textclf.app import components, session
from textclf.errors import DataError

cfg = session.settings()
handle = session.model()
info = handle.info
store = session.store(cfg)

components.header("Feedback", "verdicts on predictions, ready to train on")

scope = st.segmented_control(
    "Feedback on",
    ["this model's labels", "all models"],
    default="this model's labels",
    key="feedback-scope",
    help="'This model's labels': feedback on any model with the same task and labels "
    "(earlier versions of it included), which is what a training file for it can use.",
)
filters: dict[str, object] = (
    {"task": info.task, "labels": info.labels} if scope != "all models" else {}
)
# The verdicts hold the texts each user classified: with login, a user sees their own and
# a reviewer everyone's (security review).
everyone = cfg.sees_all_feedback(session.user())
if not everyone:
    filters["user"] = session.user()
records = store.records(**filters)  # type: ignore[arg-type]
stats = store.stats(**filters)
if not everyone:
    st.caption(
        f'Your verdicts only, {session.user()}: a reviewer (role = "reviewer" in the users '
        "file, or $TEXTCLF_APP_REVIEWERS) sees everyone's."
    )

c1, c2, c3, c4 = st.columns(4)
c1.metric("Verdicts", f"{stats.total:,}")
c2.metric("Confirmed", f"{stats.correct:,}")
c3.metric("Corrected", f"{stats.corrected:,}")
c4.metric("Corrected share", f"{stats.corrected / stats.total:.0%}" if stats.total else "–")
st.caption(f"Stored in `{cfg.feedback_db}`")

if not records:
    st.info(
        "No feedback yet. Give some on the Predict, Batch or History page: mark a prediction "
        "correct, or give the right label.",
        icon=":material/reviews:",
    )
    st.stop()

left, right = st.columns(2)
with left:
    st.markdown("**Labels most often corrected**")
    if stats.labels:
        st.dataframe(
            pd.DataFrame(
                {
                    "label": [c.label for c in stats.labels],
                    "wrongly predicted": [c.wrongly_predicted for c in stats.labels],
                    "missed": [c.missed for c in stats.labels],
                    "total": [c.total for c in stats.labels],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "total": st.column_config.ProgressColumn(
                    "total",
                    min_value=0,
                    max_value=max(c.total for c in stats.labels),
                    format="%d",
                )
            },
        )
    else:
        st.caption("No prediction has been corrected yet.")
with right:
    st.markdown("**Corrections: predicted → right**")
    if stats.confusions:
        st.dataframe(
            pd.DataFrame(stats.confusions, columns=["predicted", "right", "count"]),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No prediction has been corrected yet.")

for column, who, counts in zip(
    st.columns(2), ("user", "model"), (stats.by_user, stats.by_model), strict=True
):
    if who == "user" and not everyone:
        continue
    with column:
        st.markdown(f"**By {who}**")
        st.dataframe(
            pd.DataFrame(list(counts.items()), columns=[who, "verdicts"]),
            hide_index=True,
            width="stretch",
        )

st.markdown("**Latest verdicts**")
latest = list(reversed(records))[:200]
st.dataframe(
    pd.DataFrame(
        {
            "time (UTC)": [r.created[:19].replace("T", " ") for r in latest],
            "user": [r.user or "anonymous" for r in latest],
            "verdict": [r.verdict for r in latest],
            "text": [r.text for r in latest],
            "predicted": [", ".join(r.predicted) for r in latest],
            "right": [", ".join(r.labels) for r in latest],
            "comment": [r.comment or "" for r in latest],
            "model": [r.model_name for r in latest],
        }
    ),
    hide_index=True,
    width="stretch",
    height=components.table_height(len(latest)),
    column_config={"text": st.column_config.TextColumn("text", width="large")},
)

st.markdown("**Training file**")
if scope == "all models" and len({(r.task, tuple(sorted(r.model_labels))) for r in records}) > 1:
    st.caption(
        'The feedback comes from models with different labels; choose "this model\'s labels" '
        "to export a training file."
    )
else:

    def _export(suffix: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"feedback{suffix}"
            store.export(path, **filters)  # type: ignore[arg-type]
            return path.read_bytes()

    st.caption(
        "Text and right label(s) per row (the newest verdict per text), in the format "
        "`textclf train` reads. From the command line: "
        f"`textclf feedback export --model {handle.path} --output feedback.csv`."
    )
    try:
        components.download_buttons(
            "feedback",
            lambda: _export(".csv"),
            lambda: _export(".jsonl"),
            labels=("Training file (CSV)", "Training file (JSONL)"),
        )
    except DataError as e:
        st.error(str(e))
