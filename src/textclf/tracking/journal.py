"""The local fallback store: an append-only journal of one run's tracking records.

Every record a run makes is written here first and forwarded to the tracking server
second (a write-ahead log), so a server that is down at the start, or dies mid-run, loses
nothing: the journal holds every record, and ``textclf tracking sync`` replays the part
the server has not acknowledged.

```
<run folder>/tracking/<journal id>/
  journal.jsonl    one JSON record per line: {"seq", "time", "op", ...}; seq 0 is the run header
  state.json       per tracking URI: the server's run id and the last record it acknowledged
```

The journal is appended to, not rewritten: the atomic temporary-file-and-rename used for
every other file would copy the whole file per record. Each line is flushed and fsynced;
a crash mid-line leaves a torn last line, which readers skip and the next writer cuts
off. ``state.json`` is small and written atomically.

Example:
    >>> journal = Journal.create(Path("runs/x/tracking"), {"experiment": "x"})  # doctest: +SKIP
    >>> journal.append("metrics", metrics={"train_loss": 0.7}, step=10)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shlex
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textclf.atomic import write_text_atomic
from textclf.errors import TrackingError

JOURNAL_FILE = "journal.jsonl"
STATE_FILE = "state.json"


def now_ms() -> int:
    """Milliseconds since the epoch, MLflow's timestamp unit."""
    return int(time.time() * 1000)


class Journal:
    """One run's records on local disk (see the module docstring).

    Args:
        folder: The journal's folder (``<root>/<journal id>``), which must exist.

    Raises:
        TrackingError: when the folder holds no readable journal.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL_FILE
        if not self.path.is_file():
            raise TrackingError(
                f"{self.folder}: no tracking journal ({JOURNAL_FILE}) here; give a run folder "
                "written by 'textclf train' or its tracking/ subfolder."
            )
        self._cut_torn_tail()
        header = next(self.entries(), None)
        if header is None or header.get("op") != "start":
            raise TrackingError(
                f"{self.path} line 1: not a textclf tracking journal (no run header); "
                "it cannot be synced."
            )
        self.header: dict[str, Any] = header
        self._next_seq = self._last_seq() + 1

    @classmethod
    def create(cls, root: Path, header: dict[str, Any]) -> Journal:
        """Start a new journal under ``root``; ``header`` describes the run (seq 0)."""
        journal_id = uuid.uuid4().hex
        folder = Path(root) / journal_id
        folder.mkdir(parents=True, exist_ok=False)
        record = {"seq": 0, "time": now_ms(), "op": "start", "journal_id": journal_id, **header}
        with open(folder / JOURNAL_FILE, "x", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return cls(folder)

    @property
    def id(self) -> str:
        return str(self.header["journal_id"])

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest record."""
        return self._next_seq - 1

    @property
    def run_dir(self) -> Path:
        """The run folder the journal belongs to (relative artifact paths start here)."""
        return self.folder.parent.parent

    def append(self, op: str, **payload: Any) -> dict[str, Any]:
        """Write one record durably and return it (with its ``seq`` and ``time``)."""
        record = {"seq": self._next_seq, "time": now_ms(), "op": op, **payload}
        line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._next_seq += 1
        return record

    def entries(self, *, after: int = -1) -> Iterator[dict[str, Any]]:
        """The records with ``seq > after``, in order; a torn last line is skipped."""
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    return  # torn by a crash mid-write: never acknowledged, never forwarded
                record = json.loads(line)
                if record["seq"] > after:
                    yield record

    def progress(self, target: str) -> tuple[str | None, int]:
        """``(server run id, last acknowledged seq)`` for a tracking URI; ``(None, -1)`` if new."""
        entry = self._read_state().get("targets", {}).get(target)
        if not entry:
            return None, -1
        return entry.get("run_id"), int(entry.get("done", -1))

    def set_progress(self, target: str, run_id: str, done: int) -> None:
        """Remember that ``target`` holds this run as ``run_id`` up to record ``done``."""
        state = self._read_state()
        state.setdefault("targets", {})[target] = {"run_id": run_id, "done": done}
        write_text_atomic(self.folder / STATE_FILE, json.dumps(state, indent=1) + "\n")

    def pending(self, target: str) -> int:
        """Records ``target`` has not acknowledged yet."""
        _, done = self.progress(target)
        return max(0, self.last_seq - done)

    def _read_state(self) -> dict[str, Any]:
        path = self.folder / STATE_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}  # written atomically, so only a hand edit breaks it: start over
        return data if isinstance(data, dict) else {}

    def _last_seq(self) -> int:
        last = -1
        for record in self.entries():
            last = int(record["seq"])
        return last

    def _cut_torn_tail(self) -> None:
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)


def find_journals(path: Path) -> list[Journal]:
    """The journals in a run folder, its ``tracking/`` folder, one journal folder or a tree.

    Parents come before their nested runs (by start time), so a sync can link children
    to parents that it has just created.

    Raises:
        TrackingError: when ``path`` does not exist or holds no journal.
    """
    path = Path(path)
    if not path.exists():
        raise TrackingError(f"{path}: not found; give a run folder written by 'textclf train'.")
    if path.is_file() and path.name == JOURNAL_FILE:
        files = [path]
    else:
        files = sorted(path.rglob(JOURNAL_FILE))
    if not files:
        offline = sorted(path.rglob("offline-run-*")) if path.is_dir() else []
        if offline:  # W&B keeps offline runs itself; its own command pushes them
            raise TrackingError(
                f"{path}: the run was recorded by W&B offline, which textclf does not sync; "
                f"push it with: wandb sync {shlex.quote(str(offline[-1]))}"
            )
        raise TrackingError(
            f"{path}: no tracking records here (no tracking/*/{JOURNAL_FILE}); the run was "
            "recorded directly or with tracking off, so there is nothing to sync."
        )
    journals = [Journal(f.parent) for f in files]
    return sorted(journals, key=lambda j: (j.header.get("parent") is not None, j.header["time"]))
