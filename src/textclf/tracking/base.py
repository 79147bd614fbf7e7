"""The ``Tracker`` protocol every backend implements, and ``NullTracker`` (tracking off).

Training and the experiment know a tracker only through this protocol, so MLflow and
Weights & Biases are interchangeable and neither is imported unless it is used. A tracker
holds a stack of runs: ``start_run(nested=True)`` opens a child of the innermost open run
(hyperparameter trials under their search), and every ``log_*`` call records into the
innermost one.

A tracker never raises into training: when its server fails it keeps the records locally
and says, once, where they are and how to push them later.

Example:
    >>> tracker = NullTracker()
    >>> with tracker.start_run("baseline", tags={"task": "binary"}):
    ...     tracker.log_metrics({"train_loss": 0.7}, step=10)
    >>> tracker.info().backend
    'none'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
RunT = TypeVar("RunT")

# MLflow's limits (mlflow/utils/validation.py): longer values are rejected by the server.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_KEY_LENGTH = 250
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


@dataclass(frozen=True)
class DatasetRecord:
    """One data split used by a run (an MLflow dataset input, a W&B dataset artifact).

    Attributes:
        name: Split name, e.g. ``"train"``.
        context: Its role: ``"train"``, ``"validation"`` or ``"test"``.
        fingerprint: Content hash, e.g. ``"sha256:…"`` of the file.
        source: Where it came from (a path, a hub name, or a description).
        num_rows: Examples used.
    """

    name: str
    context: str
    fingerprint: str
    source: str
    num_rows: int


@dataclass
class TrackingInfo:
    """Where a run was recorded, for the summary printed at the end.

    Attributes:
        backend: ``"mlflow"``, ``"wandb"`` or ``"none"``.
        uri: The tracking URI (MLflow) or the W&B mode.
        experiment: Experiment (W&B: project) name.
        run_id: The server's run id; ``None`` while the run exists only locally.
        key: The tracker's own id of the run, to continue it after ``--resume``.
        fallback: Local records not yet on the server, or ``None`` when all arrived.
        sync_command: The command that pushes ``fallback`` to the server.
        ui_hint: How to look at the run (a command or a URL).
    """

    backend: str
    uri: str | None = None
    experiment: str | None = None
    run_id: str | None = None
    key: str | None = None
    fallback: str | None = None
    sync_command: str | None = None
    ui_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Tracker(Protocol):
    """Records runs: parameters, step metrics, datasets, artifacts and the model.

    Every method but ``start_run`` acts on the innermost open run. Implementations must
    not raise into the caller when their server fails (see the module docstring).
    """

    def start_run(
        self,
        name: str | None = None,
        *,
        nested: bool = False,
        tags: Mapping[str, str] | None = None,
        resume: str | None = None,
    ) -> RunContext:
        """Open a run (a child of the current one with ``nested=True``).

        Args:
            name: Display name.
            nested: Open it under the innermost open run.
            tags: Tags set at creation.
            resume: ``TrackingInfo.key`` of an earlier run of this tracker to continue.

        Returns:
            A context manager that ends the run (``FAILED`` on an exception); the run is
            open whether or not it is used with ``with``.
        """
        ...

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters; values are stored as strings."""
        ...

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Record metric values at ``step`` (``None``: a final value)."""
        ...

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set tags on the run."""
        ...

    def log_dataset(self, dataset: DatasetRecord) -> None:
        """Record a data split the run used."""
        ...

    def log_artifacts(self, local_path: Path, *, artifact_path: str | None = None) -> None:
        """Upload a file or a folder's contents under ``artifact_path``."""
        ...

    def log_model(self, model_dir: Path, *, task: str, registered_model: str | None = None) -> None:
        """Log a saved model folder (and register it under ``registered_model``)."""
        ...

    def end_run(self, status: RunStatus = "FINISHED") -> TrackingInfo:
        """Close the innermost run and say where it was recorded."""
        ...

    def info(self) -> TrackingInfo:
        """Where the innermost open run (or the last closed one) is recorded."""
        ...


class RunContext:
    """Returned by ``start_run``: ends the run when a ``with`` block exits.

    The status is ``FINISHED`` on a normal exit, ``KILLED`` on Ctrl-C and ``FAILED`` on
    any other exception (which is re-raised).
    """

    def __init__(self, tracker: Tracker):
        self.tracker = tracker

    def __enter__(self) -> Tracker:
        return self.tracker

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tracker.end_run(status_for(exc))


