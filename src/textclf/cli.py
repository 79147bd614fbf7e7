"""The ``textclf`` command line: thin Typer commands over the public API.

User errors (:class:`textclf.errors.TextclfError`) print one line and exit with code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from textclf._version import __version__
from textclf.errors import TextclfError

app = typer.Typer(
    help="Fine-tune transformer encoders for binary, multi-class and multi-label text classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Check data files and generate demo data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_state = {"debug": False}
T = TypeVar("T")
logger = logging.getLogger("textclf.cli")


def _version(value: bool) -> None:
    if value:
        print(f"textclf {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """textclf: data in, fine-tuned classifier out, predictions back."""
    _state["debug"] = debug
    level = logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("datasets", "transformers", "urllib3", "filelock", "fsspec", "httpx"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.ERROR)
    if not debug:
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        # datasets logs a reader's failure at ERROR before raising it; textclf.data.io turns
        # that exception into the one "error:" line, so the log line would only repeat it.
        # datasets and transformers set their loggers' levels from these variables when they
        # are (lazily) imported, overriding the setLevel calls above.
        os.environ.setdefault("DATASETS_VERBOSITY", "critical")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        logging.getLogger("datasets").setLevel(logging.CRITICAL)
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="torch")


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; turn user errors into one line and exit code 2."""
    try:
        return fn()
    except TextclfError as e:
        if _state["debug"]:
            raise
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(code=130) from None


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


# ---------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------


def _build_config(
    *,
    config: Path | None,
    overrides: list[str],
    flags: dict[str, Any],
) -> Any:
    from textclf.config import ExperimentConfig, apply_overrides, load_config

    cfg = load_config(config) if config else ExperimentConfig()
    dotted = [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]
    # Flags first, then --set: the more specific --set wins.
    return apply_overrides(cfg, dotted + list(overrides))


