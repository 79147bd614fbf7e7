"""The session history: every text classified and every batch file predicted, as one table
that can be searched and downloaded.

Example:
    >>> frame = history_frame(predictions, runs)  # doctest: +SKIP
    >>> search_history(frame, query="her2", labels=["luminal_b"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

from textclf.app.predictions import NO_LABEL, BatchRun, Prediction
from textclf.diagnostics.errors import spreadsheet_safe

COLUMNS = [
    "time",
    "model",
    "source",
    "row",
    "text",
    "prediction",
    "predicted",
    "confidence",
    "latency_ms",
    "feedback",
    "id",
]


def history_frame(
    predictions: Sequence[Prediction],
    runs: Sequence[BatchRun] = (),
    *,
    thresholds_for: Callable[[BatchRun], Sequence[float] | None] | None = None,
) -> pd.DataFrame:
    """Single predictions and batch rows, newest first.

    Args:
        predictions: Texts classified one at a time, oldest first.
        runs: Batch files predicted.
        thresholds_for: Thresholds to decide a batch run's rows with (default: the
            model's saved ones are not known here, so the run's rows are decided at
            ``None``, i.e. argmax / 0.5).

    Returns:
        Columns :data:`COLUMNS`; ``row`` is empty for typed texts, ``feedback`` is
        ``correct``/``corrected`` or empty.
    """
    parts = []
    if predictions:
        parts.append(
            pd.DataFrame(
                {
                    "time": [p.created for p in predictions],
                    "model": [p.model_name for p in predictions],
                    "source": [p.source for p in predictions],
                    "row": pd.array([p.row for p in predictions], dtype="Int64"),
                    "text": [p.text for p in predictions],
                    "prediction": [", ".join(p.predicted) or NO_LABEL for p in predictions],
                    "predicted": [list(p.predicted) for p in predictions],
                    "confidence": [p.confidence for p in predictions],
                    "latency_ms": [p.latency_ms for p in predictions],
                    "feedback": [p.feedback or "" for p in predictions],
                    "id": [p.id for p in predictions],
                }
            )
        )
    for run in runs:
        thresholds = thresholds_for(run) if thresholds_for else None
        res = run.frame(thresholds)
        n = len(res)
        parts.append(
            pd.DataFrame(
                {
                    "time": [run.created] * n,
                    "model": [run.model_name] * n,
                    "source": [run.name] * n,
                    "row": pd.array(res["row"], dtype="Int64"),
                    "text": res["text"],
                    "prediction": res["prediction"],
                    "predicted": res["predicted"],
                    "confidence": res["confidence"],
                    "latency_ms": [run.seconds * 1000 / max(1, n)] * n,
                    "feedback": [""] * n,
                    "id": [f"{run.id}-{r}" for r in res["row"]],
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    # Newest first; a batch file's rows in file order.
    order = frame.assign(_row=frame["row"].fillna(0)).sort_values(
        ["time", "_row"], ascending=[False, True], kind="stable"
    )
    return frame.loc[order.index].reset_index(drop=True)


def search_history(
    frame: pd.DataFrame,
    *,
    query: str = "",
    labels: Sequence[str] = (),
    sources: Sequence[str] = (),
    feedback_only: bool = False,
) -> pd.DataFrame:
    """Rows whose text contains ``query`` (case-insensitive), predicted as any of ``labels``,
    from any of ``sources``; only rows with feedback when ``feedback_only``."""
    keep = pd.Series(True, index=frame.index)
    if query.strip():
        keep &= frame["text"].str.contains(query.strip(), case=False, regex=False, na=False)
    if labels:
        wanted = set(labels)
        keep &= frame["predicted"].map(
            lambda p: bool(wanted.intersection(p)) or (not p and NO_LABEL in wanted)
        )
    if sources:
        keep &= frame["source"].isin(list(sources))
    if feedback_only:
        keep &= frame["feedback"] != ""
    return frame[keep]


def history_csv(frame: pd.DataFrame) -> bytes:
    """The table as CSV (labels joined with ``|``)."""
    out = frame.drop(columns=["prediction"]).copy()
    out["predicted"] = ["|".join(p) for p in frame["predicted"]]
    return spreadsheet_safe(out).to_csv(index=False).encode("utf-8")


def history_jsonl(frame: pd.DataFrame) -> bytes:
    """The table as JSON Lines (labels as lists)."""
    records = frame.drop(columns=["prediction"]).to_dict(orient="records")
    lines = []
    for rec in records:
        rec["predicted"] = list(rec["predicted"])
        rec["row"] = None if pd.isna(rec["row"]) else int(rec["row"])
        lines.append(json.dumps(rec, ensure_ascii=False, default=float))
    return ("\n".join(lines) + "\n").encode("utf-8")
