"""The ``textclf`` command line: thin Typer commands over the public API.

User errors (:class:`textclf.errors.TextclfError`) print one line and exit with code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from textclf._version import __version__
from textclf.errors import RunFinishedError, TextclfError, os_error_message

app = typer.Typer(
    help="Fine-tune transformer encoders for binary, multi-class and multi-label text classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Check data files and generate demo data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
tracking_app = typer.Typer(
    help="Check the experiment tracker; push runs recorded while it was down.",
    no_args_is_help=True,
)
app.add_typer(tracking_app, name="tracking")

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
        # MLflow configures its own loggers from this variable when it is imported.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        logging.getLogger("datasets").setLevel(logging.CRITICAL)
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="torch")


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; turn user errors into one line and exit code 2."""
    try:
        return fn()
    except (typer.Exit, typer.Abort):
        raise
    except RunFinishedError as e:
        print(f"note: {e}")
        raise typer.Exit(code=0) from None
    except TextclfError as e:
        if _state["debug"]:
            raise
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(code=130) from None
    except Exception as e:
        if _state["debug"]:
            raise
        message = os_error_message(e)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        print(
            f"error: unexpected {type(e).__name__}: {e}. This is a bug in textclf: run the same "
            "command with --debug for the traceback and include it in a bug report.",
            file=sys.stderr,
        )
        raise typer.Exit(code=1) from None


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


# Options shared by every command that reads labelled data.
TextColumn = Annotated[str | None, typer.Option("--text-column")]
LabelColumn = Annotated[str | None, typer.Option("--label-column")]
LabelColumns = Annotated[
    str | None, typer.Option("--label-columns", help="Comma-separated 0/1 columns.")
]
LabelSeparator = Annotated[str | None, typer.Option("--label-separator")]
LabelNames = Annotated[
    str | None, typer.Option("--label-names", help="File naming integer label ids.")
]
ColumnNames = Annotated[
    str | None, typer.Option("--column-names", help="Names for a headerless file.")
]
TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI (default MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).",
    ),
]
NoTrack = Annotated[
    bool, typer.Option("--no-track", help="Do not record the run in the experiment tracker.")
]


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


def _print_evaluation(doc: dict[str, Any]) -> None:
    """The headline metrics with intervals (and baselines) as a terminal table."""
    from rich.console import Console
    from rich.table import Table

    from textclf.evaluation.report import comparison_sentence, headline_table

    if not doc:
        print("No validation or test split: nothing was evaluated.")
        return
    header, rows = headline_table(doc)
    level = round(100 * doc["confidence"])
    table = Table(
        title=f"{doc['split']} split: {doc['n_examples']} examples, {doc['task']}; "
        f"value [{level}% CI], {doc['n_resamples']} bootstrap resamples"
    )
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    sentence = comparison_sentence(doc)
    if sentence:
        console.print(sentence)
    if doc.get("note"):
        console.print(f"[yellow]{doc['note']}[/yellow]")


def _print_result(result: Any) -> None:
    _print_evaluation(result.evaluation)
    print(
        f"Training took {result.train_runtime_s:.0f} s, the whole run {result.total_runtime_s:.0f} s."
    )


