"""Prediction input in chunks, for files of any size: the rows ``read_split`` would give.

``textclf predict`` reads its input here. Plain UTF-8 CSV, TSV and JSON Lines files are
streamed with the standard library's ``csv`` and ``json`` modules, a chunk of rows at a
time, so memory stays flat however large the file and no ``datasets``/``pandas`` import
(seconds) delays a small job. Everything else — Parquet, JSON documents, and any file
the streaming reader meets something unusual in (an encoding problem, a malformed or
ragged record, a missing column, a text that is not a string) — goes through
:func:`textclf.data.io.read_split`, the one reader of training data, whose rows and
one-line errors are the reference: the streaming reader raises :class:`NeedsFullReader`
and the caller starts again with ``read_split`` (which, for a broken file, raises the
error naming its line). So the streaming reader never has to word an error, and it only
ever gives the rows ``read_split`` gives (``tests/unit/inference/test_reader.py`` checks
them against each other).

Rows are numbered as ``read_split`` numbers them (1-based data rows; blank lines are not
rows); rows whose text is empty or blank are skipped and counted.

Example:
    >>> stats = InputStats()
    >>> for chunk in stream_rows("tickets.csv", InputColumns(), stats=stats):  # doctest: +SKIP
    ...     print(chunk.rows[:3], chunk.texts[:1])
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# columns and formats import neither datasets nor pandas (tests/unit/data/test_formats.py).
from textclf.data.columns import TEXT_CANDIDATES, pick_column
from textclf.data.formats import (
    check_named_columns,
    data_suffix,
    open_text,
    read_text_sample,
    sniff_dialect,
)
from textclf.errors import DataError

if TYPE_CHECKING:
    from textclf.data.io import ColumnSpec

logger = logging.getLogger(__name__)

#: Rows per chunk: what is held in memory at once (texts, records, logits).
CHUNK_ROWS = 8192

_STREAMED = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Any control character sends the file to read_split, which decides whether it is text.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class InputColumns:
    """The column options of prediction input, without importing ``textclf.data.io``.

    The same fields as :class:`textclf.data.io.ColumnSpec` (which the readers here also
    take); labels are not read for prediction.
    """

    text: str | None = None
    id_column: str | None = None
    column_names: tuple[str, ...] | None = None
    quoting: str = "auto"
    file_format: str = "auto"

    def column_spec(self) -> ColumnSpec:
        """The equivalent ``ColumnSpec`` for ``read_split``."""
        from textclf.data.io import ColumnSpec

        return ColumnSpec(
            text=self.text,
            id_column=self.id_column,
            column_names=self.column_names,
            quoting=self.quoting,
            file_format=self.file_format,
        )


class NeedsFullReader(Exception):
    """The streaming reader met something only ``read_split`` handles; the message says what."""


@dataclass
class Chunk:
    """Rows of the input: row numbers, texts, and ids when an id column was given."""

    rows: list[int]
    texts: list[str]
    ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class InputStats:
    """What reading found: rows read and rows skipped (empty text), filled in as it goes."""

    n_read: int = 0
    skipped_rows: list[int] = field(default_factory=list)
    reader: str = ""

    @property
    def skipped(self) -> dict[str, int]:
        return {"empty_text": len(self.skipped_rows)} if self.skipped_rows else {}


def stream_format(path: Path, spec: ColumnSpec | InputColumns) -> str | None:
    """``csv``, ``tsv`` or ``jsonl`` when the streaming reader may read ``path``, else ``None``."""
    forced = spec.file_format
    fmt = _STREAMED.get(data_suffix(path)) if forced == "auto" else forced
    if fmt not in ("csv", "tsv", "jsonl") or not path.is_file():
        return None
    return fmt


def stream_rows(
    source: str | os.PathLike[str],
    spec: ColumnSpec | InputColumns,
    *,
    chunk_rows: int = CHUNK_ROWS,
    stats: InputStats,
) -> Iterator[Chunk]:
    """Chunks of rows from a CSV, TSV or JSON Lines file, read as it is consumed.

    Raises:
        NeedsFullReader: anywhere in the file, for anything but a plain file (see the
            module docstring); the caller discards what it has and uses
            :func:`split_rows`.
    """
    path = Path(source)
    fmt = stream_format(path, spec)
    if fmt is None:
        raise NeedsFullReader(f"{data_suffix(path) or 'no extension'}: not a streamed format")
    stats.reader = "stream"
    sample = _sample(path)
    rows = _jsonl_rows(path, spec) if fmt == "jsonl" else _csv_rows(path, fmt, spec, sample)
    yield from _chunked(rows, chunk_rows, stats, with_ids=spec.id_column is not None)
    if stats.n_read == 0:
        raise NeedsFullReader("no data rows")
    if len(stats.skipped_rows) == stats.n_read:
        raise NeedsFullReader("every text is empty")
    if stats.skipped_rows:
        logger.warning(
            "%s: skipped %d row(s) with empty or whitespace-only text (first: row %d).",
            path,
            len(stats.skipped_rows),
            stats.skipped_rows[0],
        )


def split_rows(
    source: str | os.PathLike[str],
    spec: ColumnSpec | InputColumns,
    *,
    chunk_rows: int = CHUNK_ROWS,
    stats: InputStats,
) -> Iterator[Chunk]:
    """Chunks of the rows of :func:`textclf.data.io.read_split` (any source it reads).

    Raises:
        DataError: whatever ``read_split`` raises for the source.
    """
    from textclf.data.io import read_split

    if isinstance(spec, InputColumns):
        spec = spec.column_spec()
    split = read_split(source, spec, name="input", require_labels=False)
    stats.reader = "read_split"
    stats.n_read = split.n_read
    stats.skipped_rows = list(split.skipped_rows.get("empty_text", []))
    ds = split.dataset
    has_id = "id" in ds.column_names
    for start in range(0, len(ds), chunk_rows):
        part = ds[start : start + chunk_rows]
        yield Chunk(list(part["row"]), list(part["text"]), list(part["id"]) if has_id else None)


def _chunked(
    rows: Iterator[tuple[str, Any]], size: int, stats: InputStats, *, with_ids: bool
) -> Iterator[Chunk]:
    chunk = Chunk([], [], [] if with_ids else None)
    for text, ident in rows:
        stats.n_read += 1
        if not text.strip():
            stats.skipped_rows.append(stats.n_read)
            continue
        chunk.rows.append(stats.n_read)
        chunk.texts.append(text)
        if chunk.ids is not None:
            chunk.ids.append(ident)
        if len(chunk) >= size:
            yield chunk
            chunk = Chunk([], [], [] if with_ids else None)
    if len(chunk):
        yield chunk


def _sample(path: Path) -> str:
    """The first 64 KiB (whole lines), decoded; anything but plain UTF-8 text goes to read_split."""
    try:
        text = read_text_sample(path)
    except DataError as e:
        raise NeedsFullReader(str(e)) from e
    if _CONTROL.search(text):
        raise NeedsFullReader("control characters")
    return text


def _pick(columns: Sequence[str], wanted: str | None) -> str | None:
    """The text column, as ``textclf.data.io`` picks it; ``None`` where it would refuse."""
    if wanted is not None and wanted not in columns:
        return None
    return pick_column(columns, wanted, TEXT_CANDIDATES, "text", "input")


# ---------------------------------------------------------------------------------------
# CSV and TSV
# ---------------------------------------------------------------------------------------


def _csv_rows(
    path: Path, fmt: str, spec: ColumnSpec | InputColumns, sample: str
) -> Iterator[tuple[str, Any]]:
    # Separator and quoting decided as textclf.data.io decides them.
    dialect = sniff_dialect(path, fmt, sample, column_names=spec.column_names, quoting=spec.quoting)
    try:
        with open_text(path, encoding="utf-8-sig", newline="") as f:
            reader = dialect.reader(f, strict=True)
            if spec.column_names:
                header = list(spec.column_names)
                first = next(reader, None)
                try:
                    check_named_columns(path, first or [], header)
                except DataError as e:
                    raise NeedsFullReader(str(e)) from e  # read_split raises it again
                if first:
                    f.seek(0)
                    reader = dialect.reader(f, strict=True)
            else:
                first = next(reader, None)
                if not first or not any(h.strip() for h in first):
                    raise NeedsFullReader("no header")
                header = [h.strip() or f"Unnamed: {i}" for i, h in enumerate(first)]
                if len(set(header)) != len(header):
                    raise NeedsFullReader("duplicate column names")
            text_col = _pick(header, spec.text)
            if text_col is None or (spec.id_column and spec.id_column not in header):
                raise NeedsFullReader("column not found")
            t = header.index(text_col)
            i = header.index(spec.id_column) if spec.id_column else None
            width = len(header)
            for record in reader:
                if not record:
                    continue  # a blank line is not a row (pandas skips it too)
                if len(record) != width:
                    raise NeedsFullReader(f"line {reader.line_num}: {len(record)} fields")
                yield record[t], (record[i] if i is not None else None)
    except (csv.Error, UnicodeDecodeError) as e:
        raise NeedsFullReader(str(e)) from e


# ---------------------------------------------------------------------------------------
# JSON Lines
# ---------------------------------------------------------------------------------------


def _jsonl_rows(path: Path, spec: ColumnSpec | InputColumns) -> Iterator[tuple[str, Any]]:
    text_key: str | None = None
    first_keys: Any = None
    better: set[str] = set()  # candidates that would outrank text_key if a row had them
    id_key = spec.id_column
    id_kind: type | None = None
    id_seen = False
    try:
        # newline="\n": JSON Lines ends lines with \n only, as textclf.data.io reads them.
        with open_text(path, newline="\n") as f:
            for lineno, line in enumerate(f, start=1):
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise NeedsFullReader(f"line {lineno}: not an object")
                if text_key is None:
                    text_key = _pick(list(obj), spec.text)
                    if text_key is None:
                        raise NeedsFullReader("text column not in the first row")
                    first_keys = obj.keys()
                    if spec.text is None:
                        rank = TEXT_CANDIDATES.index(text_key.lower())
                        better = set(TEXT_CANDIDATES[:rank])
                elif better and obj.keys() != first_keys and any(k.lower() in better for k in obj):
                    # read_split picks the text column among the keys of the whole file.
                    raise NeedsFullReader(f"line {lineno}: another text column")
                value = obj.get(text_key)
                if value is None:
                    value = ""
                elif not isinstance(value, str):
                    raise NeedsFullReader(f"line {lineno}: text is not a string")
                ident = None
                if id_key is not None:
                    raw = obj.get(id_key)
                    if raw is not None:
                        id_seen = True
                        kind = type(raw)
                        if kind not in (str, int) or (id_kind is not None and kind is not id_kind):
                            raise NeedsFullReader(f"line {lineno}: id of another type")
                        id_kind = kind
                    ident = str(raw)
                yield value, ident
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as e:
        raise NeedsFullReader(str(e)) from e
    if id_key is not None and not id_seen:
        raise NeedsFullReader("id column not found")
