"""MLflow backend: a journal-first ``Tracker`` and the sink that replays journals to a store.

``MlflowTracker`` writes every record to the run's local :class:`~textclf.tracking.journal.Journal`
first, then forwards it to the tracking store through :class:`MlflowSink`. When the store
fails (refused, timed out, 5xx) the tracker warns once, stops forwarding and keeps
journaling; at the end of the run it tries once more, and otherwise says where the records
are and which ``textclf tracking sync`` command pushes them. The same sink replays journals
in :mod:`textclf.tracking.sync`, so a live run and a later sync write identical runs.

Replays are idempotent: a journal's run is found again by its ``textclf.journal_id`` tag,
metrics carry their original timestamps (MLflow drops exact duplicates), parameters and
tags are rewritten with the same values, and a model already logged from a record is not
logged twice. The logged model itself (a pyfunc that applies textclf's decision rule) is
built in :mod:`textclf.tracking.mlflow_model`.

This module imports MLflow at import time; import it only when MLflow is wanted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textclf.errors import TrackingError, missing_extra
from textclf.tracking.base import (
    DatasetRecord,
    RunStack,
    RunStatus,
    TrackingInfo,
    finite_metrics,
    flatten_params,
    metric_key,
)
from textclf.tracking.health import check_tracking, mlflow_http_limits, ui_hint
from textclf.tracking.journal import Journal

# The logged model lives in mlflow_model; its names stay importable from here (models
# logged before the split run "from textclf.tracking.mlflow import TextclfPyfunc").
from textclf.tracking.mlflow_model import (
    MODEL_RECORD_TAG,
    TEXT_COLUMN,
    TextclfPyfunc,
    log_model,
)

try:
    import mlflow
    from mlflow.entities import (
        Dataset,
        DatasetInput,
        InputTag,
        Metric,
        Param,
        RunTag,
        ViewType,
    )
    from mlflow.exceptions import MlflowException
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise missing_extra("mlflow", "tracking") from e

__all__ = [
    "JOURNAL_TAG",
    "MODEL_RECORD_TAG",
    "TEXT_COLUMN",
    "MlflowSink",
    "MlflowTracker",
    "TextclfPyfunc",
    "describe_error",
    "is_outage",
    "sync_command",
]

logger = logging.getLogger(__name__)

# MLflow's log_batch limits: 1000 metrics, 100 params, 100 tags per request.
_BATCH = {"metrics": 1000, "params": 100, "tags": 100}

# The store answered and refused the record: sending it again cannot help, so it is
# skipped (with a warning) instead of being taken for an outage.
_REJECTIONS = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"}

JOURNAL_TAG = "textclf.journal_id"


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the store is unreachable or failing, so a later try can succeed.

    Anything else refuses one record (MLflow's validation, a file that is gone, a model
    that cannot be packaged): that record is skipped with a warning instead of stopping
    the forwarding of all the others.
    """
    import requests

    if isinstance(error, TrackingError):
        return False
    if isinstance(error, MlflowException):
        return error.error_code not in _REJECTIONS
    if isinstance(error, ConnectionError | TimeoutError | requests.exceptions.RequestException):
        return True
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy comes with mlflow
        return False
    return isinstance(error, OperationalError)  # a locked or unreachable database


_REASONS = (
    (re.compile(r"Connection refused|ConnectionRefusedError"), "connection refused"),
    (re.compile(r"timed out|Timeout", re.IGNORECASE), "no answer in time"),
    (
        re.compile(r"Name or service not known|NameResolutionError|nodename nor servname"),
        "the host name does not resolve",
    ),
    (re.compile(r"error code (5\d\d)"), "HTTP {0} from the server"),
)


def describe_error(error: BaseException) -> str:
    """A short reason for a failed call, without MLflow's long request dumps.

    Example:
        >>> describe_error(ConnectionError("Max retries exceeded ([Errno 111] Connection refused)"))
        'connection refused'
    """
    text = " ".join((getattr(error, "message", None) or str(error) or type(error).__name__).split())
    for pattern, reason in _REASONS:
        found = pattern.search(text)
        if found:
            return reason.format(*found.groups())
    return text if len(text) <= 300 else text[:297] + "…"


def sync_command(run_dir: Path, uri: str) -> str:
    """The shell command that pushes a run folder's journals to ``uri``."""
    return f"textclf tracking sync {shlex.quote(str(run_dir))} --tracking-uri {shlex.quote(uri)}"