def _tracking_lines(tracking: dict[str, Any]) -> list[str]:
    """Where the run was tracked, how to look at it, and how to push what the server missed."""
    if not tracking or tracking.get("backend") in (None, "none"):
        return ["Tracking:     off"]
    where = f"{tracking['backend']} run {tracking.get('run_id') or '(local only)'}"
    lines = [
        f"Tracking:     {where} in experiment '{tracking.get('experiment')}' at {tracking.get('uri')}"
    ]
    if tracking.get("fallback"):
        lines.append(
            f"              not all records reached the server; they are in {tracking['fallback']}"
        )
        lines.append(f"              push them when it is back: {tracking.get('sync_command')}")
    if tracking.get("ui_hint"):
        lines.append(f"              view it:  {tracking['ui_hint']}")
    return lines


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
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
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
    no_baselines: Annotated[
        bool, typer.Option("--no-baselines", help="Skip the TF-IDF and majority baselines.")
    ] = False,
    no_report: Annotated[
        bool,
        typer.Option("--no-report", help="Skip eval/report.html, errors.csv and the figures."),
    ] = False,
    tracking_uri: TrackingUri = None,
    no_track: NoTrack = False,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Tracking experiment (default: the data's name)."),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Register the model under this name in the registry."),
    ] = None,
) -> None:
    """Fine-tune a classifier; evaluate it on the test split with intervals, against baselines."""

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
            "eval.baselines": [] if no_baselines else None,
            "diagnostics.enabled": False if no_report else None,
            "tracking.uri": tracking_uri,
            "tracking.enabled": False if no_track else None,
            "tracking.experiment": experiment,
            "tracking.registered_model": register,
        }
        cfg = _build_config(config=config, overrides=overrides or [], flags=flags)
        result = run_experiment(cfg, resume=resume, overwrite=overwrite)
        _print_result(result)
        for line in result.notes:
            print(f"Note: {line}")
        print(f"Model folder: {result.output_dir}")
        print(f"Evaluation:   {result.output_dir / 'eval'}")
        report = result.output_dir / "eval" / "report.html"
        if report.is_file():
            print(f"Report:       {report}")
        for line in _tracking_lines(result.tracking):
            print(line)

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
# evaluate / calibrate / compare
# ---------------------------------------------------------------------------------------


def _column_spec(
    text_column: str | None,
    label_column: str | None,
    label_columns: str | None,
    label_separator: str | None,
    label_names: str | None,
    column_names: str | None,
) -> Any:
    from textclf.config import DataConfig
    from textclf.data.io import ColumnSpec

    return ColumnSpec.from_config(
        DataConfig(
            text_column=text_column,
            label_column=label_column,
            label_columns=_split_csv(label_columns),
            label_separator=label_separator,
            label_names=label_names,
            column_names=_split_csv(column_names),
        )
    )


def _read_labelled(path: str, spec: Any, space: Any, name: str) -> Any:
    """Read a labelled file and check its labels against the model's."""
    from textclf.data.io import read_split
    from textclf.errors import DataError

    split = read_split(path, spec, name=name)
    unknown = space.unknown(split.dataset["labels"])
    if unknown:
        names = sorted(unknown)[:5]
        raise DataError(
            f"{path}: label(s) {names} are not among the model's {space.num_labels} labels; "
            "check --label-column / --label-names, or use a model trained on these labels."
        )
    return split


def _eval_config(n_resamples: int, ci_method: str, confidence: float, baselines: bool) -> Any:
    from textclf.config import EvalConfig

    try:
        return EvalConfig(
            n_resamples=n_resamples,
            ci_method=ci_method,  # type: ignore[arg-type]
            confidence=confidence,
            baselines=["tfidf_lr", "tfidf_cnb", "majority"] if baselines else [],
        )
    except ValueError as e:
        raise TextclfError(f"invalid evaluation option: {e.errors()[0]['msg']}.") from e  # type: ignore[attr-defined]


@dataclass
class _FileEvaluation:
    predictor: Any
    split: Any
    train: Any
    rule: Any
    doc: dict[str, Any]
    proba: Any
    out: Path


