"""``textclf predict``: labels and scores for every text in a file, on standard input or
given on the command line."""

from __future__ import annotations

import sys
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
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Texts to predict, instead of --input.", metavar="TEXT", show_default=False
        ),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="File of texts (CSV, TSV, JSONL, JSON, Parquet); - reads standard input, one "
            "text per line (or a file of --format).",
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Predictions file: .jsonl, .json (one array), .csv or .tsv; - is JSON Lines "
            "on standard output.",
        ),
    ] = "-",
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
    """Predict labels for every text in a file, on standard input or given; in input order.

    A file is streamed in chunks, so any size fits in memory; the output appears only when
    every row is written. Without --output the records go to standard output.
    """

    def body() -> None:
        # Imports stay light here: on an exported model the whole command runs without
        # torch, transformers, datasets or pandas (see textclf.inference.onnx).
        from textclf.data.formats import check_format
        from textclf.errors import ConfigError
        from textclf.inference.files import STDIO, predict_file
        from textclf.inference.reader import InputColumns

        if texts and input_file is not None:
            raise ConfigError(f"--input {input_file}: give texts or --input, not both.")
        if not texts and input_file is None:
            raise ConfigError(
                "nothing to predict: give texts, --input FILE, or --input - to read standard input."
            )
        names = split_csv(column_names)
        summary = predict_file(
            model,
            input_file,
            output,
            texts=texts or None,
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
        to_stdout = str(summary.output) == STDIO
        print(
            f"Wrote {summary.n_written} predictions to "
            f"{'standard output' if to_stdout else summary.output} in "
            f"{summary.seconds:.1f} s ({summary.backend}){note}.",
            file=sys.stderr if to_stdout else sys.stdout,
        )

    run(body)
