"""``textclf train``: fine-tune, evaluate against baselines, save the model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Columns,
    ConfigFile,
    Records,
    Schedule,
    Task,
    TrainData,
    ValidationData,
    build_config,
    column_options,
    data_flags,
    option_group,
    print_result,
    run,
    tracking_lines,
)


@column_options
@option_group(
    Schedule,
    epochs="Passes over the training data (default: 5).",
    max_steps="Stop after this many optimizer steps (default: none).",
    batch_size="Texts per optimizer step (default: auto: 8 to 32 by data size).",
    learning_rate="Peak learning rate of AdamW (default: 0.0001).",
    max_length="Tokens read per text; longer texts are cut (default: 128).",
)
@option_group(
    Records,
    no_baselines="Skip the baselines (TF-IDF, frozen embeddings, majority).",
    no_report="Skip eval/report.html, errors.csv and the figures.",
    register="Register the model under this name in the registry.",
)
def train(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the model, checkpoints and evaluation."),
    ],
    train_file: TrainData = None,
    validation: ValidationData = None,
    test: Annotated[
        str | None, typer.Option("--test", help="Test data (else split from --train).")
    ] = None,
    columns: Columns = Columns(),
    task: Task = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="'default' (the bundled all-MiniLM-L6-v2), a local folder or a hub name "
            "(default: default).",
        ),
    ] = None,
    schedule: Schedule = Schedule(),
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seeds splits, initialisation and sampling (default: 42)."),
    ] = None,
    config: ConfigFile = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Dotted override, e.g. train.learning_rate=3e-5."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a finished run in --output.")
    ] = False,
    records: Records = Records(),
) -> None:
    """Fine-tune a classifier; evaluate it on the test split with intervals, against baselines."""

    def body() -> None:
        from textclf.experiment import run_experiment

        flags = {
            "output_dir": str(output),
            "seed": seed,
            **data_flags(train_file, validation, test, columns, task),
            "model.name": model,
            **schedule.flags(),
            **records.flags(),
        }
        cfg = build_config(config=config, overrides=overrides or [], flags=flags)
        result = run_experiment(cfg, resume=resume, overwrite=overwrite)
        if not result.evaluation and result.notes and result.notes[0].startswith("rank "):
            return  # another rank of a distributed run: rank 0 prints the summary
        print_result(result)
        for line in result.notes:
            print(f"Note: {line}")
        print(f"Model folder: {result.output_dir}")
        print(f"Evaluation:   {result.output_dir / 'eval'}")
        report = result.output_dir / "eval" / "report.html"
        if report.is_file():
            print(f"Report:       {report}")
        for line in tracking_lines(result.tracking):
            print(line)

    run(body)