def _evaluate_file(
    model: Path,
    data: str,
    train_file: str | None,
    spec: Any,
    cfg: Any,
    *,
    seed: int,
    batch_size: int,
    output: Path | None,
) -> _FileEvaluation:
    """Evaluate a saved model on a labelled file with its saved rule; write metrics and predictions."""
    from textclf.evaluation.decision import DecisionRule
    from textclf.experiment import evaluate_split, write_evaluation
    from textclf.inference.pipeline import Predictor

    predictor = Predictor.from_folder(model, batch_size=batch_size)
    info, space = predictor.info, predictor.space
    split = _read_labelled(data, spec, space, "test")
    train = _read_labelled(train_file, spec, space, "train") if train_file else None
    rule = DecisionRule(
        temperature=info.temperature, thresholds=info.thresholds, at_least_one=info.at_least_one
    )
    doc = evaluate_split(
        predictor, split, space, cfg, rule=rule, seed=seed, train=train, split_name=Path(data).name
    )
    out = output or (model / "eval" / Path(data).stem)
    proba = doc.pop("_proba")
    write_evaluation(out, doc, split, space, proba, rule)
    return _FileEvaluation(predictor, split, train, rule, doc, proba, out)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder.")],
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
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    n_resamples: Annotated[int, typer.Option("--n-resamples")] = 1000,
    ci_method: Annotated[str, typer.Option("--ci-method", help="percentile|bca")] = "percentile",
    confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Evaluate a saved model on a labelled file: metrics with confidence intervals."""

    def body() -> None:
        spec = _column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        ev = _evaluate_file(
            model,
            data,
            train_file,
            spec,
            _eval_config(n_resamples, ci_method, confidence, baselines=train_file is not None),
            seed=seed,
            batch_size=batch_size,
            output=output,
        )
        _print_evaluation(ev.doc)
        print(f"Wrote {ev.out / 'metrics.json'} and {ev.out / 'metrics.md'}.")

    _run(body)


@app.command()
def report(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder.")],
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled file to diagnose.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder for the report (default: MODEL/eval/<file>)."),
    ] = None,
    train_file: Annotated[
        str | None,
        typer.Option("--train", help="Training file: baselines, label distribution, lengths."),
    ] = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    explain_text: Annotated[
        list[str] | None,
        typer.Option("--explain", help="A text to explain in the report (repeatable)."),
    ] = None,
    projections: Annotated[
        str, typer.Option("--projections", help="Embedding maps: any of pca,tsne,umap.")
    ] = "pca,tsne,umap",
    max_points: Annotated[
        int, typer.Option("--max-points", help="t-SNE/UMAP sample size at most.")
    ] = 2000,
    n_resamples: Annotated[int, typer.Option("--n-resamples")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Diagnose a saved model on a labelled file: report.html, errors.csv and the figures."""

    def body() -> None:
        from textclf.config import DiagnosticsConfig
        from textclf.diagnostics.report import ReportInputs, write_report

        started = time.perf_counter()
        try:
            options = DiagnosticsConfig(
                projections=_split_csv(projections) or [],  # type: ignore[arg-type]
                max_points=max_points,
                explain_texts=list(explain_text or []),
            )
        except ValueError as e:
            raise TextclfError(
                f"invalid --projections or --max-points: {e.errors()[0]['msg']}; "  # type: ignore[attr-defined]
                "use a comma list of pca, tsne, umap and a sample size of at least 50."
            ) from e
        spec = _column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        cfg = _eval_config(n_resamples, "percentile", 0.95, baselines=train_file is not None)
        ev = _evaluate_file(
            model, data, train_file, spec, cfg, seed=seed, batch_size=batch_size, output=output
        )
        predictor, split, train, rule, doc, proba, out = (
            ev.predictor,
            ev.split,
            ev.train,
            ev.rule,
            ev.doc,
            ev.proba,
            ev.out,
        )
        info, space = predictor.info, predictor.space
        name = Path(data).name
        history_path = model / "eval" / "log_history.json"
        history = (
            json.loads(history_path.read_text(encoding="utf-8")) if history_path.is_file() else None
        )
        splits = {name: (split.dataset["text"], space.encode(split.dataset["labels"]))}
        if train is not None:
            splits["train"] = (train.dataset["text"], space.encode(train.dataset["labels"]))
        inputs = ReportInputs(
            space=space,
            split=name,
            texts=split.dataset["text"],
            y_true=splits[name][1],
            proba=proba,
            rule=rule,
            metrics=doc,
            rows=split.dataset["row"],
            log_history=history,
            splits=splits,
            findings=(info.data.get("validation") or {}).get("findings", []),
            max_length=info.max_length,
            title=f"textclf report: {model.name} on {name}",
            facts=[("model", str(model)), ("backbone", info.backbone or "unknown")],
        )
        result = write_report(out, inputs=inputs, predictor=predictor, options=options, seed=seed)
        _print_evaluation(doc)
        for line in result.notes:
            print(f"Note: {line}")
        print(f"{result.n_errors} misclassified examples: {out / 'errors.csv'}")
        print(f"Report: {out / 'report.html'} ({time.perf_counter() - started:.0f} s)")

    _run(body)