def status_for(exc: BaseException | None) -> RunStatus:
    """The run status that an exception (or its absence) stands for."""
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"


def check_not_open(open_runs: int, *, nested: bool) -> None:
    """Every tracker's rule: a second run opens only as a child (``nested=True``).

    Raises:
        RuntimeError: when a run is open and ``nested`` is false.
    """
    if open_runs and not nested:
        raise RuntimeError("a run is already open; pass nested=True to open a child run")


class RunStack(Generic[RunT]):
    """The stack of open runs every tracker keeps, and the ``start_run`` that pushes onto it.

    A backend says how to create a run (``_open_run``) and, optionally, what to record once
    it is the innermost open run (``_run_opened``); the nesting rule lives here, once.
    """

    def __init__(self) -> None:
        self._stack: list[RunT] = []

    def start_run(
        self,
        name: str | None = None,
        *,
        nested: bool = False,
        tags: Mapping[str, str] | None = None,
        resume: str | None = None,
    ) -> RunContext:
        """See :meth:`Tracker.start_run`."""
        check_not_open(len(self._stack), nested=nested)
        parent = self._stack[-1] if self._stack else None
        run = self._open_run(name, parent=parent, tags=tags or {}, resume=resume)
        self._stack.append(run)
        self._run_opened(run, tags=tags or {}, resume=resume)
        return RunContext(self)  # type: ignore[arg-type]  # subclasses are Trackers

    def _open_run(
        self, name: str | None, *, parent: RunT | None, tags: Mapping[str, str], resume: str | None
    ) -> RunT:
        """Create the run (a child of ``parent`` when there is one)."""
        raise NotImplementedError

    def _run_opened(self, run: RunT, *, tags: Mapping[str, str], resume: str | None) -> None:
        """Called once ``run`` is the innermost open run."""


class NullTracker(RunStack[None]):
    """A tracker that records nothing: tracking is off.

    It still keeps the run stack, so code that nests runs behaves the same.
    """

    def _open_run(
        self, name: str | None, *, parent: None, tags: Mapping[str, str], resume: str | None
    ) -> None:
        return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        return None

    def set_tags(self, tags: Mapping[str, str]) -> None:
        return None

    def log_dataset(self, dataset: DatasetRecord) -> None:
        return None

    def log_artifacts(self, local_path: Path, *, artifact_path: str | None = None) -> None:
        return None

    def log_model(self, model_dir: Path, *, task: str, registered_model: str | None = None) -> None:
        return None

    def end_run(self, status: RunStatus = "FINISHED") -> TrackingInfo:
        if self._stack:
            self._stack.pop()
        return self.info()

    def info(self) -> TrackingInfo:
        return TrackingInfo(backend="none")


def flatten_params(data: Mapping[str, Any], *, prefix: str = "") -> dict[str, str]:
    """Nested settings as flat ``section.key`` → string parameters.

    Lists and dicts that are leaves (no nested sections inside) become JSON; ``None`` is
    ``"None"``, as MLflow itself writes it. Values longer than MLflow accepts are cut with
    a trailing ``…``.

    Args:
        data: E.g. ``config.model_dump(mode="json")``.
        prefix: Prepended to every key.

    Returns:
        A new dict of string parameters.

    Example:
        >>> flatten_params({"train": {"lr": 1e-4, "tags": ["a"]}, "seed": 1})
        {'train.lr': '0.0001', 'train.tags': '["a"]', 'seed': '1'}
    """
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, prefix=f"{name}."))
            continue
        if isinstance(value, list | tuple | Mapping):
            text = json.dumps(value, ensure_ascii=False, default=str)
        else:
            text = str(value)
        if len(text) > MAX_PARAM_VALUE_LENGTH:
            text = text[: MAX_PARAM_VALUE_LENGTH - 1] + "…"
        out[name] = text
    return out


def metric_key(name: str) -> str:
    """A metric or parameter key MLflow accepts: unsupported characters become ``_``.

    Example:
        >>> metric_key("test_f1/label:Her2+ (3+)")
        'test_f1/label:Her2_ _3__'
    """
    return _KEY_UNSAFE.sub("_", name)[:MAX_KEY_LENGTH]


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The entries that are real numbers (not bools, ``None``, NaN or text)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out
