"""What the command modules share: running a command body, shared options, printing results."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_type_hints

import typer

from textclf.errors import RunFinishedError, TextclfError, os_error_message

STATE = {"debug": False}
T = TypeVar("T")
logger = logging.getLogger("textclf.cli")


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch scheduler's time limit, a container stop) as an interruption.

    Python's default SIGTERM ends the process at once: no ``finally`` runs, so a partial
    output file stayed behind, the tracked run stayed RUNNING and no line said how to go
    on. Raised as a ``KeyboardInterrupt``, it stops a run the way Ctrl-C does, which every
    layer already handles (complete-only checkpoints, atomic writes, a KILLED tracked run).
    """


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(fn: Callable[[], T], *, interrupted: Callable[[], str] | None = None) -> T:
    """Run a command body; turn user errors into one line and exit code 2.

    Args:
        fn: The command body.
        interrupted: Builds the line printed on Ctrl-C or SIGTERM (how to continue), at
            that time. Given, SIGTERM stops the command as Ctrl-C does (exit 143, not 130).
    """
    try:
        if interrupted is None:
            return fn()
        with _sigterm_interrupts():
            return fn()
    except (typer.Exit, typer.Abort):
        raise
    except RunFinishedError as e:
        print(f"note: {e}")
        raise typer.Exit(code=0) from None
    except TextclfError as e:
        if STATE["debug"]:  # the traceback too, but still the exit code of bad input
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    except BrokenPipeError:
        # The reader of standard output closed it (`textclf predict … | head`): stop
        # quietly, as Unix tools do; stdout goes to devnull so that Python's flush at exit
        # cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt as e:
        # Free the interrupted frames' locals now: a progress bar among them would
        # otherwise be closed (and redrawn) when they are collected, after the line below.
        traceback.clear_frames(e.__traceback__)
        # On a line of its own: a progress bar may hold the current one.
        print(f"\n{interrupted() if interrupted else 'interrupted'}", file=sys.stderr)
        raise typer.Exit(code=143 if isinstance(e, Terminated) else 130) from None
    except Exception as e:
        if STATE["debug"]:
            raise
        message = os_error_message(e)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        print(
            f"error: unexpected {type(e).__name__}: {str(e).rstrip('.')}. This is a bug in "
            "textclf: run the same "
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
Task = Annotated[
    str | None,
    typer.Option(
        "--task", help="auto, binary, multiclass or multilabel (default: auto: from the labels)."
    ),
]
Backbone = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="'default' (the bundled all-MiniLM-L6-v2), a local folder or a hub name "
        "(default: default).",
    ),
]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="auto (ONNX when 'textclf export' wrote one, else torch), torch or onnx.",
    ),
]


