"""The output folder of a training run: one job at a time, and whether the run has finished.

A run writes ``.textclf-run.json`` (its state: ``running`` or ``finished``) and holds an
OS-level lock on ``.textclf.lock`` while it works. The lock is ``filelock``'s ``flock``:
the kernel releases it when the process dies, so a crashed or killed run never leaves the
folder stuck, while a second job started on the same folder is refused at once.

Example:
    >>> folder = RunFolder(Path("runs/x"))  # doctest: +SKIP
    >>> with folder.claim():  # doctest: +SKIP
    ...     folder.set_state("running")
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout

from textclf.atomic import write_text_atomic
from textclf.errors import ConfigError
from textclf.persistence import _RUN_LOCK, RUN_STATE, SIDECAR, RunState, run_state

LOCK = _RUN_LOCK
STATE = RUN_STATE

State = RunState


class RunFolder:
    """A training run's output folder.

    Args:
        path: The ``--output`` folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def state(self) -> State:
        """``empty`` (nothing there), ``running`` (started, not finished) or ``finished``."""
        return run_state(self.path)

    def foreign_files(self) -> list[str]:
        """Names in a non-empty folder that holds no textclf run (``[]`` for a run or an empty folder).

        A run leaves its state file, its model sidecar or its checkpoints' config; a folder
        with none of them is somebody else's, which ``--overwrite`` must never empty.
        """
        if self.state() == "empty":
            return []
        marks = (STATE, SIDECAR, "checkpoints/run-config.yaml")
        if any((self.path / mark).exists() for mark in marks):
            return []
        return sorted(p.name for p in self.path.iterdir() if p.name != LOCK)

    def set_state(self, status: Literal["running", "finished"]) -> None:
        """Record the run's state (atomically)."""
        record = {
            "status": status,
            "pid": os.getpid(),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_text_atomic(self.path / STATE, json.dumps(record) + "\n")

    @contextlib.contextmanager
    def claim(self) -> Iterator[None]:
        """Hold the folder's lock for the block; refuse when another job holds it.

        Raises:
            ConfigError: when a running job already holds the folder.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(
                f"{self.path}: another textclf job is writing to this folder right now; "
                "wait for it to finish, or choose another --output."
            ) from None
        try:
            self._remove_leftovers()
            yield
        finally:
            lock.release()

    def _remove_leftovers(self) -> None:
        """Delete temporary files a killed job left mid-write (we hold the lock: none is live)."""
        patterns = (".saving-*", "checkpoints/.trained-*", "**/.*.tmp")
        for pattern in patterns:
            for item in self.path.glob(pattern):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)

    def clear(self) -> None:
        """Delete the folder's contents except the lock (for ``--overwrite``)."""
        for item in self.path.iterdir():
            if item.name == LOCK:
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
