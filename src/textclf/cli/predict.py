"""``textclf predict``: labels and scores for every text in a file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from textclf.cli._common import (
    run,
)
from textclf.errors import TextclfError


def _write_predictions(path: Path, records: list[dict[str, Any]], labels: list[str]) -> None:
    import pandas as pd

    from textclf.atomic import atomic_path, write_text_atomic

    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        write_text_atomic(path, lines + "\n")
        return
    if suffix in (".csv", ".tsv"):
        flat = []
        for r in records:
            row = {k: v for k, v in r.items() if k not in ("scores", "top_k", "labels")}
            if "labels" in r:
                row["labels"] = "|".join(r["labels"])
            if "top_k" in r:
                row["top_k"] = "|".join(f"{t['label']}:{t['score']:.4f}" for t in r["top_k"])
            row.update({f"score_{lab}": r["scores"][lab] for lab in labels})
            flat.append(row)
        with atomic_path(path) as tmp:
            pd.DataFrame(flat).to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
        return
    raise TextclfError(f"{path}: unknown output type '{suffix}'; use .jsonl or .csv.")


def predict(
    model: Annotated[
        Path, typer.Option("--model", "-m", help="Model folder from 'textclf train'.")
    ],
    input_file: Annotated[
        str, typer.Option("--input", "-i", help="File of texts (CSV, TSV, JSONL, JSON, Parquet).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Predictions file, .jsonl or .csv.")
    ],
    text_column: Annotated[str | None, typer.Option("--text-column")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column")] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Override the saved decision threshold(s).")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Also list the K best labels with scores.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Predict labels for every text in a file; results keep the input order."""

    def body() -> None:
        import numpy as np

        from textclf.data.io import ColumnSpec, read_split
        from textclf.inference.pipeline import Predictor

        if output.suffix.lower() not in (".jsonl", ".ndjson", ".json", ".csv", ".tsv"):
            raise TextclfError(
                f"{output}: unknown output type '{output.suffix}'; use .jsonl or .csv."
            )
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise TextclfError(f"--threshold {threshold}: must be between 0 and 1.")
        predictor = Predictor.from_folder(model, batch_size=batch_size)
        spec = ColumnSpec(text=text_column, id_column=id_column)
        split = read_split(input_file, spec, name="input", require_labels=False)
        started = time.perf_counter()
        texts = split.dataset["text"]
        proba = predictor.predict_proba(texts, progress=True)
        pred = predictor.decide(proba, threshold=threshold)
        labels = list(predictor.info.labels)
        ids = split.dataset["id"] if "id" in split.dataset.column_names else None
        rows = split.dataset["row"]
        records: list[dict[str, Any]] = []
        for i in range(len(texts)):
            rec: dict[str, Any] = {"id": ids[i]} if ids is not None else {"row": rows[i]}
            if predictor.space.multilabel:
                rec["labels"] = [labels[j] for j in np.flatnonzero(pred[i])]
            else:
                rec["label"] = labels[int(pred[i])]
            rec["scores"] = {
                lab: round(float(p), 6) for lab, p in zip(labels, proba[i], strict=True)
            }
            if top_k:
                best = np.argsort(-proba[i])[:top_k]
                rec["top_k"] = [
                    {"label": labels[j], "score": round(float(proba[i, j]), 6)} for j in best
                ]
            records.append(rec)
        _write_predictions(output, records, labels)
        elapsed = time.perf_counter() - started
        skipped = split.skipped.get("empty_text", 0)
        note = (
            f"; {skipped} empty row(s) skipped (rows {split.skipped_rows['empty_text'][:5]})"
            if skipped
            else ""
        )
        print(f"Wrote {len(records)} predictions to {output} in {elapsed:.1f} s{note}.")

    run(body)
