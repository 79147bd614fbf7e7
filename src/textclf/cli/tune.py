"""``textclf tune``: hyperparameter search on Optuna; the best trial becomes the model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Columns,
    Experiment,
    NoTrack,
    Task,
    TrackingUri,
    TrainData,
    ValidationData,
    build_config,
    column_options,
    data_flags,
    print_evaluation,
    run,
    schedule_flags,
    tracking_flags,
    tracking_lines,
)


@column_options
def tune(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the best model, trials/ and tuning/."),
    ],
    train_file: TrainData = None,
    validation: ValidationData = None,
    test: Annotated[
        str | None,
        typer.Option("--test", help="Test data, used once on the best model (else split)."),
    ] = None,
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
    model: Annotated[
        str | None, typer.Option("--model", help="'default', a local folder or a hub name.")
    ] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", help="Fixed (not searched).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Fixed.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Fixed.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--learning-rate", help="Fixed.")] = None,
    max_length: Annotated[
        int | None, typer.Option("--max-length", help="Tokens per text, fixed (default: 128).")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seeds splits, training and the sampler (default: 42)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file (tune: holds the space).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Dotted override, fixed for every trial, e.g. train.warmup_ratio=0.1."
        ),
    ] = None,
    no_baselines: Annotated[
        bool, typer.Option("--no-baselines", help="Skip the baselines of the final evaluation.")
    ] = False,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip the best model's eval/report.html.")
    ] = False,
    tracking_uri: TrackingUri = None,
    no_track: NoTrack = False,
    experiment: Experiment = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Register the best model under this name."),
    ] = None,
) -> None:
    """Search hyperparameters with Optuna (TPE, pruning); export the best trial's model.

    Workers started with the same --storage and --study share one study: every trial
    runs once, and --trials counts the trials of all workers together.
    """

    def body() -> None:
        from textclf.tuning import tune as run_tune

        fixed_flags = schedule_flags(epochs, max_steps, batch_size, learning_rate, max_length)
        flags = {
            "output_dir": str(output),
            "seed": seed,
            **data_flags(train_file, validation, test, columns, task),
            "model.name": model,
            **fixed_flags,
            "eval.baselines": [] if no_baselines else None,
            "diagnostics.enabled": False if no_report else None,
            **tracking_flags(tracking_uri, no_track, experiment, register),
            "tune.trials": trials,
            "tune.timeout_s": timeout,
            "tune.storage": storage,
            "tune.study": study,
        }
        cfg = build_config(config=config, overrides=overrides or [], flags=flags)
        fixed = [k for k, v in fixed_flags.items() if v is not None]
        fixed += [item.partition("=")[0].strip() for item in overrides or []]
        result = run_tune(cfg, fixed=fixed)
        print(f"Study '{result.study}' in {result.storage}: {result.notes[0]}")
        print(f"This worker ran {result.ran} trial(s) in {result.total_runtime_s:.0f} s.")
        if result.best_trial is not None and result.best_value is not None:
            print(
                f"Best: trial {result.best_trial}, validation {result.metric} "
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
            print(f"Model folder: {result.output_dir}")
            report = result.output_dir / "eval" / "report.html"
            if report.is_file():
                print(f"Report:       {report}")
        print(f"Search:       {result.tuning_dir} (trials.csv, study.json, report.html)")
        for line in tracking_lines(result.tracking):
            print(line)

    run(body)