def _print_metrics(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from textclf.evaluation.metrics import headline_metric

    console = Console(stderr=False)
    table = Table(
        title=f"{result.eval_split} metrics ({result.n_eval} examples, {result.space.task})"
    )
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("majority class", justify="right")
    for name, value in result.metrics.items():
        ref = result.baseline.get(name, float("nan"))
        table.add_row(name, f"{value:.4f}", f"{ref:.4f}")
    console.print(table)
    head = headline_metric(result.space.task)
    console.print(
        f"[bold]{head} = {result.metrics.get(head, float('nan')):.4f}[/bold] "
        f"(majority class: {result.baseline.get(head, float('nan')):.4f}); "
        f"training took {result.train_runtime_s:.0f} s, the whole run {result.total_runtime_s:.0f} s."
    )


@app.command()
def train(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the model, checkpoints and evaluation."),
    ],
    train_file: Annotated[
        str | None,
        typer.Option(
            "--train", help="Training data: CSV, TSV, JSONL, JSON, Parquet or a hub dataset."
        ),
    ] = None,
    validation: Annotated[
        str | None, typer.Option("--validation", help="Validation data (else split from --train).")
    ] = None,
    test: Annotated[
        str | None, typer.Option("--test", help="Test data (else split from --train).")
    ] = None,
    text_column: Annotated[str | None, typer.Option("--text-column")] = None,
    label_column: Annotated[str | None, typer.Option("--label-column")] = None,
    label_columns: Annotated[
        str | None,
        typer.Option("--label-columns", help="Comma-separated 0/1 columns (multi-label)."),
    ] = None,
    label_separator: Annotated[
        str | None,
        typer.Option("--label-separator", help="Separator of several labels in one cell."),
    ] = None,
    label_names: Annotated[
        str | None, typer.Option("--label-names", help="File naming integer label ids.")
    ] = None,
    column_names: Annotated[
        str | None,
        typer.Option("--column-names", help="Comma-separated names for a headerless file."),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="auto|binary|multiclass|multilabel")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="'default', a local folder or a hub name.")
    ] = None,
    epochs: Annotated[float | None, typer.Option("--epochs")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    learning_rate: Annotated[float | None, typer.Option("--learning-rate")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file.")] = None,
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
) -> None:
    """Fine-tune a classifier and evaluate it on the test split."""

    def body() -> None:
        from textclf.experiment import run_experiment

        flags = {
            "output_dir": str(output),
            "seed": seed,
            "data.train": train_file,
            "data.validation": validation,
            "data.test": test,
            "data.text_column": text_column,
            "data.label_column": label_column,
            "data.label_columns": _split_csv(label_columns),
            "data.label_separator": label_separator,
            "data.label_names": label_names,
            "data.column_names": _split_csv(column_names),
            "data.task": task,
            "model.name": model,
            "model.max_length": max_length,
            "train.epochs": epochs,
            "train.max_steps": max_steps,
            "train.batch_size": batch_size,
            "train.learning_rate": learning_rate,
        }
        cfg = _build_config(config=config, overrides=overrides or [], flags=flags)
        result = run_experiment(cfg, resume=resume, overwrite=overwrite)
        _print_metrics(result)
        print(f"Model folder: {result.output_dir}")
        print(f"Evaluation:   {result.output_dir / 'eval'}")

    _run(body)


# ---------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------


def _write_predictions(path: Path, records: list[dict[str, Any]], labels: list[str]) -> None:
    import pandas as pd

    from textclf.atomic import atomic_path, write_text_atomic

    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        write_text_atomic(path, lines + "\n")
        return
    if suffix in (".csv", ".tsv"):
        flat = []
        for r in records:
            row = {k: v for k, v in r.items() if k not in ("scores", "top_k", "labels")}
            if "labels" in r:
                row["labels"] = "|".join(r["labels"])
            if "top_k" in r:
                row["top_k"] = "|".join(f"{t['label']}:{t['score']:.4f}" for t in r["top_k"])
            row.update({f"score_{lab}": r["scores"][lab] for lab in labels})
            flat.append(row)
        with atomic_path(path) as tmp:
            pd.DataFrame(flat).to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
        return
    raise TextclfError(f"{path}: unknown output type '{suffix}'; use .jsonl or .csv.")


@app.command()
def predict(
    model: Annotated[
        Path, typer.Option("--model", "-m", help="Model folder from 'textclf train'.")
    ],
    input_file: Annotated[
        str, typer.Option("--input", "-i", help="File of texts (CSV, TSV, JSONL, JSON, Parquet).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Predictions file, .jsonl or .csv.")
    ],
    text_column: Annotated[str | None, typer.Option("--text-column")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column")] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Override the saved decision threshold(s).")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Also list the K best labels with scores.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Predict labels for every text in a file; results keep the input order."""

    def body() -> None:
        import numpy as np

        from textclf.data.io import ColumnSpec, read_split
        from textclf.inference.pipeline import Predictor

        if output.suffix.lower() not in (".jsonl", ".ndjson", ".json", ".csv", ".tsv"):
            raise TextclfError(
                f"{output}: unknown output type '{output.suffix}'; use .jsonl or .csv."
            )
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise TextclfError(f"--threshold {threshold}: must be between 0 and 1.")
        predictor = Predictor.from_folder(model, batch_size=batch_size)
        spec = ColumnSpec(text=text_column, id_column=id_column)
        split = read_split(input_file, spec, name="input", require_labels=False)
        started = time.perf_counter()
        texts = split.dataset["text"]
        proba = predictor.predict_proba(texts, progress=True)
        pred = predictor.decide(proba, threshold=threshold)
        labels = list(predictor.info.labels)
        ids = split.dataset["id"] if "id" in split.dataset.column_names else None
        rows = split.dataset["row"]
        records: list[dict[str, Any]] = []
        for i in range(len(texts)):
            rec: dict[str, Any] = {"id": ids[i]} if ids is not None else {"row": rows[i]}
            if predictor.space.multilabel:
                rec["labels"] = [labels[j] for j in np.flatnonzero(pred[i])]
            else:
                rec["label"] = labels[int(pred[i])]
            rec["scores"] = {
                lab: round(float(p), 6) for lab, p in zip(labels, proba[i], strict=True)
            }
            if top_k:
                best = np.argsort(-proba[i])[:top_k]
                rec["top_k"] = [
                    {"label": labels[j], "score": round(float(proba[i, j]), 6)} for j in best
                ]
            records.append(rec)
        _write_predictions(output, records, labels)
        elapsed = time.perf_counter() - started
        skipped = split.skipped.get("empty_text", 0)
        note = (
            f"; {skipped} empty row(s) skipped (rows {split.skipped_rows['empty_text'][:5]})"
            if skipped
            else ""
        )
        print(f"Wrote {len(records)} predictions to {output} in {elapsed:.1f} s{note}.")

    _run(body)


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------


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


@data_app.command("validate")
def data_validate(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Data files; the first (or the one named *train*) is the training split."
        ),
    ],
    text_column: Annotated[str | None, typer.Option("--text-column")] = None,
    label_column: Annotated[str | None, typer.Option("--label-column")] = None,
    label_columns: Annotated[str | None, typer.Option("--label-columns")] = None,
    label_separator: Annotated[str | None, typer.Option("--label-separator")] = None,
    label_names: Annotated[str | None, typer.Option("--label-names")] = None,
    column_names: Annotated[str | None, typer.Option("--column-names")] = None,
    task: Annotated[str, typer.Option("--task")] = "auto",
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
) -> None:
    """Run the data checks alone and print the report (exit 2 when a check is fatal)."""

    def body() -> None:
        from textclf.config import DataConfig
        from textclf.data.io import ColumnSpec, read_split
        from textclf.data.labels import LabelSpace
        from textclf.data.validate import validate_splits

        dc = DataConfig(
            text_column=text_column,
            label_column=label_column,
            label_columns=_split_csv(label_columns),
            label_separator=label_separator,
            label_names=label_names,
            column_names=_split_csv(column_names),
            task=task,  # type: ignore[arg-type]
        )
        spec = ColumnSpec.from_config(dc)
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

    _run(body)


@data_app.command("synth")
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

    _run(body)


# ---------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------


@app.command()
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the demo's data and model.")
    ] = Path("demo-output"),
    n: Annotated[int, typer.Option("--n", help="Synthetic reports to generate.")] = 1500,
    epochs: Annotated[float, typer.Option("--epochs")] = 4,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Generate synthetic pathology reports, fine-tune the default backbone, evaluate, save."""

    def body() -> None:
        from textclf.config import ExperimentConfig
        from textclf.data.synth import write_reports
        from textclf.experiment import run_experiment

        started = time.perf_counter()
        data_file = write_reports(
            output / "data" / "pathology_reports.csv", "multiclass", n, seed=seed
        )
        print(f"Generated {n} synthetic pathology reports: {data_file}")
        cfg = ExperimentConfig(output_dir=str(output / "model"), seed=seed)
        cfg.data.train = str(data_file)
        cfg.model.max_length = 256
        cfg.train.epochs = epochs
        cfg.train.batch_size = 16
        result = run_experiment(cfg, overwrite=True)
        _print_metrics(result)
        print(f"\nDemo finished in {time.perf_counter() - started:.0f} s.")
        print(f"  data:        {data_file}")
        print(
            f"  model:       {result.output_dir}  (config.json, model.safetensors, textclf.json, README.md)"
        )
        print(f"  evaluation:  {result.output_dir / 'eval'}  (metrics.json, predictions.jsonl)")
        print(
            f"  predict:     textclf predict --model {result.output_dir} --input {data_file} --output predictions.jsonl"
        )

    _run(body)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
