"""``textclf evaluate``, ``calibrate`` and ``compare``: a saved model on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    BatchSize,
    Columns,
    Measurement,
    TrainedModel,
    column_options,
    measurement_options,
    option_group,
    print_evaluation,
    run,
)
from textclf.data.formats import data_stem


@column_options
@measurement_options
def evaluate(
    model: TrainedModel,
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled file to evaluate on.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder for metrics.json/.md (default: MODEL/eval/<file>)."
        ),
    ] = None,
    train_file: Annotated[
        str | None, typer.Option("--train", help="Also fit the baselines on this file and compare.")
    ] = None,
    columns: Columns = Columns(),
    measurement: Measurement = Measurement(),
) -> None:
    """Evaluate a saved model on a labelled file: metrics with confidence intervals."""

    def body() -> None:
        from textclf.assess_files import evaluate_files

        ev = evaluate_files(
            model,
            data,
            train=train_file,
            spec=columns.spec(),
            **measurement.kwargs(),
        )
        out = ev.write(output or (model / "eval" / data_stem(data)))
        print_evaluation(ev.document)
        print(
            f"Wrote {out / 'metrics.json'}, {out / 'metrics.md'} and {out / 'predictions.jsonl'}."
        )

    run(body)


@option_group(Columns, id_column=None)  # writes no records: no ids to carry
def calibrate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder to update.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled VALIDATION file (never the test file).")
    ],
    columns: Columns = Columns(),
    no_temperature: Annotated[bool, typer.Option("--no-temperature", help="Keep T = 1.")] = False,
    no_thresholds: Annotated[
        bool, typer.Option("--no-thresholds", help="Keep the default decision.")
    ] = False,
    at_least_one: Annotated[
        bool, typer.Option("--at-least-one", help="Multi-label: always predict a label.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Calibrate even on the file recorded as the test split."),
    ] = False,
    batch_size: BatchSize = 64,
) -> None:
    """Refit the decision rule (temperature, thresholds) on validation data; save it in the model."""

    def body() -> None:
        from textclf.assess_files import calibrate_folder

        rule = calibrate_folder(
            model,
            data,
            spec=columns.spec(),
            calibrate=not no_temperature,
            tune_thresholds=not no_thresholds,
            at_least_one=at_least_one,
            force=force,
            batch_size=batch_size,
        )
        if rule.ece_before is not None and rule.ece_after is not None:
            print(f"Validation ECE {rule.ece_before:.4f} -> {rule.ece_after:.4f}.")
        for note in rule.notes:
            print(f"Decision rule: {note}.")
        print(
            f"Saved in {model / 'textclf.json'}; the stored metrics and the model card are marked "
            f"stale: re-measure with textclf evaluate --model {model} --data <test file>."
        )

    run(body)


@option_group(Columns, id_column=None)  # writes no records: no ids to carry
# Paired differences use the default BCa intervals: the option is not offered.
@option_group(Measurement, ci_method=None)
def compare(
    models: Annotated[
        list[Path],
        typer.Argument(metavar="MODEL", help="Model folders; the first is the reference."),
    ],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled file all models are evaluated on.")
    ],
    train_file: Annotated[
        str | None, typer.Option("--train", help="Fit the baselines on this file and include them.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write comparison.json and comparison.md here."),
    ] = None,
    columns: Columns = Columns(),
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Metric to compare (default: the task's headline)."),
    ] = None,
    measurement: Measurement = Measurement(),
) -> None:
    """Evaluate several saved models (and baselines) on one file; paired differences against the first."""

    def body() -> None:
        from textclf.assess_files import compare_files

        result = compare_files(
            models,
            data,
            train=train_file,
            spec=columns.spec(),
            metric=metric,
            **measurement.kwargs(),
        )
        print(result.markdown)
        if output:
            result.write(output)
            print(f"Wrote {output / 'comparison.json'} and {output / 'comparison.md'}.")

    run(body)
