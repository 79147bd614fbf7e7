"""``textclf predict``: labels and scores for every text in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Backend,
    ColumnNames,
    Device,
    FileFormat,
    IdColumn,
    TextColumn,
    TrainedModel,
    run,
    split_csv,
)


def predict(
    model: TrainedModel,
    input_file: Annotated[
        str, typer.Option("--input", "-i", help="File of texts (CSV, TSV, JSONL, JSON, Parquet).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Predictions file: .jsonl, .json (one array), .csv or .tsv."
        ),
    ],
    text_column: TextColumn = None,
    id_column: IdColumn = None,
    column_names: ColumnNames = None,
    file_format: FileFormat = None,
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
    backend: Backend = "auto",
    device: Device = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="torch backend: auto (fp32 on CPU, bf16 on a GPU where faster), fp32 or bf16.",
        ),
    ] = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", help="Cap on texts per forward pass (default: a token budget)."
        ),
    ] = None,
) -> None:
    """Predict labels for every text in a file; results keep the input order.

    The file is streamed in chunks, so any size fits in memory; the output appears only
    when every row is written.
    """

    def body() -> None:
        # Imports stay light here: on an exported model the whole command runs without
        # torch, transformers, datasets or pandas (see textclf.inference.onnx).
        from textclf.data.formats import check_format
        from textclf.inference.files import predict_file
        from textclf.inference.reader import InputColumns

        names = split_csv(column_names)
        summary = predict_file(
            model,
            input_file,
            output,
            spec=InputColumns(
                text=text_column,
                id_column=id_column,
                column_names=tuple(names) if names else None,
                file_format=check_format(file_format),
            ),
            threshold=threshold,
            top_k=top_k,
            batch_size=batch_size,
            backend=backend,
            device=device,
            precision=precision,
        )
        skipped = summary.skipped.get("empty_text", 0)
        note = (
            f"; {skipped} empty row(s) skipped (rows {summary.skipped_rows['empty_text'][:5]})"
            if skipped
            else ""
        )
        if summary.n_abstained:
            note += f"; {summary.n_abstained} given no label (no score reached --threshold)"
        print(
            f"Wrote {summary.n_written} predictions to {summary.output} in "
            f"{summary.seconds:.1f} s ({summary.backend}){note}."
        )

    run(body)
