"""Feedback on predictions: a durable SQLite store, and its export as a training file.

Users of the app mark a prediction correct or give the right label(s); each verdict is
one row with the text, what the model predicted and its scores, the model's fingerprint,
the time and the user. ``textclf feedback export`` writes the rows as a CSV or JSONL file
with ``text`` and ``label`` columns, which ``textclf train`` reads as it is.

The store is one SQLite file (``PRAGMA user_version`` holds the schema version) in WAL
mode, so the app's sessions (threads) and other processes can read while one writes;
each write is its own ``BEGIN IMMEDIATE`` transaction with a busy timeout, and
``synchronous=FULL`` makes a committed verdict survive a power cut. WAL needs a local
file system (not NFS/SMB): keep the database on local disk.

Example:
    >>> store = FeedbackStore("feedback.sqlite3")  # doctest: +SKIP
    >>> store.add(FeedbackRecord(text="ER+ PR+ HER2-", task="multiclass",
    ...     model_labels=["luminal_a", "her2"], predicted=["her2"],
    ...     scores={"luminal_a": 0.3, "her2": 0.7}, labels=["luminal_a"],
    ...     model_fingerprint="sha256:…"))  # doctest: +SKIP
    >>> store.export("feedback.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textclf.atomic import atomic_path, write_text_atomic
from textclf.errors import DataError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_ENV = "TEXTCLF_FEEDBACK_DB"
TASKS = ("binary", "multiclass", "multilabel")
EXPORT_FORMATS = (".csv", ".jsonl")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created           TEXT NOT NULL,             -- ISO 8601, UTC
    user              TEXT,                      -- NULL when the app has no login
    text              TEXT NOT NULL,
    task              TEXT NOT NULL,
    model_labels      TEXT NOT NULL,             -- JSON list: the model's label order
    predicted         TEXT NOT NULL,             -- JSON list of predicted labels
    scores            TEXT NOT NULL,             -- JSON {label: probability}
    labels            TEXT NOT NULL,             -- JSON list: the right labels
    verdict           TEXT NOT NULL CHECK (verdict IN ('correct', 'corrected')),
    comment           TEXT,
    model_fingerprint TEXT NOT NULL,
    model_name        TEXT NOT NULL DEFAULT '',
    source            TEXT NOT NULL DEFAULT ''   -- 'text', or the uploaded file's name
);
CREATE INDEX IF NOT EXISTS feedback_model ON feedback (model_fingerprint);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created);
"""


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where feedback is stored when no path is given.

    ``$TEXTCLF_FEEDBACK_DB`` when set, else ``$XDG_DATA_HOME/textclf/feedback.sqlite3``
    (``~/.local/share/textclf/feedback.sqlite3``): the app and ``textclf feedback
    export`` agree on it without being told.
    """
    env = os.environ if environ is None else environ
    if env.get(DB_ENV):
        return Path(env[DB_ENV]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "textclf" / "feedback.sqlite3"


# ---------------------------------------------------------------------------------------
# Model fingerprint
# ---------------------------------------------------------------------------------------

_FINGERPRINT_FILES = ("config.json", "textclf.json")


def _fingerprint_files(folder: Path) -> list[Path]:
    weights = sorted(folder.glob("model*.safetensors"))
    return [folder / n for n in _FINGERPRINT_FILES if (folder / n).is_file()] + weights


@functools.lru_cache(maxsize=64)
def _fingerprint_cached(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for name, _, _ in stamp:
        h.update(name.encode("utf-8") + b"\0")
        with open(Path(folder) / name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def model_fingerprint(directory: str | os.PathLike[str]) -> str:
    """A hash that changes whenever the model's predictions can change.

    SHA-256 over ``config.json``, ``textclf.json`` (labels, thresholds, temperature) and
    the safetensors weights, in that order, each preceded by its name. Cached by file
    sizes and modification times, so a 400 MB model is hashed once per process.

    Args:
        directory: A model folder.

    Returns:
        ``"sha256:<64 hex digits>"``.

    Raises:
        DataError: the folder has none of those files.
    """
    folder = Path(directory).resolve()
    files = _fingerprint_files(folder)
    if not files:
        raise DataError(f"{folder}: no config.json, textclf.json or weights to fingerprint.")
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _fingerprint_cached(str(folder), stamp)


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class FeedbackRecord:
    """One verdict on one prediction.

    Attributes:
        text: The text that was classified.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        model_labels: The model's labels, in its order.
        predicted: The label(s) the user was shown.
        scores: Every label's probability as shown.
        labels: The right label(s) according to the user (equal to ``predicted`` when the
            user confirmed the prediction); exactly one for single-label tasks, any number
            (even none) for multi-label.
        model_fingerprint: :func:`model_fingerprint` of the model that predicted.
        model_name: A readable name of that model (its folder).
        user: Who gave the feedback (``None`` without login).
        comment: Optional free text.
        source: ``text`` for a typed text, else the uploaded file's name.
        created: ISO 8601 time in UTC; set when stored.
        id: Row id; set when stored.
    """

    text: str
    task: str
    model_labels: list[str]
    predicted: list[str]
    scores: dict[str, float]
    labels: list[str]
    model_fingerprint: str
    model_name: str = ""
    user: str | None = None
    comment: str | None = None
    source: str = "text"
    created: str = ""
    id: int | None = None

    @property
    def verdict(self) -> str:
        """``correct`` when the right labels are the predicted ones, else ``corrected``."""
        return "correct" if set(self.labels) == set(self.predicted) else "corrected"

    def validate(self) -> None:
        """Check the record before it is stored.

        Raises:
            DataError: an empty text, an unknown task or label, or not exactly one label
                for a single-label task.
        """
        if not self.text.strip():
            raise DataError("feedback on an empty text cannot be stored; classify a text first.")
        if self.task not in TASKS:
            raise DataError(f"feedback task {self.task!r} is not one of {', '.join(TASKS)}.")
        known = set(self.model_labels)
        for what, values in (("right", self.labels), ("predicted", self.predicted)):
            unknown = [v for v in values if v not in known]
            if unknown:
                raise DataError(
                    f"feedback {what} label(s) {unknown} are not among the model's labels "
                    f"{self.model_labels[:10]}; pick labels the model knows."
                )
        if self.task != "multilabel" and len(self.labels) != 1:
            raise DataError(
                f"a {self.task} model's feedback needs exactly one right label, got "
                f"{len(self.labels)}; pick one."
            )
        if not self.model_fingerprint:
            raise DataError("feedback needs the model fingerprint (see model_fingerprint()).")


def _row_to_record(row: sqlite3.Row) -> FeedbackRecord:
    return FeedbackRecord(
        id=row["id"],
        created=row["created"],
        user=row["user"],
        text=row["text"],
        task=row["task"],
        model_labels=json.loads(row["model_labels"]),
        predicted=json.loads(row["predicted"]),
        scores=json.loads(row["scores"]),
        labels=json.loads(row["labels"]),
        comment=row["comment"],
        model_fingerprint=row["model_fingerprint"],
        model_name=row["model_name"],
        source=row["source"],
    )


@dataclass
class LabelCorrections:
    """How often one label was wrong in the feedback.

    Attributes:
        label: The label.
        wrongly_predicted: Verdicts where it was predicted but is not right.
        missed: Verdicts where it is right but was not predicted.
    """

    label: str
    wrongly_predicted: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.wrongly_predicted + self.missed


@dataclass
class FeedbackStats:
    """Counts for the app's feedback page.

    Attributes:
        total: Verdicts stored.
        correct: Predictions confirmed.
        corrected: Predictions corrected.
        by_user: Verdicts per user (``"anonymous"`` without login).
        by_model: Verdicts per model name.
        labels: Labels by how often they were corrected, most first (only labels
            corrected at least once).
        confusions: ``(predicted, right, count)`` for corrected verdicts, most first;
            labels joined with ``", "`` (``"(none)"`` for an empty multi-label set).
        first: Time of the oldest verdict (``None`` when empty).
        last: Time of the newest verdict.
    """

    total: int = 0
    correct: int = 0
    corrected: int = 0
    by_user: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    labels: list[LabelCorrections] = field(default_factory=list)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    first: str | None = None
    last: str | None = None


def feedback_stats(records: Sequence[FeedbackRecord]) -> FeedbackStats:
    """Counts, and the labels most often corrected, over ``records``."""
    stats = FeedbackStats(total=len(records))
    per_label: dict[str, LabelCorrections] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    by_user: Counter[str] = Counter()
    by_model: Counter[str] = Counter()
    for r in records:
        by_user[r.user or "anonymous"] += 1
        by_model[r.model_name or r.model_fingerprint[:19]] += 1
        if r.verdict == "correct":
            stats.correct += 1
            continue
        stats.corrected += 1
        for lab in r.predicted:
            if lab not in r.labels:
                per_label.setdefault(lab, LabelCorrections(lab)).wrongly_predicted += 1
        for lab in r.labels:
            if lab not in r.predicted:
                per_label.setdefault(lab, LabelCorrections(lab)).missed += 1
        confusions[(", ".join(r.predicted) or "(none)", ", ".join(r.labels) or "(none)")] += 1
    stats.by_user = dict(by_user.most_common())
    stats.by_model = dict(by_model.most_common())
    stats.labels = sorted(per_label.values(), key=lambda c: (-c.total, c.label))
    stats.confusions = [(p, t, n) for (p, t), n in confusions.most_common()]
    if records:
        stats.first = min(r.created for r in records)
        stats.last = max(r.created for r in records)
    return stats


@dataclass
class ExportResult:
    """What :meth:`FeedbackStore.export` wrote.

    Attributes:
        path: The training file.
        n_rows: Examples written.
        n_correct: Of which confirmed predictions.
        n_corrected: Of which corrected ones.
        n_superseded: Older verdicts on a text that has a newer one, left out.
        task: The task of the models the feedback came from.
        labels: Those models' labels.
    """

    path: Path
    n_rows: int
    n_correct: int
    n_corrected: int
    n_superseded: int
    task: str
    labels: list[str]

    def train_command(self) -> str:
        """A ``textclf train`` command line that trains on the exported file."""
        task = " --task multilabel" if self.task == "multilabel" else ""
        return f"textclf train --train {self.path}{task} --output runs/with-feedback"


# ---------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------


class FeedbackStore:
    """Feedback verdicts in one SQLite file (created with its folder when missing).

    Args:
        path: The database file; see :func:`default_db_path`.
        timeout: Seconds a writer waits for another writer's lock before giving up.

    Raises:
        DataError: the file is not a SQLite database, was made by a newer textclf, or
            cannot be created.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self.timeout = timeout
        try:
            # Private: the store holds the users' texts and comments (SQLite gives its
            # journal files the database's mode).
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass  # another process created it first
        except OSError as e:
            raise DataError(
                f"{self.path.parent}: cannot create the feedback store ({e.strerror}); "
                "give a writable path with --feedback-db or TEXTCLF_FEEDBACK_DB."
            ) from e
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning(
                "%s is readable by other accounts (mode %o) and holds the users' texts; "
                "chmod 600 it.",
                self.path,
                mode,
            )
        self._init_schema()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise self._error(e) from e
        with closing(con):
            con.row_factory = sqlite3.Row
            try:
                con.execute("PRAGMA synchronous=FULL")
                yield con
            except sqlite3.Error as e:
                raise self._error(e) from e

    def _error(self, e: sqlite3.Error) -> DataError:
        if isinstance(e, sqlite3.DatabaseError) and "not a database" in str(e):
            return DataError(
                f"{self.path}: not a SQLite database; point --feedback-db or "
                "TEXTCLF_FEEDBACK_DB at a new file name or at a textclf feedback database."
            )
        if "readonly" in str(e) or "unable to open" in str(e):
            return DataError(
                f"{self.path}: cannot write the feedback database ({e}); give a writable "
                "path with --feedback-db or TEXTCLF_FEEDBACK_DB."
            )
        if "locked" in str(e):
            return DataError(
                f"{self.path}: the feedback database stayed locked by another writer for "
                f"{self.timeout:.0f} s; try again."
            )
        return DataError(f"{self.path}: feedback database error ({e}).")

    def _init_schema(self) -> None:
        with self._connect() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(
                    f"{self.path}: feedback database schema {version} was written by a newer "
                    f"textclf (this one reads up to {SCHEMA_VERSION}); upgrade textclf."
                )
            if version == SCHEMA_VERSION:
                return
            # WAL is a property of the file: set once, every later connection uses it.
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                logger.warning(
                    "%s: WAL mode not available (%s); writes still work.", self.path, mode
                )
            con.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created the schema while we waited for the lock.
                if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def add(self, record: FeedbackRecord) -> int:
        """Store one verdict; sets ``record.id`` and ``record.created``.

        Returns:
            The new row id.

        Raises:
            DataError: an invalid record (see :meth:`FeedbackRecord.validate`) or a
                database that cannot be written.
        """
        record.validate()
        record.created = record.created or _now()
        values = (
            record.created,
            record.user,
            record.text,
            record.task,
            json.dumps(list(record.model_labels), ensure_ascii=False),
            json.dumps(list(record.predicted), ensure_ascii=False),
            json.dumps({k: float(v) for k, v in record.scores.items()}, ensure_ascii=False),
            json.dumps(list(record.labels), ensure_ascii=False),
            record.verdict,
            record.comment or None,
            record.model_fingerprint,
            record.model_name,
            record.source,
        )
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                cur = con.execute(
                    "INSERT INTO feedback (created, user, text, task, model_labels, predicted, "
                    "scores, labels, verdict, comment, model_fingerprint, model_name, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        record.id = int(cur.lastrowid or 0)
        return record.id

    def records(
        self,
        *,
        task: str | None = None,
        labels: Sequence[str] | None = None,
        model_fingerprint: str | None = None,
        user: str | None = None,
    ) -> list[FeedbackRecord]:
        """Stored verdicts, oldest first.

        Args:
            task: Only feedback on models of this task.
            labels: Only feedback on models with exactly these labels (in any order).
            model_fingerprint: Only feedback on this model (a prefix is enough).
            user: Only the verdicts of this logged-in user.
        """
        sql, params = "SELECT * FROM feedback", []
        clauses = []
        if task is not None:
            clauses.append("task = ?")
            params.append(task)
        if user is not None:
            clauses.append("user = ?")
            params.append(user)
        if model_fingerprint is not None:
            clauses.append("model_fingerprint LIKE ? ESCAPE '\\'")
            escaped = model_fingerprint.replace("\\", "\\\\").replace("%", "\\%")
            params.append(escaped.replace("_", "\\_") + "%")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY id", params).fetchall()
        out = [_row_to_record(r) for r in rows]
        if labels is not None:
            wanted = set(labels)
            out = [r for r in out if set(r.model_labels) == wanted]
        return out

    def count(self) -> int:
        """Number of stored verdicts."""
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def stats(self, **filters: Any) -> FeedbackStats:
        """:func:`feedback_stats` over :meth:`records` (same filters)."""
        return feedback_stats(self.records(**filters))

    def export(
        self,
        output: str | os.PathLike[str],
        *,
        task: str | None = None,
        labels: Sequence[str] | None = None,
        model_fingerprint: str | None = None,
        include: str = "all",
        user: str | None = None,
    ) -> ExportResult:
        """Write the feedback as a training file that ``textclf train`` reads.

        Columns ``text`` and ``label`` (multi-label: a JSON list, which the readers parse
        without a separator option), then ``verdict``, ``predicted``, ``comment``,
        ``user``, ``created``, ``model_fingerprint`` and ``feedback_id`` for the record.
        When a text has several verdicts, the newest one wins. Written atomically.

        Args:
            output: ``.csv`` or ``.jsonl`` path.
            task, labels, model_fingerprint, user: As in :meth:`records`.
            include: ``all``, ``corrected`` (only corrections) or ``correct``.

        Returns:
            What was written.

        Raises:
            DataError: an unknown file type or ``include``, no matching feedback, or
                feedback from models with different label sets (pass ``labels``).
        """
        out = Path(output)
        if out.suffix.lower() not in EXPORT_FORMATS:
            raise DataError(
                f"{out}: unknown training-file type '{out.suffix or '(none)'}'; use .csv or .jsonl."
            )
        if include not in ("all", "correct", "corrected"):
            raise DataError(f"include={include!r}: use 'all', 'correct' or 'corrected'.")
        records = self.records(
            task=task, labels=labels, model_fingerprint=model_fingerprint, user=user
        )
        # The newest verdict per text first, then the kind asked for: a correction the user
        # later withdrew (a newer "correct") must not come back through include=corrected.
        latest: dict[str, FeedbackRecord] = {}
        for r in records:  # oldest first: a later verdict on the same text replaces it
            latest[r.text] = r
        newest = sorted(latest.values(), key=lambda r: r.id or 0)
        kept = newest if include == "all" else [r for r in newest if r.verdict == include]
        if not kept:
            raise DataError(
                f"{self.path}: no feedback matches (include={include}"
                + (f", task={task}" if task else "")
                + (f", fingerprint={model_fingerprint}" if model_fingerprint else "")
                + (f", user={user}" if user else "")
                + "); nothing was written."
            )
        groups = Counter((r.task, tuple(sorted(r.model_labels))) for r in kept)
        if len(groups) > 1:
            desc = "; ".join(
                f"{t} with {len(labs)} labels ({', '.join(labs[:4])}{'…' if len(labs) > 4 else ''}): "
                f"{n} verdicts"
                for (t, labs), n in groups.most_common()
            )
            raise DataError(
                f"{self.path}: the feedback comes from models with different label sets "
                f"({desc}); export one set at a time with --model DIR (a model folder with "
                "those labels)."
            )
        multilabel = kept[0].task == "multilabel"
        rows = [
            {
                "text": r.text,
                "label": list(r.labels) if multilabel else r.labels[0],
                "verdict": r.verdict,
                "predicted": list(r.predicted) if multilabel else ", ".join(r.predicted),
                "comment": r.comment or "",
                "user": r.user or "",
                "created": r.created,
                "model_fingerprint": r.model_fingerprint,
                "feedback_id": r.id,
            }
            for r in kept
        ]
        if out.suffix.lower() == ".jsonl":
            lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            write_text_atomic(out, lines)
        else:
            import pandas as pd

            frame = pd.DataFrame(rows)
            if multilabel:
                for col in ("label", "predicted"):
                    frame[col] = [json.dumps(v, ensure_ascii=False) for v in frame[col]]
            with atomic_path(out) as tmp:
                frame.to_csv(tmp, index=False)
        n_correct = sum(r.verdict == "correct" for r in kept)
        return ExportResult(
            path=out,
            n_rows=len(kept),
            n_correct=n_correct,
            n_corrected=len(kept) - n_correct,
            n_superseded=len(records) - len(newest),
            task=kept[0].task,
            labels=list(kept[0].model_labels),
        )
