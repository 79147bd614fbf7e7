"""``textclf predict``: labels and scores for every text in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import BatchSize, ColumnNames, IdColumn, TextColumn, run, split_csv


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
    text_column: TextColumn = None,
    id_column: IdColumn = None,
    column_names: ColumnNames = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Override the saved rule: the positive label's threshold (binary), every "
            "label's (multi-label), or the confidence below which a multi-class model "
            "abstains (label null).",
        ),
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Also list the K best labels with scores.")
    ] = None,
    batch_size: BatchSize = 64,
) -> None:
    """Predict labels for every text in a file; results keep the input order."""

    def body() -> None:
        from textclf.config import DataConfig
        from textclf.data.io import ColumnSpec
        from textclf.inference.files import predict_file

        spec = ColumnSpec.from_config(
            DataConfig(
                text_column=text_column, id_column=id_column, column_names=split_csv(column_names)
            )
        )
        summary = predict_file(
            model,
            input_file,
            output,
            spec=spec,
            threshold=threshold,
            top_k=top_k,
            batch_size=batch_size,
        )
        skipped = summary.skipped.get("empty_text", 0)
        note = (
            f"; {skipped} empty row(s) skipped (rows {summary.skipped_rows['empty_text'][:5]})"
            if skipped
            else ""
        )
        print(
            f"Wrote {summary.n_written} predictions to {summary.output} in "
            f"{summary.seconds:.1f} s{note}."
        )

    run(body)
