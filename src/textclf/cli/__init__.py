"""The ``textclf`` command line: one thin module per command group over the public API.

Each command parses its options and forwards to an importable function, as spaCy's CLI
does. User errors (:class:`textclf.errors.TextclfError`) print one line and exit with
code 2; ``--debug`` shows the traceback too.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer

from textclf._version import __version__
from textclf.cli import app as app_group
from textclf.cli import (
    cv,
    data,
    demo,
    evaluate,
    export,
    feedback,
    predict,
    report,
    serve,
    tracking,
    train,
)
from textclf.cli import tune as tune_cli
from textclf.cli._common import STATE
from textclf.cli.app import _APP_ENV
from textclf.progress import QUIET_ENV

__all__ = ["_APP_ENV", "app", "main"]


def _help_patches() -> None:
    """Two fixes to typer 0.29's ``--help``, patched here for every command at once.

    * Arguments and options taking many values show the type of one, ``<str>`` rather
      than ``<list[str]>``; the usage line says ``TEXT...``, an option's help "repeatable".
    * On/off flags are shown without a type. typer labels every flag ``<bool>``
      (``--overwrite <bool>``, even ``--help``), which reads as if it took a value, and
      ``--no-track true`` is then refused. (Rather than a ``metavar=""`` on each flag.)
    * A docstring's paragraphs after the first are re-flowed to the terminal. typer keeps
      their source line breaks, so at 80 columns a wrapped line left one word on a line of
      its own. A paragraph starting with ``\\b`` keeps its lines, as in click.
    """
    from typer import rich_utils
    from typer.core import TyperArgument, TyperOption

    shown = TyperOption.display_type_rich

    def display(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else _element(shown(self, ctx))

    TyperOption.display_type_rich = display  # type: ignore[method-assign]

    shown_argument = TyperArgument.display_type_rich

    def argument(self: TyperArgument, ctx: Any) -> str | None:
        return _element(shown_argument(self, ctx))

    TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]

    def reflow(paragraphs: list[str], markup_mode: Any) -> str:
        return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)

    if hasattr(rich_utils, "_fix_linebreaks"):  # a later typer may fix it, or rename it
        rich_utils._fix_linebreaks = reflow


def _element(label: str | None) -> str | None:
    """``<list[str]>`` → ``<str>``: a value given many times has the type of one of them."""
    if label is not None and label.startswith("<list[") and label.endswith("]>"):
        return f"<{label[6:-2]}>"
    return label


_help_patches()

app = typer.Typer(
    help="Fine-tune transformer encoders for binary, multi-class and multi-label text classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"textclf {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress bars or progress logs; results and errors only."
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """textclf: data in, fine-tuned classifier out, predictions back."""
    STATE["debug"] = debug
    if quiet:
        os.environ[QUIET_ENV] = "1"
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
        # Library-internal bars ("Loading weights", "Writing model shards", "Map") say
        # nothing a user acts on; textclf's own bars (training, predicting) stay.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="torch")


app.command()(train.train)
app.command()(predict.predict)
app.command()(evaluate.evaluate)
app.command()(report.report)
app.command()(report.explain)
app.command()(evaluate.calibrate)
app.command()(evaluate.compare)
app.command()(demo.demo)
app.command()(export.export)
app.command()(tune_cli.tune)
app.command()(cv.cv)
app.command()(serve.serve)
app.add_typer(data.app, name="data")
app.add_typer(tracking.app, name="tracking")
app.add_typer(app_group.app, name="app")
app.add_typer(feedback.app, name="feedback")


def main() -> None:
    """Console-script entry point."""
    app()
