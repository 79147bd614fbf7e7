"""``textclf data validate`` and ``data synth``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    ColumnNames,
    LabelColumn,
    LabelColumns,
    LabelNames,
    LabelSeparator,
    TextColumn,
    column_spec,
    run,
)
from textclf.errors import TextclfError

app = typer.Typer(help="Check data files and generate demo data.", no_args_is_help=True)


def _guess_split_name(path: str, position: int) -> str:
    stem = Path(path).stem.lower()
    for key, name in (
        ("train", "train"),
        ("dev", "validation"),
        ("val", "validation"),
        ("test", "test"),
    ):
        if key in stem:
            return name
    return (
        ("train", "validation", "test")[min(position, 2)] if position < 3 else f"file{position + 1}"
    )


@app.command("validate")
def data_validate(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Data files; the first (or the one named *train*) is the training split."
        ),
    ],
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    task: Annotated[str, typer.Option("--task")] = "auto",
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
) -> None:
    """Run the data checks alone and print the report (exit 2 when a check is fatal)."""

    def body() -> None:
        from textclf.data.io import read_split
        from textclf.data.labels import LabelSpace
        from textclf.data.validate import validate_splits

        if task not in ("auto", "binary", "multiclass", "multilabel"):
            raise TextclfError(f"--task {task}: use auto, binary, multiclass or multilabel.")
        spec = column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        names = [_guess_split_name(f, i) for i, f in enumerate(files)]
        if "train" not in names:
            names[0] = "train"
        splits = {}
        for name, f in zip(names, files, strict=True):
            splits[name if name not in splits else f"{name}:{f}"] = read_split(f, spec, name=name)
        train_split = splits["train"]
        space = LabelSpace.infer(
            train_split.dataset["labels"],
            task=task,
            order=spec.label_names or spec.label_columns,
            multilabel_source=bool(spec.label_columns or spec.label_separator),
            source=train_split.source,
        )
        report = validate_splits(splits, space)
        print(
            f"Task: {space.task}; {space.num_labels} labels: {', '.join(space.labels[:20])}"
            + (" …" if space.num_labels > 20 else "")
        )
        print(report.to_markdown())
        if json_output:
            from textclf.atomic import write_text_atomic

            write_text_atomic(json_output, json.dumps(report.to_dict(), indent=2))
        print(f"\n{len(report.errors)} error(s), {len(report.warnings)} warning(s).")
        report.raise_for_errors()

    run(body)


@app.command("synth")
def data_synth(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.csv, .tsv, .jsonl, .parquet).")
    ],
    task: Annotated[
        str, typer.Option("--task", help="binary|multiclass|multilabel")
    ] = "multiclass",
    n: Annotated[int, typer.Option("--n", help="Number of reports.")] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Generate synthetic breast-cancer pathology reports whose labels follow from their text."""

    def body() -> None:
        from textclf.data.synth import write_reports

        try:
            path = write_reports(output, task, n, seed=seed)
        except ValueError as e:
            raise TextclfError(str(e)) from e
        print(f"Wrote {n} {task} reports to {path}.")

    run(body)
