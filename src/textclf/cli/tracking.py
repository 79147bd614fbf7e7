"""``textclf tracking check`` and ``tracking sync``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import ConfigOptions, TrackingUri, option_group, run

app = typer.Typer(
    help="Check the experiment tracker; push runs recorded while it was down.",
    no_args_is_help=True,
)


@app.command("check")
@option_group(
    ConfigOptions, seed=None, overrides="Dotted override (repeatable), e.g. tracking.uri=…"
)
def tracking_check(
    tracking_uri: TrackingUri = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="Experiment to check, created when missing (default: named after --train, "
            "else textclf).",
        ),
    ] = None,
    train_file: Annotated[
        str | None,
        typer.Option("--train", help="Name the experiment after this data, as 'train' would."),
    ] = None,
    setup: ConfigOptions = ConfigOptions(),
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
        cfg = setup.build(flags)
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

    run(body)


@app.command("sync")
def tracking_sync(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH", help="Run folders (or folders of runs) whose records were kept locally."
        ),
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

    run(body)
