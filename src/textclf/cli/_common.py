"""What the command modules share: running a command body, shared options, printing results."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from textclf.errors import RunFinishedError, TextclfError, os_error_message

STATE = {"debug": False}
T = TypeVar("T")
logger = logging.getLogger("textclf.cli")


def run(fn: Callable[[], T]) -> T:
    """Run a command body; turn user errors into one line and exit code 2."""
    try:
        return fn()
    except (typer.Exit, typer.Abort):
        raise
    except RunFinishedError as e:
        print(f"note: {e}")
        raise typer.Exit(code=0) from None
    except TextclfError as e:
        if STATE["debug"]:
            raise
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(code=130) from None
    except Exception as e:
        if STATE["debug"]:
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


def split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


# Options shared by every command that reads data; the help says what "auto" means.
TrainedModel = Annotated[
    Path, typer.Option("--model", "-m", help="Model folder from 'textclf train'.")
]
TrainData = Annotated[
    str | None,
    typer.Option("--train", help="Training data: CSV, TSV, JSONL, JSON, Parquet or a hub dataset."),
]
ValidationData = Annotated[
    str | None, typer.Option("--validation", help="Validation data (else split from --train).")
]
Task = Annotated[
    str | None,
    typer.Option(
        "--task", help="auto, binary, multiclass or multilabel (default: auto: from the labels)."
    ),
]
TextColumn = Annotated[
    str | None,
    typer.Option(
        "--text-column", help="Column holding the text (default: auto: text, sentence, …)."
    ),
]
IdColumn = Annotated[
    str | None, typer.Option("--id-column", help="Column copied into each record as its id.")
]
LabelColumn = Annotated[
    str | None,
    typer.Option("--label-column", help="Column holding the label(s) (default: auto: label, …)."),
]
LabelColumns = Annotated[
    str | None,
    typer.Option(
        "--label-columns", help="Comma-separated 0/1 columns, one per label (multi-label)."
    ),
]
LabelSeparator = Annotated[
    str | None,
    typer.Option(
        "--label-separator", help="Separator of several labels in one cell, e.g. '|' (multi-label)."
    ),
]
LabelNames = Annotated[
    str | None,
    typer.Option(
        "--label-names", help="File naming integer label ids: one name per line, or JSON."
    ),
]
ColumnNames = Annotated[
    str | None,
    typer.Option("--column-names", help="Comma-separated names for a file without a header row."),
]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="YAML config file.")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
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
Experiment = Annotated[
    str | None,
    typer.Option("--experiment", help="Tracking experiment (default: the data's name)."),
]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Texts per forward pass.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap and the baselines.")]
NResamples = Annotated[
    int, typer.Option("--n-resamples", help="Bootstrap resamples behind each interval.")
]
CiMethod = Annotated[
    str, typer.Option("--ci-method", help="Bootstrap interval: percentile or bca.")
]
Confidence = Annotated[
    float, typer.Option("--confidence", help="Confidence level of the intervals.")
]


def build_config(
    *,
    config: Path | None,
    overrides: list[str],
    flags: dict[str, Any],
) -> Any:
    from textclf.config import ExperimentConfig, apply_overrides, load_config

    cfg = load_config(config) if config else ExperimentConfig()
    dotted = [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]
    # Flags first, then --set: the more specific --set wins. Errors name the flag typed.
    return apply_overrides(cfg, dotted + list(overrides), flags={k: flag_name(k) for k in flags})


_FLAG_NAMES = {
    "output_dir": "--output",
    "model.name": "--model",
    "eval.baselines": "--no-baselines",
    "diagnostics.enabled": "--no-report",
    "tracking.enabled": "--no-track",
    "tracking.uri": "--tracking-uri",
    "tracking.registered_model": "--register",
}


def flag_name(dotted: str) -> str:
    """The command-line option that sets a dotted config key (``data.task`` → ``--task``)."""
    return _FLAG_NAMES.get(dotted, "--" + dotted.rpartition(".")[2].replace("_", "-"))


def console() -> Any:
    """A rich console whose tables fit: the terminal's width, or wide enough when piped.

    Piped output has no width, and rich then assumes 80 columns and cuts metric names
    ("balanced_…"); a log file wants whole names.
    """
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=200)


def print_evaluation(doc: dict[str, Any]) -> None:
    """The headline metrics with intervals (and baselines) as a terminal table."""
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
        # Metric names never shrink to an ellipsis; narrow terminals fold the intervals.
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out = console()
    out.print(table)
    sentence = comparison_sentence(doc)
    if sentence:
        out.print(sentence)
    validation = doc.get("validation_comparison")
    if validation:
        v_sentence = comparison_sentence({**doc, "comparison": validation})
        if v_sentence:
            out.print(f"On the validation split: {v_sentence}")
    if doc.get("note"):
        out.print(f"[yellow]{doc['note']}[/yellow]")


def print_result(result: Any) -> None:
    """The evaluation, truncation, prominent warnings and timing of a finished run."""
    from textclf.evaluation.report import truncation_line

    print_evaluation(result.evaluation)
    out = console()
    cut = truncation_line(result.evaluation) if result.evaluation else None
    if cut:
        out.print(f"Truncation: {cut}", highlight=False)
    for warning in getattr(result, "warnings", []):
        out.print(f"[bold yellow]! {warning}[/bold yellow]", highlight=False)
    print(
        f"Training took {result.train_runtime_s:.0f} s, the whole run {result.total_runtime_s:.0f} s."
    )


def tracking_lines(tracking: dict[str, Any]) -> list[str]:
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


def column_flags(
    text_column: str | None,
    label_column: str | None,
    label_columns: str | None,
    label_separator: str | None,
    label_names: str | None,
    column_names: str | None,
) -> dict[str, Any]:
    """The ``data.*`` config keys the column options set (comma lists split)."""
    return {
        "data.text_column": text_column,
        "data.label_column": label_column,
        "data.label_columns": split_csv(label_columns),
        "data.label_separator": label_separator,
        "data.label_names": label_names,
        "data.column_names": split_csv(column_names),
    }


def column_spec(flags: dict[str, Any]) -> Any:
    """The columns of a labelled file from :func:`column_flags`, as ``train`` reads them."""
    from textclf.config import DataConfig
    from textclf.data.io import ColumnSpec

    return ColumnSpec.from_config(
        DataConfig(**{key.removeprefix("data."): value for key, value in flags.items()})
    )


def tracking_flags(
    tracking_uri: str | None, no_track: bool, experiment: str | None, register: str | None
) -> dict[str, Any]:
    """The ``tracking.*`` config keys that ``train`` and ``tune`` set from their options."""
    return {
        "tracking.uri": tracking_uri,
        "tracking.enabled": False if no_track else None,
        "tracking.experiment": experiment,
        "tracking.registered_model": register,
    }


def eval_config(n_resamples: int, ci_method: str, confidence: float) -> Any:
    """The interval settings of ``evaluate``, ``report`` and ``compare``, validated."""
    from textclf.config import EvalConfig

    try:
        return EvalConfig(
            n_resamples=n_resamples,
            ci_method=ci_method,  # type: ignore[arg-type]
            confidence=confidence,
        )
    except ValueError as e:
        raise TextclfError(f"invalid evaluation option: {e.errors()[0]['msg']}.") from e  # type: ignore[attr-defined]
