"""``textclf demo``: the main job end to end on synthetic pathology reports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    ConfigOptions,
    NoTrack,
    TrackingUri,
    export_hint,
    option_group,
    print_result,
    run,
    tracking_lines,
)

# The demo's size: what fits make demo's 5-minute budget on 2 CPU cores with the default
# recipe (measured on the 2-core AVX512-BF16 development machine; see the note of issue 11).
DEMO_N = 448
DEMO_TEST_N = 400
TEST_SEED_OFFSET = 1_000_003  # test reports drawn apart from any training seed


@option_group(
    ConfigOptions,
    seed=None,
    config=None,
    overrides="Dotted override applied after the demo's own settings (repeatable), e.g. "
    "train.freeze_embeddings=true.",
)
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the demo's data and model.")
    ] = Path("demo-output"),
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="multilabel: the findings of each report (ER+, PR+, HER2+, nodes, LVI); "
            "multiclass: the surrogate subtype; binary: node status.",
        ),
    ] = "multilabel",
    n: Annotated[int, typer.Option("--n", help="Synthetic training reports.")] = DEMO_N,
    test_n: Annotated[
        int, typer.Option("--test-n", help="Fresh synthetic reports held out for the test.")
    ] = DEMO_TEST_N,
    epochs: Annotated[
        float | None,
        typer.Option(
            "--epochs",
            help="Passes over the training reports (default: the recipe's, at least "
            "train.min_steps optimizer steps).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the reports, the splits and training.")
    ] = 0,
    tracking_uri: TrackingUri = None,
    no_track: NoTrack = False,
    setup: ConfigOptions = ConfigOptions(),
) -> None:
    """Generate synthetic pathology reports, fine-tune the default backbone, evaluate, save.

    The training reports and the test reports are drawn independently (the test file is
    never seen in training, validation or the decision rule); validation is carved from
    the training reports. The model is held to the best baseline on macro-F1, the mean
    over the findings, so that the rare HER2+ finding counts as much as ER+.
    """

    def body() -> None:
        from textclf.data.synth import check_args, write_reports
        from textclf.errors import ConfigError
        from textclf.experiment import run_experiment

        try:  # before any report is written
            check_args(task, n, seed, names=("--task", "--n", "--seed"))
            check_args(task, test_n, seed, names=("--task", "--test-n", "--seed"))
        except ValueError as e:
            raise ConfigError(str(e)) from e
        started = time.perf_counter()
        data_file = output / "data" / "pathology_reports.csv"
        test_file = output / "data" / "test_reports.csv"
        # The demo's settings as flags, then --set: one validation, whose errors name the
        # option typed, before any report is written (a mistake leaves nothing behind).
        cfg = setup.build(
            {
                "output_dir": str(output / "model"),
                "seed": seed,
                "data.train": str(data_file),
                "data.test": str(test_file),
                "model.max_length": 256,  # 99% of the reports fit (mean 175 tokens)
                "train.epochs": epochs,
                "train.metric_for_best_model": "f1_macro",
                # The report's slowest parts, trimmed to the budget: UMAP (t-SNE and PCA
                # stay) and the attributions to one example of each kind (~10 s each).
                "diagnostics.projections": ["pca", "tsne"],
                "diagnostics.attribution_examples": 1,
                "tracking.uri": tracking_uri,
                "tracking.enabled": not no_track,
                "tracking.run_name": "demo",
            }
        )
        write_reports(data_file, task, n, seed=seed)
        write_reports(test_file, task, test_n, seed=seed + TEST_SEED_OFFSET)
        print(
            f"Generated {n} synthetic pathology reports for training ({data_file}) and "
            f"{test_n} fresh ones for the test ({test_file})."
        )
        result = run_experiment(cfg, overwrite=True)
        print_result(result)
        print(f"\nDemo finished in {time.perf_counter() - started:.0f} s.")
        print(f"  data:        {data_file}")
        print(
            f"  model:       {result.output_dir}  (config.json, model.safetensors, textclf.json, README.md)"
        )
        print(f"  evaluation:  {result.output_dir / 'eval'}  (metrics.json, predictions.jsonl)")
        report = result.output_dir / "eval" / "report.html"
        if report.is_file():
            print(f"  report:      {report}  (figures, errors.csv, attributions)")
        print(
            f"  predict:     textclf predict --model {result.output_dir} --input {data_file} --output predictions.jsonl"
        )
        for line in export_hint(result.output_dir, "  faster:      "):
            print(line)
        tracking = result.tracking
        if tracking.get("backend") == "mlflow":
            print(
                f"  tracking:    MLflow run {tracking.get('run_id') or '(local only)'} in experiment "
                f"'{tracking['experiment']}' at {tracking['uri']}"
            )
            if tracking.get("fallback"):
                print(f"  push it:     {tracking['sync_command']}")
            print(f"  MLflow UI:   {tracking['ui_hint']}  (then open http://127.0.0.1:5000)")
        else:
            for line in tracking_lines(tracking):
                print(f"  {line.strip()}")

    run(body)