_FLAG_NAMES = {
    "output_dir": "--output",
    "model.name": "--model",
    "eval.baselines": "--no-baselines",
    "diagnostics.enabled": "--no-report",
    "tracking.enabled": "--no-track",
    "tracking.uri": "--tracking-uri",
    "tracking.registered_model": "--register",
    "tune.timeout_s": "--timeout",
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

    from textclf.evaluation.report import (
        VALIDATION_CAVEAT,
        baseline_rule_line,
        comparison_sentence,
        comparison_sentences,
        headline_table,
    )

    if not doc:
        print("No validation or test split: nothing was evaluated.")
        return
    header, rows = headline_table(doc)
    level = round(100 * doc["confidence"])
    table = Table(
        title=f"{doc['split']} split: {doc['n_examples']} examples, {doc['task']}; "
        f"value [{level}% CI], {doc['n_resamples']} bootstrap resamples"
        + (f", seed {doc['seed']}" if doc.get("seed") is not None else "")
    )
    for i, h in enumerate(header):
        # Metric names never shrink to an ellipsis; narrow terminals fold the intervals.
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out = console()
    out.print(table)
    for sentence in comparison_sentences(doc):
        out.print(sentence)
    baseline_rule = baseline_rule_line(doc)
    if baseline_rule:
        out.print(baseline_rule)
    validation = doc.get("validation_comparison")
    if validation:
        v_sentence = comparison_sentence({**doc, "comparison": validation})
        if v_sentence:
            out.print(f"On the validation split ({VALIDATION_CAVEAT}): {v_sentence}")
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


def option_group(
    group: type, **helps: str | None
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Give a command the fields of a dataclass as options, in place of its parameter of that type.

    Typer reads a command's options from its signature, so the commands that share a set
    of options would each list all of them; they are declared once, as the fields of
    ``group`` (``--field-name``, or the field's ``flag`` metadata, of the field's type and
    default), in the place of the
    command's ``group``-typed parameter (so ``--help`` keeps their order), and reach the
    command as one ``group`` value.

    Args:
        group: A dataclass whose fields all have defaults; its ``HELP`` holds the help of
            the options that mean the same to every command.
        **helps: The help of the other options: what each means to the command at hand;
            ``None`` leaves a field out (it keeps its default).

    Returns:
        A decorator for a command with one parameter annotated ``group``.
    """
    hints = get_type_hints(group)
    helps = {**getattr(group, "HELP", {}), **helps}
    fields = [f for f in dataclasses.fields(group) if helps[f.name] is not None]
    options = {
        f.name: Annotated[
            hints[f.name],
            typer.Option(
                f.metadata.get("flag", "--" + f.name.replace("_", "-")), help=helps[f.name]
            ),
        ]
        for f in fields
    }

    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(command, eval_str=True)
        (target,) = [p for p in signature.parameters.values() if p.annotation is group]
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            if param is not target:
                params.append(param)
                continue
            params += [
                inspect.Parameter(f.name, param.kind, default=f.default, annotation=options[f.name])
                for f in fields
            ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            value = group(**{f.name: kwargs.pop(f.name) for f in fields if f.name in kwargs})
            return command(*args, **{target.name: value}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


FORMAT_HELP = (
    "File format where the extension does not say it: csv, tsv, jsonl, json or parquet "
    "(default: by extension)."
)


@dataclass(frozen=True)
class Columns:
    """The columns (and format) of a labelled file, as the column options name them."""

    text_column: str | None = None
    label_column: str | None = None
    label_columns: str | None = None
    label_separator: str | None = None
    label_names: str | None = None
    column_names: str | None = None
    id_column: str | None = None
    format: str | None = None

    HELP: ClassVar[dict[str, str]] = {
        "text_column": "Column holding the text (default: auto: text, sentence, …).",
        "label_column": "Column holding the label(s) (default: auto: label, …).",
        "label_columns": "Comma-separated 0/1 columns, one per label (multi-label).",
        "label_separator": "Separator of several labels in one cell, e.g. '|' (multi-label).",
        "label_names": "File naming integer label ids: one name per line, or JSON.",
        "column_names": "Comma-separated names for a file without a header row.",
        "id_column": "Column copied into each prediction record as its id.",
        "format": FORMAT_HELP,
    }

    def flags(self) -> dict[str, Any]:
        """The ``data.*`` config keys the column options set (comma lists split)."""
        from textclf.data.formats import check_format

        flags = {f"data.{name}": value for name, value in dataclasses.asdict(self).items()}
        for key in ("data.label_columns", "data.column_names"):
            flags[key] = split_csv(flags[key])
        if self.format is not None:
            flags["data.format"] = check_format(self.format)
        return flags

    def spec(self) -> Any:
        """The columns as ``train`` reads them (a :class:`textclf.data.io.ColumnSpec`)."""
        from textclf.config import DataConfig
        from textclf.data.io import ColumnSpec

        return ColumnSpec.from_config(
            DataConfig(
                **{
                    key.removeprefix("data."): value
                    for key, value in self.flags().items()
                    if value is not None or key != "data.format"
                }
            )
        )


# Every command that reads a labelled file takes the column options as one Columns.
column_options = option_group(Columns)
TextColumn = Annotated[str | None, typer.Option("--text-column", help=Columns.HELP["text_column"])]
IdColumn = Annotated[str | None, typer.Option("--id-column", help=Columns.HELP["id_column"])]
ColumnNames = Annotated[
    str | None, typer.Option("--column-names", help=Columns.HELP["column_names"])
]
FileFormat = Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)]


@dataclass(frozen=True)
class Schedule:
    """The training schedule, as ``train`` and ``tune`` take it (tune: fixed, not searched)."""

    epochs: float | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_length: int | None = None

    def flags(self) -> dict[str, Any]:
        """The config keys the schedule options set: ``train.*``, and ``model.max_length``."""
        flags = {f"train.{name}": value for name, value in dataclasses.asdict(self).items()}
        flags["model.max_length"] = flags.pop("train.max_length")
        return flags


@dataclass(frozen=True)
class Restart:
    """What a run does with an earlier one in its ``--output``: continue it, or replace it."""

    resume: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class Records:
    """What a ``train`` or ``tune`` run records besides the model: baselines, report, tracking."""

    no_baselines: bool = False
    no_report: bool = False
    tracking_uri: str | None = None
    no_track: bool = False
    experiment: str | None = None
    register: str | None = None

    HELP: ClassVar[dict[str, str]] = {
        "tracking_uri": "MLflow tracking URI (default MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).",
        "no_track": "Do not record the run in the experiment tracker.",
        "experiment": "Tracking experiment (default: the data's name).",
    }

    def flags(self) -> dict[str, Any]:
        """The ``eval``, ``diagnostics`` and ``tracking`` config keys the options set."""
        return {
            "eval.baselines": [] if self.no_baselines else None,
            "diagnostics.enabled": False if self.no_report else None,
            "tracking.uri": self.tracking_uri,
            "tracking.enabled": False if self.no_track else None,
            "tracking.experiment": self.experiment,
            "tracking.registered_model": self.register,
        }


TrackingUri = Annotated[
    str | None, typer.Option("--tracking-uri", help=Records.HELP["tracking_uri"])
]
NoTrack = Annotated[bool, typer.Option("--no-track", help=Records.HELP["no_track"])]


@dataclass(frozen=True)
class Splits:
    """The data files of a run, one per split, as ``train``, ``tune`` and ``data validate`` take them."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None

    HELP: ClassVar[dict[str, str]] = {
        "train": "Training data: CSV, TSV, JSONL, JSON, Parquet or a hub dataset.",
        "validation": "Validation data (else split from --train).",
        "test": "Test data (else split from --train).",
    }


def data_flags(splits: Splits, columns: Columns, task: str | None) -> dict[str, Any]:
    """The ``data.*`` config keys that ``train``, ``tune`` and ``data validate`` set."""
    return {
        "data.train": splits.train,
        "data.validation": splits.validation,
        "data.test": splits.test,
        **columns.flags(),
        "data.task": task,
    }


def run_flags(
    output: Path,
    seed: int | None,
    splits: Splits,
    columns: Columns,
    task: str | None,
    model: str | None,
    schedule: Schedule,
    records: Records,
) -> dict[str, Any]:
    """The config keys that ``train`` and ``tune`` both set: the run's data, model and records."""
    return {
        "output_dir": str(output),
        "seed": seed,
        **data_flags(splits, columns, task),
        "model.name": model,
        **schedule.flags(),
        **records.flags(),
    }


def export_hint(output_dir: Path, prefix: str) -> list[str]:
    """A line that suggests ``textclf export`` for a model folder without an ONNX export.

    A torch model makes ``predict``, ``serve`` and the app import torch and transformers
    first: on the 2-core VM, ``textclf predict`` of one text with the demo model took 5.5 s
    on torch and 0.9 s after ``textclf export`` (whole command; bench/inference_speed.py
    measures the same side by side on Banking77).
    """
    if (output_dir / "onnx").is_dir():
        return []
    return [
        f"{prefix}textclf export --model {output_dir}  "
        "(ONNX: predict, serve and the app then start without torch)"
    ]


def folder_lines(output_dir: Path) -> list[str]:
    """Where a finished run put its model folder, evaluation and report."""
    lines = [f"Model folder: {output_dir}", f"Evaluation:   {output_dir / 'eval'}"]
    report = output_dir / "eval" / "report.html"
    if report.is_file():
        lines.append(f"Report:       {report}")
    lines.append(
        f"Predict:      textclf predict --model {output_dir} --input FILE --output OUT.jsonl"
    )
    lines += export_hint(output_dir, "Faster start: ")
    return lines


@dataclass(frozen=True)
class ConfigOptions:
    """Where a command's config comes from: ``--seed``, a ``--config`` file, ``--set`` overrides."""

    seed: int | None = None
    config: Path | None = None
    overrides: list[str] | None = field(default=None, metadata={"flag": "--set"})

    HELP: ClassVar[dict[str, str]] = {"config": "YAML config file."}

    def build(self, flags: dict[str, Any]) -> Any:
        """The config file (else the defaults), then ``flags`` (dotted keys), then ``--set``."""
        from textclf.config import ExperimentConfig, apply_overrides, load_config

        cfg = load_config(self.config) if self.config else ExperimentConfig()
        dotted = [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]
        # Flags first, then --set: the more specific --set wins. Errors name what was typed:
        # the flag, unless --set gave that setting after it.
        by_set = set(self.set_keys())
        typed = {k: flag_name(k) for k, v in flags.items() if v is not None and k not in by_set}
        return apply_overrides(cfg, dotted + list(self.overrides or []), flags=typed)

    def set_keys(self) -> list[str]:
        """The dotted keys the ``--set`` overrides give, in order."""
        return [item.partition("=")[0].strip() for item in self.overrides or []]


@dataclass(frozen=True)
class Measurement:
    """How ``evaluate``, ``report`` and ``compare`` measure: intervals, seed, batch size."""

    n_resamples: int = 1000
    ci_method: str = "bca"
    confidence: float = 0.95
    seed: int = 42
    batch_size: int = 64
    backend: str = "auto"

    HELP: ClassVar[dict[str, str | None]] = {
        "n_resamples": "Bootstrap resamples behind each interval.",
        "ci_method": "Bootstrap interval: bca (bias-corrected, covers better at small n) or "
        "percentile.",
        "confidence": "Confidence level of the intervals.",
        "seed": "Seed of the bootstrap and the baselines.",
        "batch_size": "Texts per forward pass.",
        "backend": "Engine measured: auto (the ONNX export when there is one, as predict "
        "uses), torch or onnx.",
    }

    def kwargs(self) -> dict[str, Any]:
        """The ``eval_config``, ``seed`` and ``batch_size`` arguments of the assess functions.

        Raises:
            TextclfError: An interval setting is out of range.
        """
        from pydantic import ValidationError

        from textclf.config import EvalConfig

        try:
            config = EvalConfig(
                n_resamples=self.n_resamples,
                ci_method=self.ci_method,  # type: ignore[arg-type]
                confidence=self.confidence,
            )
        except ValidationError as e:
            first = e.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            value = getattr(self, name, None)
            raise TextclfError(
                f"--{name.replace('_', '-')} {value}: {first['msg'][0].lower()}{first['msg'][1:]}."
            ) from e
        if not 0 <= self.seed < 2**31:
            raise TextclfError(f"--seed {self.seed}: must be from 0 to 2^31-1.")
        return {
            "eval_config": config,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "backend": self.backend,
        }


# Every command that measures a saved model takes these options as one Measurement.
measurement_options = option_group(Measurement)
BatchSize = Annotated[int, typer.Option("--batch-size", help=Measurement.HELP["batch_size"])]