@app.command()
def explain(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder.")],
    texts: Annotated[list[str], typer.Argument(help="Text(s) to explain.")],
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="Explain this label (default: the predicted ones)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Tokens shown per direction.")] = 8,
    method: Annotated[
        str,
        typer.Option("--method", help="integrated_gradients, attention_rollout or both."),
    ] = "integrated_gradients",
    steps: Annotated[int, typer.Option("--steps", help="Integrated Gradients steps.")] = 32,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the highlighted texts to this HTML file."),
    ] = None,
) -> None:
    """Show which tokens push a text towards its predicted (or a given) label."""

    def body() -> None:
        from textclf.atomic import write_text_atomic
        from textclf.diagnostics import html as H
        from textclf.diagnostics.attributions import explain as explain_text
        from textclf.diagnostics.attributions import highlight_html
        from textclf.inference.pipeline import Predictor

        methods = {
            "integrated_gradients": ("integrated_gradients",),
            "attention_rollout": ("attention_rollout",),
            "both": ("integrated_gradients", "attention_rollout"),
        }
        if method not in methods:
            raise TextclfError(
                f"unknown --method '{method}'; use integrated_gradients, attention_rollout or both."
            )
        predictor = Predictor.from_folder(model)
        unknown = [lab for lab in label or [] if lab not in predictor.info.labels]
        if unknown:
            raise TextclfError(
                f"label(s) {unknown} are not among the model's labels "
                f"({', '.join(predictor.info.labels[:10])}…); pass one of them with --label."
            )
        fragments = []
        for text in texts:
            started = time.perf_counter()
            attrs = explain_text(
                predictor, text, labels=label or None, methods=methods[method], n_steps=steps
            )
            seconds = time.perf_counter() - started
            print(f"\n{text}")
            for a in attrs:
                head = f"  {a.method}" + (
                    f" → {a.label} (p = {a.probability:.3f})" if a.label else ""
                )
                print(head + (" [text truncated]" if a.truncated else ""))
                pos = ", ".join(f"{t} {s:+.2f}" for t, s in a.top_tokens(top, sign="positive"))
                print(f"    for:     {pos or '(none)'}")
                if a.method == "integrated_gradients":
                    neg = ", ".join(f"{t} {s:+.2f}" for t, s in a.top_tokens(top, sign="negative"))
                    print(f"    against: {neg or '(none)'}")
                fragments.append(highlight_html(a))
            print(f"  ({seconds:.2f} s)")
        if html_out is not None:
            doc = H.render_document(
                title=f"textclf explain: {model.name}",
                sections=[H.Section("explanations", "Token attributions", "".join(fragments))],
                footer=f"textclf {__version__}",
            )
            write_text_atomic(html_out, doc)
            print(f"\nWrote {html_out}")

    _run(body)


