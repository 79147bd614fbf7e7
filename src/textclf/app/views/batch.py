"""Batch page: upload a file, pick the text column, predict with progress, filter, download."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import streamlit as st

from textclf.app import components, session
from textclf.app.batch import UPLOAD_TYPES, UploadTable, read_upload, texts_from
from textclf.app.predictions import NO_LABEL, BatchRun, filter_results, results_csv, results_jsonl
from textclf.errors import DataError

CHUNK = 256  # texts per progress-bar step

cfg = session.settings()
handle = session.model()
info = handle.info

components.header("Batch", f"a whole file at once, with model {handle.name}")

uploaded = st.file_uploader(
    "Upload a file of texts",
    type=list(UPLOAD_TYPES),
    key="batch-file",
    help=(
        "CSV, TSV, JSON Lines, JSON, Parquet, or plain text with one text per line; UTF-8; "
        f"up to {cfg.max_upload_mb:g} MB and {cfg.max_rows:,} rows."
    ),
)


def _table() -> UploadTable | None:
    """The uploaded file parsed once (kept while the same upload is in the widget)."""
    if uploaded is None:
        return None
    ident = (uploaded.file_id, uploaded.name, uploaded.size)
    cached = st.session_state.get("batch-table")
    if cached is not None and cached[0] == ident:
        return cached[1]
    try:
        table = read_upload(
            uploaded.name,
            uploaded.getvalue(),
            max_bytes=cfg.max_upload_bytes,
            max_rows=cfg.max_rows,
        )
    except DataError as e:
        st.session_state.pop("batch-table", None)
        st.error(str(e), icon=":material/error:")
        return None
    st.session_state["batch-table"] = (ident, table)
    return table


def _predict(table: UploadTable, column: str) -> None:
    split = texts_from(table, column)
    texts: list[str] = split.dataset["text"]
    rows: list[int] = split.dataset["row"]
    predictor = handle.predictor()
    bar = st.progress(0.0, text=f"Predicting {len(texts):,} texts…")
    started = time.perf_counter()
    parts = []
    for start in range(0, len(texts), CHUNK):
        parts.append(predictor.predict_proba(texts[start : start + CHUNK]))
        done = min(len(texts), start + CHUNK)
        bar.progress(done / len(texts), text=f"Predicted {done:,} of {len(texts):,} texts")
    seconds = time.perf_counter() - started
    bar.empty()
    session.count_model_run()
    run = BatchRun(
        name=table.name,
        column=column,
        task=info.task,
        labels=list(info.labels),
        proba=np.concatenate(parts) if parts else np.zeros((0, len(info.labels))),
        rows=list(rows),
        texts=list(texts),
        n_skipped=split.skipped.get("empty_text", 0),
        seconds=seconds,
        model_name=handle.name,
        model_fingerprint=handle.fingerprint,
        at_least_one=info.rule.at_least_one,
    )
    session.batch_runs().append(run)
    st.session_state["batch-current"] = run.id


table = _table()
if table is not None:
    st.caption(
        f"**{table.name}**: {len(table.frame):,} rows · columns: "
        + ", ".join(f"`{c}`" for c in table.frame.columns[:12])
    )
    pick, action = st.columns([3, 1], vertical_alignment="bottom")
    with pick:
        column = st.selectbox(
            "Text column",
            table.text_columns,
            index=0,
            key=f"batch-column-{table.name}",
            help="Columns that hold text; the best guess comes first.",
        )
    with action:
        go = st.button(
            f"Predict {len(table.frame):,} texts",
            type="primary",
            icon=":material/play_arrow:",
            width="stretch",
        )
    with st.expander("Preview (first 5 rows)"):
        st.dataframe(table.frame.head(5), hide_index=True, width="stretch")
    if go:
        try:
            _predict(table, column)
        except DataError as e:
            st.error(str(e), icon=":material/error:")

run = next(
    (
        r
        for r in session.batch_runs()
        if r.id == st.session_state.get("batch-current")
        and r.model_fingerprint == handle.fingerprint
    ),
    None,
)
if run is None or (uploaded is not None and uploaded.name != run.name):
    st.stop()  # a new file is waiting to be predicted (its old results are in History)

st.divider()
thresholds = session.thresholds(handle)
results = run.frame(thresholds)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Texts predicted", f"{len(results):,}")
c2.metric("Empty rows skipped", f"{run.n_skipped:,}")
c3.metric("Time", f"{run.seconds:.1f} s")
c4.metric("Texts per second", f"{len(results) / max(run.seconds, 1e-9):,.0f}")
if session.thresholds_changed(handle):
    st.caption("Decided with the thresholds adjusted on the Predict page.")

st.markdown(f"**Results** · {run.name}, column `{run.column}`")
f1, f2, f3 = st.columns([2, 2, 2])
with f1:
    options = list(info.labels) + ([NO_LABEL] if info.task == "multilabel" else [])
    chosen = st.multiselect(
        "Predicted label", options, key="batch-filter-labels", placeholder="Any label"
    )
with f2:
    low, high = st.slider(
        "Confidence",
        min_value=0.0,
        max_value=1.0,
        value=(0.0, 1.0),
        step=0.01,
        key="batch-filter-confidence",
    )
with f3:
    query = st.text_input("Text contains", key="batch-filter-query", placeholder="Search texts")
shown = filter_results(results, labels=chosen, min_confidence=low, max_confidence=high, query=query)
st.caption(f"{len(shown):,} of {len(results):,} rows")
score_config = {
    f"score_{lab}": st.column_config.NumberColumn(lab, format="%.3f") for lab in info.labels
}
components.results_table(
    shown.drop(columns=["predicted"]),
    {
        "row": st.column_config.NumberColumn("row", width="small"),
        "prediction": st.column_config.TextColumn("prediction"),
        **score_config,
    },
)
stem = Path(run.name).stem
components.download_buttons(
    f"{stem}-predictions",
    lambda: results_csv(shown, info.task),
    lambda: results_jsonl(shown, info.task),
)

with st.expander("Give feedback on a row"):
    if len(shown) == 0:
        st.caption("No rows match the filters.")
    else:
        positions = {int(r): i for i, r in enumerate(run.rows)}
        row = st.selectbox(
            "Row",
            list(shown["row"])[:1000],
            key="batch-feedback-row",
            help="Rows of the filtered table (the first 1,000).",
        )
        index = positions[int(row)]
        cache = st.session_state.setdefault("batch-predictions", {})
        pred = cache.setdefault(f"{run.id}-{row}", run.prediction(index, thresholds))
        if pred.feedback is None:
            pred.predicted = pred.redecide(thresholds)
        st.text(pred.text[:1000])
        st.caption(f"Predicted: **{', '.join(pred.predicted) or NO_LABEL}**")
        components.feedback_box(cfg, pred, key=f"fb-{pred.id}")
