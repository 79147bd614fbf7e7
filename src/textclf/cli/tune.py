"""``textclf tune``: hyperparameter search on Optuna; the best trial becomes the model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Backbone,
    Columns,
    ConfigOptions,
    Records,
    Schedule,
    Splits,
    Task,
    column_options,
    folder_lines,
    option_group,
    print_evaluation,
    run,
    run_flags,
    tracking_lines,
)


@option_group(Splits, test="Test data, used once on the best model (else split).")
@column_options
@option_group(
    Schedule,
    epochs="Fixed (not searched).",
    max_steps="Fixed.",
    batch_size="Fixed.",
    learning_rate="Fixed.",
    max_length="Tokens per text, fixed (default: 128).",
)
@option_group(
    Records,
    no_baselines="Skip the baselines of the final evaluation.",
    no_report="Skip the best model's eval/report.html.",
    register="Register the best model under this name.",
)
@option_group(
    ConfigOptions,
    seed="Seeds splits, training and the sampler (default: 42).",
    config="YAML config file (tune: holds the space).",
    overrides="Dotted override, fixed for every trial (repeatable), e.g. train.warmup_ratio=0.1.",
)
def tune(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the best model, trials/ and tuning/."),
    ],
    splits: Splits = Splits(),
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials", help="Trials in the whole study, all workers together (default: 20)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds after which this worker starts no new trial."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Study storage shared by workers: sqlite:///FILE, journal:FILE, "
            "postgresql://… (default: journal:OUTPUT/tuning/study.journal).",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the output folder's name).")
    ] = None,
    columns: Columns = Columns(),
    task: Task = None,
    model: Backbone = None,
    schedule: Schedule = Schedule(),
    setup: ConfigOptions = ConfigOptions(),
    records: Records = Records(),
) -> None:
    """Search hyperparameters with Optuna (TPE, pruning); export the best trial's model.

    Workers started with the same --storage and --study share one study: every trial
    runs once, and --trials counts the trials of all workers together.
    """

    def body() -> None:
        from textclf.tuning import tune as run_tune

        flags = {
            **run_flags(output, setup.seed, splits, columns, task, model, schedule, records),
            "tune.trials": trials,
            "tune.timeout_s": timeout,
            "tune.storage": storage,
            "tune.study": study,
        }
        cfg = setup.build(flags)
        fixed = [k for k, v in schedule.flags().items() if v is not None]
        fixed += setup.set_keys()
        result = run_tune(cfg, fixed=fixed)
        print(f"Study '{result.study}' in {result.storage}: {result.notes[0]}")
        print(f"This worker ran {result.ran} trial(s) in {result.total_runtime_s:.0f} s.")
        if result.best_trial is not None and result.best_value is not None:
            print(
                f"Kept: trial {result.best_trial}, validation {result.metric} "
                f"{result.best_value:.4f} (its best checkpoint)."
            )
            for key, value in result.best_params.items():
                print(
                    f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}"
                )
        print_evaluation(result.evaluation)
        for line in result.notes[1:] + result.warnings:
            print(f"Note: {line}")
        if result.output_dir is not None:
            print("\n".join(folder_lines(result.output_dir)))
        print(f"Search:       {result.tuning_dir} (trials.csv, study.json, report.html)")
        for line in tracking_lines(result.tracking):
            print(line)

    run(
        body,
        interrupted=lambda: (
            "interrupted: the study keeps its finished trials; run the same command again to "
            "continue it (the interrupted trial is run again, so --trials still holds)."
        ),
    )