@app.command()
def calibrate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder to update.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled VALIDATION file (never the test file).")
    ],
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    no_temperature: Annotated[bool, typer.Option("--no-temperature", help="Keep T = 1.")] = False,
    no_thresholds: Annotated[
        bool, typer.Option("--no-thresholds", help="Keep the default decision.")
    ] = False,
    at_least_one: Annotated[
        bool, typer.Option("--at-least-one", help="Multi-label: always predict a label.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Fit temperature scaling and decision thresholds on validation data; save them in textclf.json."""

    def body() -> None:
        from textclf.atomic import write_text_atomic
        from textclf.config import EvalConfig
        from textclf.experiment import fit_rule_on_validation
        from textclf.inference.pipeline import Predictor
        from textclf.persistence import SIDECAR

        predictor = Predictor.from_folder(model, batch_size=batch_size)
        space = predictor.space
        spec = _column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        split = _read_labelled(data, spec, space, "validation")
        predictor.info.temperature, predictor.info.thresholds = 1.0, None
        cfg = EvalConfig(
            calibrate=not no_temperature,
            tune_thresholds=not no_thresholds,
            at_least_one_label=at_least_one,
        )
        rule = fit_rule_on_validation(predictor, split, space, cfg)
        info = predictor.info
        info.temperature, info.thresholds, info.at_least_one = (
            rule.temperature,
            rule.thresholds,
            rule.at_least_one,
        )
        info.metrics = {**info.metrics, "decision_rule": {**rule.to_dict(), "fitted_on": str(data)}}
        write_text_atomic(model / SIDECAR, info.to_json())
        print(
            f"Temperature {rule.temperature:.3f}; validation ECE {rule.ece_before:.4f} -> {rule.ece_after:.4f}."
        )
        if rule.threshold_result is not None:
            tr = rule.threshold_result
            print(
                f"Thresholds tuned: validation {tr.metric} {tr.before:.4f} at 0.5 -> {tr.after:.4f}."
            )
        print(f"Saved in {model / SIDECAR}.")

    _run(body)


@app.command()
def compare(
    models: Annotated[
        list[Path], typer.Argument(help="Model folders; the first is the reference.")
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
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Metric to compare (default: the task's headline)."),
    ] = None,
    n_resamples: Annotated[int, typer.Option("--n-resamples")] = 1000,
    confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Evaluate several saved models (and baselines) on one file; paired differences against the first."""

    def body() -> None:
        from rich.console import Console
        from rich.table import Table

        from textclf.atomic import write_text_atomic
        from textclf.baselines import BASELINE_NAMES, BaselineClassifier
        from textclf.evaluation.bootstrap import bootstrap_metrics, paired_bootstrap
        from textclf.evaluation.calibration import apply_temperature
        from textclf.evaluation.metrics import headline_metric
        from textclf.evaluation.report import fmt_interval
        from textclf.inference.pipeline import Predictor

        predictors = [Predictor.from_folder(m, batch_size=batch_size) for m in models]
        space = predictors[0].space
        for m, p in zip(models, predictors, strict=True):
            if p.space != space:
                raise TextclfError(
                    f"{m}: its labels differ from {models[0]}'s; compare models trained on the same labels."
                )
        spec = _column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        split = _read_labelled(data, spec, space, "test")
        texts, y_true = split.dataset["text"], space.encode(split.dataset["labels"])
        head = metric or headline_metric(space.task)
        entries: list[tuple[str, Any, Any]] = []  # (name, proba, threshold)
        for m, p in zip(models, predictors, strict=True):
            proba = apply_temperature(
                p.logits(texts, progress=True), p.info.temperature, multilabel=space.multilabel
            )
            entries.append((str(m), proba, p.info.thresholds))
        if train_file:
            train = _read_labelled(train_file, spec, space, "train")
            y_train = space.encode(train.dataset["labels"])
            for kind in ("tfidf_lr", "tfidf_cnb", "majority"):
                b = BaselineClassifier(kind, random_state=seed).fit(
                    train.dataset["text"], y_train, task=space.task, labels=space.labels
                )
                entries.append((BASELINE_NAMES[kind], b.predict_proba(texts), None))
        boot = functools.partial(
            bootstrap_metrics,
            space.task,
            y_true,
            labels=list(space.labels),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        rows = []
        ref_name, ref_proba, ref_t = entries[0]
        for name, proba, t in entries:
            res = boot(proba, threshold=t)
            if head not in res.metrics:
                raise TextclfError(
                    f"--metric {head}: unknown for {space.task}; use one of {sorted(res.metrics)}."
                )
            row: dict[str, Any] = {
                "name": name,
                "metrics": {k: v.to_dict() for k, v in res.metrics.items()},
            }
            if name != ref_name:
                comp = paired_bootstrap(
                    space.task,
                    y_true,
                    ref_proba,
                    proba,
                    metric=head,
                    threshold_a=ref_t,
                    threshold_b=t,
                    n_resamples=n_resamples,
                    confidence=confidence,
                    seed=seed,
                )
                row["vs_reference"] = comp.to_dict()
            rows.append(row)
        level = round(100 * confidence)
        table = Table(
            title=f"{Path(data).name}: {len(texts)} examples; {head} [{level}% CI]; differences vs {ref_name}"
        )
        for col in ("model", head, "difference", "p-value"):
            table.add_column(col, justify="left" if col == "model" else "right")
        md = [f"| model | {head} | difference vs {ref_name} | p-value |", "|---|---|---|---|"]
        for row in rows:
            vs = row.get("vs_reference")
            diff = fmt_interval(vs["difference"]) if vs else "reference"
            pval = f"{vs['p_value']:.3g}" if vs else ""
            cells = [row["name"], fmt_interval(row["metrics"][head]), diff, pval]
            table.add_row(*cells)
            md.append("| " + " | ".join(cells) + " |")
        Console().print(table)
        if output:
            doc = {
                "data": str(data),
                "n_examples": len(texts),
                "metric": head,
                "confidence": confidence,
                "n_resamples": n_resamples,
                "reference": ref_name,
                "models": rows,
            }
            write_text_atomic(output / "comparison.json", json.dumps(doc, indent=2))
            write_text_atomic(output / "comparison.md", "\n".join(md) + "\n")
            print(f"Wrote {output / 'comparison.json'} and {output / 'comparison.md'}.")

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
        spec = _column_spec(
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
    n: Annotated[int, typer.Option("--n", help="Synthetic reports to generate.")] = 800,
    epochs: Annotated[float, typer.Option("--epochs")] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    tracking_uri: TrackingUri = None,
    no_track: NoTrack = False,
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
        # A 4-minute run has few steps, and on these reports the model sits at the class prior
        # (loss ln 4) until the encoder adapts. Measured with the seeded head at seed 0: batch
        # 16 stayed at the prior for all 3 epochs (120 steps); batch 8 (240 steps, the same
        # compute) left it in epoch 2. A faster head (pooler + classifier) helps as well.
        cfg.train.batch_size = 8
        cfg.train.head_lr_multiplier = 10.0
        cfg.tracking.uri = tracking_uri
        cfg.tracking.enabled = not no_track
        cfg.tracking.run_name = "demo"
        result = run_experiment(cfg, overwrite=True)
        _print_result(result)
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
            for line in _tracking_lines(tracking):
                print(f"  {line.strip()}")

    _run(body)


# ---------------------------------------------------------------------------------------
# tracking
# ---------------------------------------------------------------------------------------


@tracking_app.command("check")
def tracking_check(
    tracking_uri: TrackingUri = None,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Experiment to check (created when missing)."),
    ] = None,
    train_file: Annotated[
        str | None,
        typer.Option("--train", help="Name the experiment after this data, as 'train' would."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Dotted override, e.g. tracking.uri=…")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per check step.")] = 5.0,
) -> None:
    """Check the tracker a training run would use: reachable, MLflow, credentials, experiment."""

    def body() -> None:
        from textclf.errors import TrackingError
        from textclf.tracking.health import check_tracking, resolve_uri, ui_hint
        from textclf.tracking.session import default_experiment_name

        flags = {
            "data.train": train_file,
            "tracking.uri": tracking_uri,
            "tracking.experiment": experiment,
        }
        cfg = _build_config(config=config, overrides=overrides or [], flags=flags)
        if cfg.tracking.backend != "mlflow":
            raise TrackingError(
                f"tracking check covers MLflow; the config selects '{cfg.tracking.backend}' "
                "(W&B records offline without an account; 'wandb login' connects it)."
            )
        uri = resolve_uri(cfg.tracking.uri)
        name = cfg.tracking.experiment or default_experiment_name(cfg.data)
        report = check_tracking(uri, name, timeout=timeout)
        if not report.ok:
            raise TrackingError(report.message)
        print(f"OK: {report.message}")
        print(f"View it: {ui_hint(uri)}")

    _run(body)


@tracking_app.command("sync")
def tracking_sync(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Run folders (or folders of runs) whose records were kept locally."),
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri", help="Push to this URI (default: the one each run was started with)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 10.0,
) -> None:
    """Push runs recorded while the tracking server was down; safe to run twice."""

    def body() -> None:
        from textclf.errors import TrackingError
        from textclf.tracking.sync import sync_runs

        results = sync_runs(paths, uri=tracking_uri, timeout=timeout)
        failed = 0
        for r in results:
            name = r.run_name or r.journal.name
            if r.ok:
                state = f"{r.sent} record(s) sent" if r.sent else "already up to date"
                print(f"{name}: {state} -> run {r.run_id} at {r.uri}")
            else:
                failed += 1
                print(f"{name}: not synced: {r.error}")
            for reason in r.skipped:
                print(f"  skipped {reason}")
        if failed:
            raise TrackingError(
                f"{failed} of {len(results)} run(s) not synced; the records are kept, run the "
                "same command again once the server answers."
            )

    _run(body)


# ---------------------------------------------------------------------------------------
# app / feedback
# ---------------------------------------------------------------------------------------

# The app is a separate top-level package (textclf.app): the CLI starts it as a Streamlit
# subprocess and passes its options in these environment variables, which
# textclf.app.settings reads (tests/integration/test_cli_app.py checks the names match).
_APP_ENV = {
    "models": "TEXTCLF_APP_MODELS",
    "max_upload_mb": "TEXTCLF_APP_MAX_UPLOAD_MB",
    "max_rows": "TEXTCLF_APP_MAX_ROWS",
}
_APP_COLOR = "#6366f1"

app_cmd = typer.Typer(
    help="The Streamlit app: predictions, explanations, batch files, history and feedback.",
    invoke_without_command=True,
)
app.add_typer(app_cmd, name="app")
feedback_app = typer.Typer(
    help="Feedback given in the app: statistics, and export as training data.",
    no_args_is_help=True,
)
app.add_typer(feedback_app, name="feedback")

FeedbackDb = Annotated[
    Path | None,
    typer.Option(
        "--feedback-db",
        "--db",
        help="Feedback database (default: $TEXTCLF_FEEDBACK_DB or ~/.local/share/textclf/feedback.sqlite3).",
    ),
]


def _app_command(
    script: str,
    *,
    port: int,
    address: str,
    headless: bool,
    max_upload_mb: float,
    theme: str,
) -> list[str]:
    import math

    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        # Streamlit refuses bigger uploads in the browser; the app checks the exact limit.
        "--server.maxUploadSize",
        str(max(1, math.ceil(max_upload_mb))),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # The app shows its own one-line errors; never a traceback in the browser.
        "--client.showErrorDetails",
        "none",
        "--theme.primaryColor",
        _APP_COLOR,
    ]
    if theme != "auto":
        cmd += ["--theme.base", theme]
    return cmd


@app_cmd.callback()
def app_main(
    ctx: typer.Context,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model folder, or a folder of model folders; repeat for a model picker.",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option("--address", help="Address to bind; 0.0.0.0 serves the network.")
    ] = "localhost",
    feedback_db: FeedbackDb = None,
    auth: Annotated[
        Path | None,
        typer.Option(
            "--auth",
            help="Users file (TOML/YAML/JSON) to require a login; see 'textclf app hash-password'.",
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest batch file accepted.")
    ] = 50.0,
    max_rows: Annotated[
        int, typer.Option("--max-rows", help="Most rows predicted from one batch file.")
    ] = 100_000,
    theme: Annotated[str, typer.Option("--theme", help="auto|light|dark")] = "auto",
    headless: Annotated[
        bool, typer.Option("--headless", help="Do not open a browser (for servers).")
    ] = False,
) -> None:
    """Start the app on a model folder: textclf app --model runs/x [--port 8501]."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> int:
        import importlib.util
        import signal
        import subprocess

        from textclf.auth import AUTH_FILE_ENV, load_users
        from textclf.errors import ConfigError, missing_extra
        from textclf.feedback import DB_ENV, FeedbackStore, default_db_path

        if not model:
            raise ConfigError("no model given; pass --model DIR (a folder from 'textclf train').")
        for m in model:
            if not m.is_dir():
                raise ConfigError(
                    f"{m}: model folder not found; pass a 'textclf train' --output folder."
                )
        if theme not in ("auto", "light", "dark"):
            raise ConfigError(f"--theme {theme}: use auto, light or dark.")
        if max_upload_mb <= 0 or max_rows <= 0:
            raise ConfigError("--max-upload-mb and --max-rows must be positive.")
        if importlib.util.find_spec("streamlit") is None:
            raise missing_extra("streamlit", "app")
        if auth is not None:
            load_users(auth, environ={})  # a bad users file fails here, not in the browser
        db = (feedback_db or default_db_path()).expanduser().resolve()
        FeedbackStore(db)  # created (or checked) before the server starts
        spec = importlib.util.find_spec("textclf.app.main")
        if spec is None or spec.origin is None:
            raise missing_extra("textclf.app", "app")
        env = dict(os.environ)
        env[_APP_ENV["models"]] = os.pathsep.join(str(m.resolve()) for m in model)
        env[_APP_ENV["max_upload_mb"]] = str(max_upload_mb)
        env[_APP_ENV["max_rows"]] = str(max_rows)
        env[DB_ENV] = str(db)
        if auth is not None:
            env[AUTH_FILE_ENV] = str(auth.expanduser().resolve())
        cmd = _app_command(
            spec.origin,
            port=port,
            address=address,
            headless=headless,
            max_upload_mb=max_upload_mb,
            theme=theme,
        )
        print(f"textclf app on http://{address}:{port} (Ctrl+C stops it); feedback in {db}.")
        proc = subprocess.Popen(cmd, env=env)
        # A service manager stops us with SIGTERM: pass it on, so no server is left behind.
        previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Streamlit got the Ctrl+C too and shuts down
            return proc.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)

    code = _run(body)
    if code:
        raise typer.Exit(code=code)


@app_cmd.command("hash-password")
def app_hash_password(
    user: Annotated[
        str | None, typer.Option("--user", help="Also print a users-file line for this user.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Hash a password (scrypt) for the app's users file or $TEXTCLF_APP_USERS."""

    def body() -> None:
        from textclf.auth import hash_password

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        encoded = hash_password(password)
        if user:
            print(f'[users]\n{user} = "{encoded}"')
        else:
            print(encoded)

    _run(body)


def _feedback_store(feedback_db: Path | None) -> Any:
    from textclf.errors import DataError
    from textclf.feedback import FeedbackStore, default_db_path

    db = (feedback_db or default_db_path()).expanduser()
    if not db.is_file():
        raise DataError(
            f"{db}: no feedback database here; pass the app's database with --db, or set "
            "TEXTCLF_FEEDBACK_DB."
        )
    return FeedbackStore(db)


def _model_filter(model: Path | None) -> dict[str, Any]:
    if model is None:
        return {}
    from textclf.persistence import read_info

    info = read_info(model)
    return {"task": info.task, "labels": info.labels}


@feedback_app.command("export")
def feedback_export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Training file to write, .csv or .jsonl.")
    ],
    feedback_db: FeedbackDb = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Only feedback on models with this model's labels."),
    ] = None,
    fingerprint: Annotated[
        str | None, typer.Option("--fingerprint", help="Only feedback on this model version.")
    ] = None,
    include: Annotated[str, typer.Option("--include", help="all|corrected|correct")] = "all",
) -> None:
    """Write the feedback as a training file ('text', 'label') that 'textclf train' reads."""

    def body() -> None:
        store = _feedback_store(feedback_db)
        result = store.export(
            output, model_fingerprint=fingerprint, include=include, **_model_filter(model)
        )
        print(
            f"Wrote {result.n_rows} examples to {result.path} ({result.n_correct} confirmed, "
            f"{result.n_corrected} corrected; {result.n_superseded} older verdicts on the same "
            "texts left out)."
        )
        print(f"Train on it: {result.train_command()}")

    _run(body)


@feedback_app.command("stats")
def feedback_stats(
    feedback_db: FeedbackDb = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Only feedback on models with this model's labels."),
    ] = None,
) -> None:
    """Counts of the feedback, and the labels most often corrected."""

    def body() -> None:
        from rich.console import Console
        from rich.table import Table

        stats = _feedback_store(feedback_db).stats(**_model_filter(model))
        print(
            f"{stats.total} verdicts: {stats.correct} confirmed, {stats.corrected} corrected"
            + (f" ({stats.first} to {stats.last})." if stats.total else ".")
        )
        if stats.labels:
            table = Table(title="Labels most often corrected")
            for col in ("label", "wrongly predicted", "missed", "total"):
                table.add_column(col, justify="left" if col == "label" else "right")
            for c in stats.labels[:20]:
                table.add_row(c.label, str(c.wrongly_predicted), str(c.missed), str(c.total))
            Console().print(table)

    _run(body)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
