"""``textclf cv``: k-fold cross-validation, the whole ``train`` pipeline once per fold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Backbone,
    Columns,
    ConfigOptions,
    Records,
    Restart,
    Schedule,
    Splits,
    Task,
    column_options,
    option_group,
    run,
    run_flags,
    tracking_lines,
)


@option_group(
    Splits,
    train="Labelled data, cut into the folds (validation is carved from each fold's rest).",
    validation=None,
    test=None,
)
@column_options
@option_group(
    Schedule,
    epochs="Passes over each fold's training part (default: 5).",
    max_steps="Stop each fold after this many optimizer steps (default: none).",
    batch_size="Texts per device and step (default: auto: 8 to 32 by data size).",
    learning_rate="Peak learning rate of AdamW (default: 0.0001).",
    max_length="Tokens read per text; longer texts are cut (default: 128).",
)
@option_group(
    Records,
    no_baselines="Skip the baselines (then there is no comparison).",
    no_report="Skip each fold's eval/report.html and figures.",
    register=None,
)
@option_group(
    Restart,
    resume="Continue an interrupted cross-validation; finished folds are kept.",
    overwrite="Replace a cross-validation in --output.",
)
@option_group(
    ConfigOptions,
    seed="Seeds the folds, the splits, initialisation and sampling (default: 42).",
    overrides="Dotted override for every fold (repeatable), e.g. train.learning_rate=3e-5.",
)
def cv(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the folds' runs and the summary."),
    ],
    splits: Splits = Splits(),
    folds: Annotated[
        int, typer.Option("--folds", "-k", help="How many folds (at least 2).", min=2)
    ] = 5,
    columns: Columns = Columns(),
    task: Task = None,
    model: Backbone = None,
    schedule: Schedule = Schedule(),
    setup: ConfigOptions = ConfigOptions(),
    restart: Restart = Restart(),
    records: Records = Records(),
) -> None:
    """Cross-validate: train and evaluate on k stratified folds; every example predicted once."""

    def body() -> None:
        from textclf.crossval import cross_validate

        flags = run_flags(output, setup.seed, splits, columns, task, model, schedule, records)
        result = cross_validate(
            setup.build(flags), folds=folds, resume=restart.resume, overwrite=restart.overwrite
        )
        print(result.markdown)
        for line in result.notes:
            print(f"Note: {line}")
        print(f"Summary:      {output / 'cv.md'} and cv.json")
        print(f"Predictions:  {output / 'oof_predictions.jsonl'} (each example, out of fold)")
        print(f"Fold runs:    {output}/fold-1 … fold-{folds} (model, eval/, report)")
        for line in tracking_lines(result.tracking):
            print(line)

    def interrupted() -> str:
        return (
            "interrupted: finished folds are kept, and the fold in progress keeps its last "
            "complete checkpoint; run the same command with --resume to continue."
        )

    run(body, interrupted=interrupted)
