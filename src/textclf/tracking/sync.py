"""``textclf tracking sync``: push the records a run kept locally to the MLflow server.

A run whose server was down (at the start or mid-run) keeps its records in
``<run folder>/tracking/<journal id>/``. Syncing replays the records the server has not
acknowledged, in order, into the same run when the server still has it, or into a new
run otherwise. It is idempotent: syncing twice sends nothing the second time, and a run
found again by its journal tag gets no duplicates (see :mod:`textclf.tracking.mlflow`).

Example:
    >>> results = sync_runs([Path("runs/tickets")], uri="http://mlflow:5000")  # doctest: +SKIP
    >>> [(r.run_id, r.sent) for r in results]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textclf.tracking.health import check_tracking
from textclf.tracking.journal import Journal, find_journals

logger = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What a sync did with one run's journal.

    Attributes:
        journal: The journal folder.
        run_name: The run's display name.
        uri: The tracking URI it was pushed to.
        run_id: The server's run id (``None`` when the server could not be reached).
        sent: Records applied now (0 when the server already had them all).
        skipped: Records the server refused or whose files are gone, with the reason.
        error: Why the sync stopped, or ``None`` when every record is on the server.
    """

    journal: Path
    run_name: str | None
    uri: str
    run_id: str | None = None
    sent: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def sync_runs(
    paths: Sequence[Path], *, uri: str | None = None, timeout: float = 10.0
) -> list[SyncResult]:
    """Push the journals found under ``paths`` to the tracking server.

    Args:
        paths: Run folders (or their ``tracking/`` folders, or folders holding many runs).
        uri: The tracking URI to push to; default the one each run was started with.
        timeout: Seconds per request.

    Returns:
        One result per journal, parents before their nested runs.

    Raises:
        TrackingError: when a path holds no journal.
        MissingExtraError: when MLflow is not installed.
    """
    from textclf.tracking.mlflow import MlflowSink, describe_error, is_outage

    journals: dict[str, Journal] = {}
    for path in paths:
        for journal in find_journals(Path(path)):
            if journal.header.get("backend", "mlflow") == "mlflow":
                journals.setdefault(journal.id, journal)
    ordered = sorted(
        journals.values(),
        key=lambda j: (j.header.get("parent") is not None, j.header["time"]),
    )
    results: list[SyncResult] = []
    sinks: dict[str, MlflowSink | str] = {}  # a str is why the target is unusable
    for journal in ordered:
        target = uri or str(journal.header["uri"])
        result = SyncResult(journal.folder, journal.header.get("run_name"), target)
        results.append(result)
        if target not in sinks:
            report = check_tracking(target, None, timeout=min(5.0, timeout))
            sinks[target] = (
                MlflowSink(target, timeout=timeout, retries=2) if report.ok else report.message
            )
        sink = sinks[target]
        if isinstance(sink, str):
            result.error = sink
            continue
        try:
            with sink.limits():
                _, before = journal.progress(target)
                result.run_id, done = sink.open_run(journal)
                if before < 0:  # the header (seq 0) is applied: the run now exists there
                    result.sent += 1
                for record in journal.entries(after=done):
                    try:
                        sink.apply(result.run_id, record, journal)
                    except Exception as e:
                        if is_outage(e):
                            raise
                        reason = f"record {record['seq']} ({record['op']}): {describe_error(e)}"
                        result.skipped.append(reason)
                        logger.warning("Sync of %s skipped %s", journal.folder, reason)
                    else:
                        result.sent += 1
                    journal.set_progress(target, result.run_id, int(record["seq"]))
        except Exception as e:
            result.error = f"{target} failed mid-sync ({describe_error(e)}); run the sync again."
            sinks[target] = result.error  # the server is gone again: do not hammer it
    return results
