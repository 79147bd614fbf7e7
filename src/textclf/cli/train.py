"""``textclf train``: fine-tune, evaluate against baselines, save the model folder."""

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
    folder_lines,
    option_group,
    print_result,
    run,
    run_flags,
    tracking_lines,
)


@option_group(Splits)
@column_options
@option_group(
    Schedule,
    epochs="Passes over the training data (default: 5).",
    max_steps="Stop after this many optimizer steps (default: none).",
    batch_size="Texts per device and step; an optimizer step takes batch x accumulation x "
    "processes (default: auto: 8 to 32 by data size).",
    learning_rate="Peak learning rate of AdamW (default: 0.0001).",
    max_length="Tokens read per text; longer texts are cut (default: 128).",
)
@option_group(
    Records,
    no_baselines="Skip the baselines (TF-IDF, frozen embeddings, majority).",
    no_report="Skip eval/report.html, errors.csv and the figures.",
    register="Register the model under this name in the registry.",
)
@option_group(
    Restart,
    resume="Continue from the last checkpoint in --output.",
    overwrite="Replace a finished run in --output.",
)
@option_group(
    ConfigOptions,
    seed="Seeds splits, initialisation and sampling (default: 42).",
    overrides="Dotted override (repeatable), e.g. train.learning_rate=3e-5.",
)
def train(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the model, checkpoints and evaluation."),
    ],
    splits: Splits = Splits(),
    columns: Columns = Columns(),
    task: Task = None,
    model: Backbone = None,
    schedule: Schedule = Schedule(),
    setup: ConfigOptions = ConfigOptions(),
    restart: Restart = Restart(),
    records: Records = Records(),
) -> None:
    """Fine-tune a classifier; evaluate it on the test split with intervals, against baselines."""

    def body() -> None:
        from textclf.experiment import run_experiment

        flags = run_flags(output, setup.seed, splits, columns, task, model, schedule, records)
        result = run_experiment(
            setup.build(flags), resume=restart.resume, overwrite=restart.overwrite
        )
        if not result.evaluation and result.notes and result.notes[0].startswith("rank "):
            return  # another rank of a distributed run: rank 0 prints the summary
        print_result(result)
        for line in result.notes:
            print(f"Note: {line}")
        print("\n".join(folder_lines(result.output_dir)))
        for line in tracking_lines(result.tracking):
            print(line)

    def interrupted() -> str:
        from textclf.training.checkpoints import latest_complete_checkpoint, trained_snapshot

        folder = output / "checkpoints"
        if trained_snapshot(folder, move_aside=False) is not None:
            kept = f"training had finished and is kept ({folder / 'trained'})"
            return f"interrupted: {kept}; run the same command with --resume to finish the run."
        last = latest_complete_checkpoint(folder, move_aside=False)
        kept = (
            f"its last complete checkpoint ({last.name}) is kept"
            if last is not None
            else "no checkpoint was complete yet, so it starts from the beginning"
        )
        return f"interrupted: {kept}; run the same command with --resume to continue."

    run(body, interrupted=interrupted)
