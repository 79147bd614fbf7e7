"""``textclf feedback export`` and ``feedback stats``: the app's feedback as training data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from textclf.cli._common import (
    run,
)

app = typer.Typer(
    help="Feedback given in the app: statistics, and export as training data.",
    no_args_is_help=True,
)

FeedbackDb = Annotated[
    Path | None,
    typer.Option(
        "--feedback-db",
        "--db",
        help="Feedback database (default: $TEXTCLF_FEEDBACK_DB or ~/.local/share/textclf/feedback.sqlite3).",
    ),
]


def _feedback_store(feedback_db: Path | None) -> Any:
    from textclf.errors import DataError
    from textclf.feedback import DB_ENV, FeedbackStore, default_db_path

    db = (feedback_db or default_db_path()).expanduser()
    if not db.is_file():
        if feedback_db is not None:
            where = "given with --db"
        elif os.environ.get(DB_ENV):
            where = f"named by {DB_ENV}"
        else:
            where = f"the default; the app's is elsewhere if it ran with --feedback-db or {DB_ENV}"
        raise DataError(
            f"{db}: no feedback database here ({where}); pass the app's database with --db."
        )
    return FeedbackStore(db)


def _model_filter(model: Path | None) -> dict[str, Any]:
    if model is None:
        return {}
    from textclf.persistence import read_info

    info = read_info(model)
    return {"task": info.task, "labels": info.labels}


@app.command("export")
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
    user: Annotated[
        str | None, typer.Option("--user", help="Only this app user's verdicts (default: all).")
    ] = None,
) -> None:
    """Write the feedback as a training file ('text', 'label') that 'textclf train' reads."""

    def body() -> None:
        store = _feedback_store(feedback_db)
        result = store.export(
            output,
            model_fingerprint=fingerprint,
            include=include,
            user=user,
            **_model_filter(model),
        )
        print(
            f"Wrote {result.n_rows} examples to {result.path} ({result.n_correct} confirmed, "
            f"{result.n_corrected} corrected; {result.n_superseded} older "
            f"verdict{'s' if result.n_superseded != 1 else ''} on the same "
            "texts left out)."
        )
        print(f"Train on it: {result.train_command()}")

    run(body)


@app.command("stats")
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
            f"{stats.total} verdict{'s' if stats.total != 1 else ''}: {stats.correct} confirmed, {stats.corrected} corrected"
            + (f" ({stats.first} to {stats.last})." if stats.total else ".")
        )
        if stats.labels:
            table = Table(title="Labels most often corrected")
            for col in ("label", "wrongly predicted", "missed", "total"):
                table.add_column(col, justify="left" if col == "label" else "right")
            for c in stats.labels[:20]:
                table.add_row(c.label, str(c.wrongly_predicted), str(c.missed), str(c.total))
            Console().print(table)

    run(body)