def _relative(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder when inside it, so the folder can move."""
    try:
        return path.resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _resolve(path: str, run_dir: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else run_dir / p


class MlflowSink:
    """Applies journal records to one MLflow tracking URI.

    Args:
        uri: The tracking URI.
        timeout: Seconds per request.
        retries: Retries per request (MLflow's default 7 with back-off takes minutes).
    """

    def __init__(self, uri: str, *, timeout: float = 10.0, retries: int = 2):
        self.uri = uri
        self.timeout = timeout
        self.retries = retries
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        self._experiment_ids: dict[str, str] = {}

    def limits(self) -> contextlib.AbstractContextManager[None]:
        return mlflow_http_limits(retries=self.retries, timeout=self.timeout)

    def experiment_id(self, name: str) -> str:
        """Find, create or restore the experiment ``name``."""
        from textclf.tracking.health import ensure_experiment

        if name not in self._experiment_ids:
            self._experiment_ids[name], _ = ensure_experiment(self.client, name)
        return self._experiment_ids[name]

    def open_run(self, journal: Journal) -> tuple[str, int]:
        """The store's run for ``journal`` (found again or created) and the last record it holds.

        Returns:
            ``(run id, seq of the last record already applied)``.
        """
        run_id, done = journal.progress(self.uri)
        if run_id is not None and self._is_active(run_id):
            return run_id, done
        header = journal.header
        experiment_id = self.experiment_id(header["experiment"])
        found = self._runs_with_journal(experiment_id, journal.id)
        if found:
            # The run exists but this journal's progress record does not say how far it
            # got: replay everything, which is idempotent.
            run_id, done = found, 0
        else:
            tags = {**header.get("tags", {}), JOURNAL_TAG: journal.id}
            parent = self._parent_run_id(header, experiment_id)
            if parent:
                tags["mlflow.parentRunId"] = parent
            run = self.client.create_run(
                experiment_id,
                start_time=header["time"],
                tags=tags,
                run_name=header.get("run_name"),
            )
            run_id, done = run.info.run_id, 0
        journal.set_progress(self.uri, run_id, done)
        return run_id, done

    def apply(self, run_id: str, record: Mapping[str, Any], journal: Journal) -> None:
        """Send one journal record to the run ``run_id``.

        Raises:
            TrackingError: the record cannot be applied (a file it names is gone).
            MlflowException, requests exceptions: from the store.
        """
        op = record["op"]
        if op == "start":
            return
        if op == "params":
            params = [Param(k, str(v)) for k, v in record["params"].items()]
            self._batched(run_id, "params", params)
        elif op == "metrics":
            step = int(record.get("step") or 0)
            metrics = [
                Metric(k, float(v), int(record["time"]), step) for k, v in record["metrics"].items()
            ]
            self._batched(run_id, "metrics", metrics)
        elif op == "tags":
            tags = [RunTag(k, str(v)) for k, v in record["tags"].items()]
            self._batched(run_id, "tags", tags)
        elif op == "dataset":
            self._log_dataset(run_id, record)
        elif op == "artifacts":
            path = _resolve(record["path"], journal.run_dir)
            if not path.exists():
                raise TrackingError(
                    f"{path}: logged as an artifact but no longer exists; it is skipped "
                    "(restore it and sync again to include it)."
                )
            if path.is_dir():
                self.client.log_artifacts(run_id, str(path), record.get("artifact_path"))
            else:
                self.client.log_artifact(run_id, str(path), record.get("artifact_path"))
        elif op == "model":
            self._log_model(run_id, record, journal)
        elif op == "status":
            self.client.update_run(run_id, status=record["status"])
        elif op == "end":
            self.client.set_terminated(run_id, record["status"], end_time=int(record["time"]))
        else:
            raise TrackingError(f"{journal.path} record {record['seq']}: unknown op '{op}'.")

    def _is_active(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except MlflowException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return run.info.lifecycle_stage == "active"

    def _runs_with_journal(self, experiment_id: str, journal_id: str) -> str | None:
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{JOURNAL_TAG}` = '{journal_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def _parent_run_id(self, header: Mapping[str, Any], experiment_id: str) -> str | None:
        parent = header.get("parent")
        if not parent:
            return None
        if parent.get("uri") == self.uri and parent.get("run_id"):
            return str(parent["run_id"])
        found = self._runs_with_journal(experiment_id, parent["journal_id"])
        if found is None:
            logger.warning(
                "The parent of run '%s' is not in %s yet; the run is recorded without its "
                "parent (sync the parent's folder first to keep them linked).",
                header.get("run_name"),
                self.uri,
            )
        return found

    def _batched(self, run_id: str, kind: str, items: list[Any]) -> None:
        size = _BATCH[kind]
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            if kind == "metrics":
                self.client.log_batch(run_id, metrics=chunk)
            elif kind == "params":
                self.client.log_batch(run_id, params=chunk)
            else:
                self.client.log_batch(run_id, tags=chunk)

    def _log_dataset(self, run_id: str, record: Mapping[str, Any]) -> None:
        fingerprint = str(record["fingerprint"])
        # MLflow stores digests in a 36-character column: keep a prefix of the hash, and
        # the whole fingerprint in the profile.
        digest = fingerprint.split(":", 1)[-1][:16]
        source = str(record["source"])
        is_file = Path(source).exists()
        dataset = Dataset(
            name=str(record["name"]),
            digest=digest,
            source_type="local" if is_file else "code",
            source=json.dumps({"uri": source} if is_file else {"tags": {"source": source}}),
            profile=json.dumps({"num_rows": record["num_rows"], "fingerprint": fingerprint}),
        )
        context = InputTag(key="mlflow.data.context", value=str(record["context"]))
        self.client.log_inputs(run_id, [DatasetInput(dataset=dataset, tags=[context])])

    def _log_model(self, run_id: str, record: Mapping[str, Any], journal: Journal) -> None:
        # The journal holds the path relative to the run folder, wherever that is now.
        model_dir = _resolve(record["path"], journal.run_dir).resolve()
        marker = f"{journal.id}:{record['seq']}"
        log_model(self.client, self.uri, run_id, record, model_dir=model_dir, marker=marker)


@dataclass
class _OpenRun:
    journal: Journal
    run_id: str | None = None
    done: int = -1


class MlflowTracker(RunStack[_OpenRun]):
    """Records runs in MLflow, journaling every record locally first (see the module docstring).

    Args:
        uri: The tracking URI.
        experiment: The experiment name (created when missing, restored when deleted).
        local_dir: Where journals go, one folder per run (``<run folder>/tracking``).
        online: ``False`` starts offline (the health check failed): records are only
            journaled until the end-of-run retry.
        timeout: Seconds per request to the store.
        retries: Retries per request.

    Example:
        >>> tracker = MlflowTracker("sqlite:///mlflow.db", "demo", local_dir=Path("runs/x/tracking"))  # doctest: +SKIP
        >>> with tracker.start_run("x"):  # doctest: +SKIP
        ...     tracker.log_metrics({"train_loss": 0.5}, step=10)
    """

    backend = "mlflow"

    def __init__(
        self,
        uri: str,
        experiment: str,
        *,
        local_dir: Path,
        online: bool = True,
        timeout: float = 10.0,
        retries: int = 2,
    ):
        super().__init__()
        self.uri = uri
        self.experiment = experiment
        self.local_dir = Path(local_dir)
        self.timeout = timeout
        self._online = online
        self._retries = retries
        self._sink: MlflowSink | None = None
        self._last: TrackingInfo | None = None
        self._warned = False
        self._journal_warned = False

    # -- Tracker protocol ------------------------------------------------------------

    def _open_run(
        self,
        name: str | None,
        *,
        parent: _OpenRun | None,
        tags: Mapping[str, str],
        resume: str | None,
    ) -> _OpenRun:
        if resume:
            return _OpenRun(Journal(self.local_dir / resume))
        header = {
            "backend": self.backend,
            "uri": self.uri,
            "experiment": self.experiment,
            "run_name": name,
            "tags": dict(tags),
            "parent": None
            if parent is None
            else {"journal_id": parent.journal.id, "run_id": parent.run_id, "uri": self.uri},
        }
        return _OpenRun(Journal.create(self.local_dir, header))

    def _run_opened(self, run: _OpenRun, *, tags: Mapping[str, str], resume: str | None) -> None:
        if resume:
            self._record("status", status="RUNNING")
            if tags:
                self._record("tags", tags=dict(tags))
        self._catch_up(run)

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten_params(params)
        if flat:
            self._record("params", params={metric_key(k): v for k, v in flat.items()})

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        values = {metric_key(k): v for k, v in finite_metrics(metrics).items()}
        if values:
            self._record("metrics", metrics=values, step=step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        if tags:
            self._record("tags", tags={k: str(v) for k, v in tags.items()})

    def log_dataset(self, dataset: DatasetRecord) -> None:
        self._record(
            "dataset",
            name=dataset.name,
            context=dataset.context,
            fingerprint=dataset.fingerprint,
            source=dataset.source,
            num_rows=dataset.num_rows,
        )

    def log_artifacts(self, local_path: Path, *, artifact_path: str | None = None) -> None:
        run_dir = self._current().journal.run_dir
        self._record(
            "artifacts", path=_relative(Path(local_path), run_dir), artifact_path=artifact_path
        )

    def log_model(self, model_dir: Path, *, task: str, registered_model: str | None = None) -> None:
        run_dir = self._current().journal.run_dir
        self._record(
            "model",
            path=_relative(Path(model_dir), run_dir),
            task=task,
            registered_model=registered_model,
            name="model",
        )

    def end_run(self, status: RunStatus = "FINISHED") -> TrackingInfo:
        if not self._stack:
            return self.info()
        run = self._stack[-1]
        self._record("end", status=status)
        if run.done < run.journal.last_seq:
            self._reconnect()
        self._stack.pop()
        info = self._info_for(run)
        if info.fallback:
            logger.warning(
                "Tracking: %d record(s) of run '%s' are kept only in %s; push them to %s when "
                "it is back with: %s",
                run.journal.pending(self.uri),
                run.journal.header.get("run_name"),
                info.fallback,
                self.uri,
                info.sync_command,
            )
        self._last = info
        return info

    def info(self) -> TrackingInfo:
        if self._stack:
            return self._info_for(self._stack[-1])
        return self._last or TrackingInfo(
            backend=self.backend,
            uri=self.uri,
            experiment=self.experiment,
            ui_hint=ui_hint(self.uri),
        )

    # -- journaling and forwarding -----------------------------------------------------

    @property
    def online(self) -> bool:
        return self._online

    def _current(self) -> _OpenRun:
        if not self._stack:
            raise RuntimeError("no open run: call start_run first")
        return self._stack[-1]

    def _online_sink(self) -> MlflowSink | None:
        """The store's sink while online (made on first use; a failure goes offline)."""
        if not self._online:
            return None
        if self._sink is None:
            try:
                self._sink = MlflowSink(self.uri, timeout=self.timeout, retries=self._retries)
            except Exception as e:  # a malformed URI or an unusable store
                self._go_offline(e)
        return self._sink

    def _record(self, op: str, **payload: Any) -> None:
        run = self._current()
        try:
            record = run.journal.append(op, **payload)
        except (OSError, ValueError) as e:
            # A full disk must not stop training: this record is lost, and said so once.
            if not self._journal_warned:
                self._journal_warned = True
                logger.warning(
                    "Cannot write the tracking journal %s (%s); records are being lost.",
                    run.journal.path,
                    e,
                )
            return
        self._forward(run, record)

    def _forward(self, run: _OpenRun, record: dict[str, Any]) -> None:
        # Records go in order: one after a gap waits for the catch-up at the end.
        if run.run_id is None or record["seq"] != run.done + 1:
            return
        sink = self._online_sink()
        if sink is None:
            return
        try:
            with sink.limits():
                sink.apply(run.run_id, record, run.journal)
        except Exception as e:
            if is_outage(e):
                self._go_offline(e)
                return
            logger.warning(
                "A '%s' tracking record cannot be recorded (%s: %s); it is skipped.",
                record["op"],
                type(e).__name__,
                describe_error(e),
            )
        run.done = record["seq"]
        run.journal.set_progress(self.uri, run.run_id, run.done)

    def _catch_up(self, run: _OpenRun) -> None:
        """Open (or find) the store's run and send whatever it has not acknowledged."""
        sink = self._online_sink()
        if sink is None:
            return
        try:
            with sink.limits():
                run.run_id, run.done = sink.open_run(run.journal)
        except Exception as e:
            self._go_offline(e)
            return
        for record in run.journal.entries(after=run.done):
            self._forward(run, record)
            if not self._online:
                return

    def _reconnect(self) -> None:
        """One more try at the end of a run: the server may be back."""
        if not self._online:
            report = check_tracking(
                self.uri, self.experiment, timeout=min(5.0, self.timeout), create=True
            )
            if not report.ok:
                return
            logger.info("The tracking store %s answers again; sending the kept records.", self.uri)
            self._online = True
        for run in self._stack:  # parents first: children link to them
            self._catch_up(run)

    def _go_offline(self, error: BaseException) -> None:
        self._online = False
        if self._warned:
            return
        self._warned = True
        run_dir = self._stack[0].journal.run_dir if self._stack else self.local_dir.parent
        logger.warning(
            "The tracking store %s failed (%s). Training goes on and the run is recorded in "
            "%s; push it later with: %s",
            self.uri,
            describe_error(error),
            self.local_dir,
            sync_command(run_dir, self.uri),
        )

    def _info_for(self, run: _OpenRun) -> TrackingInfo:
        pending = run.journal.pending(self.uri)
        return TrackingInfo(
            backend=self.backend,
            uri=self.uri,
            experiment=self.experiment,
            run_id=run.run_id,
            key=run.journal.id,
            fallback=str(run.journal.folder) if pending else None,
            sync_command=sync_command(run.journal.run_dir, self.uri) if pending else None,
            ui_hint=ui_hint(self.uri),
        )
