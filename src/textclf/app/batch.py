"""Reading an uploaded batch file into a table, with an error message for every bad file.

The readers in :mod:`textclf.data.io` work on paths through Hugging Face ``datasets``
(memory-mapped, cached on disk); an upload is bytes in memory that must not leave cache
files behind on a server. So the bytes are parsed here with pandas under the same
conventions (UTF-8 only, every CSV column a string, ``NA``/``null`` are texts, TSV
without quoting), and the chosen text column then goes through
:func:`textclf.data.io.canonicalize`, so empty texts are skipped and counted and row
numbers mean the same as everywhere else in textclf.

Every failure is a :class:`~textclf.errors.DataError` whose message names the file and
says how to fix it; the app shows it as it is.

Example:
    >>> table = read_upload("reviews.csv", data, max_bytes=50 << 20, max_rows=100_000)  # doctest: +SKIP
    >>> split = texts_from(table, "review")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from textclf.data.io import (
    TEXT_CANDIDATES,
    ColumnSpec,
    Split,
    canonicalize,
    detect_format,
    json_document_records,
    json_lines_records,
)
from textclf.errors import DataError

UPLOAD_TYPES = ("csv", "tsv", "tab", "jsonl", "ndjson", "json", "parquet", "pq", "txt")

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


@dataclass
class UploadTable:
    """An uploaded file parsed into columns.

    Attributes:
        name: The file name (for messages).
        frame: All columns; CSV/TSV columns are strings.
        text_columns: Columns that hold text (some value is not a number), best first.
        suggested: The column picked by default: the first of
            :data:`~textclf.data.io.TEXT_CANDIDATES` present, else the text column with
            the longest values on average.
    """

    name: str
    frame: pd.DataFrame
    text_columns: list[str]
    suggested: str


def _human(n_bytes: float) -> str:
    return f"{n_bytes / (1 << 20):.1f} MB" if n_bytes >= 1 << 20 else f"{n_bytes / 1024:.0f} KB"


def _check_text_bytes(name: str, data: bytes) -> str:
    """Decode UTF-8 (a BOM is allowed) or explain which encoding the file seems to have."""
    for bom, encoding in _BOMS.items():
        if data.startswith(bom):
            return _raise_encoding(name, encoding)
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4 and len(head) >= 4:
        # Every other byte zero and no BOM: UTF-16 without a byte-order mark.
        return _raise_encoding(name, "UTF-16")
    if b"\x00" in head:
        raise DataError(
            f"{name}: this is a binary file, not text; upload a UTF-8 CSV, TSV, JSONL or JSON "
            "file, or a Parquet file."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        guess = "Latin-1 or Windows-1252" if 0x80 <= data[e.start] <= 0xFF else "not UTF-8"
        raise DataError(
            f"{name} line {line}: byte 0x{data[e.start]:02x} is not UTF-8 (the file looks like "
            f"{guess}); re-save it as UTF-8 (e.g. Excel: 'CSV UTF-8', or "
            f"iconv -f cp1252 -t utf-8 {name} > fixed.csv) and upload it again."
        ) from e
    if not text.strip():
        raise DataError(f"{name}: the file is empty; upload a file with a header and data rows.")
    return text


def _raise_encoding(name: str, encoding: str) -> str:
    raise DataError(
        f"{name}: the file is {encoding}-encoded; re-save it as UTF-8 (e.g. Excel: "
        f"'CSV UTF-8', or iconv -f {encoding.replace('-', '').lower()} -t utf-8 {name} > "
        "fixed.csv) and upload it again."
    )


def _parse_csv(name: str, text: str, fmt: str) -> pd.DataFrame:
    sep = "\t" if fmt == "tsv" else ","
    quoting: Literal[0, 3] = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, quoting=quoting, dtype=str, keep_default_na=False
        )
    except pd.errors.EmptyDataError as e:
        raise DataError(f"{name}: no header row; the first line must name the columns.") from e
    except pd.errors.ParserError as e:
        match = re.search(r"line (\d+)", str(e))
        where = f"{name} line {match.group(1)}" if match else name
        raise DataError(
            f"{where}: the {'tabs' if fmt == 'tsv' else 'commas'} do not line up with the "
            f"header ({str(e).strip().rstrip('.')}); quote the text field or fix that line."
        ) from e
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed and len(unnamed) == len(frame.columns):
        raise DataError(f"{name} line 1: no header row; the first line must name the columns.")
    header = next(csv.reader(io.StringIO(text), delimiter=sep, quoting=quoting), [])
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{name} line 1: duplicate column name(s) {dupes}; rename them.")
    return frame


def _parse_jsonl(name: str, text: str) -> pd.DataFrame:
    return pd.DataFrame.from_records(json_lines_records(text.splitlines(), name))


def _parse_json(name: str, text: str) -> pd.DataFrame:
    return pd.DataFrame.from_records(json_document_records(text, name))


def _parse_parquet(name: str, data: bytes) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as e:
        raise DataError(f"{name}: not a readable Parquet file ({e}); re-export it.") from e


def _is_text_value(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return False
    if isinstance(value, str):
        return bool(value.strip()) and _NUMBER.fullmatch(value) is None
    return False


def _text_columns(frame: pd.DataFrame, sample: int = 200) -> list[str]:
    head = frame.head(sample)
    return [str(c) for c in frame.columns if any(_is_text_value(v) for v in head[c])]


def read_upload(name: str, data: bytes, *, max_bytes: int, max_rows: int) -> UploadTable:
    """Parse an uploaded file by its extension.

    Args:
        name: The uploaded file's name (its extension picks the format; ``.txt`` is one
            text per line).
        data: Its bytes.
        max_bytes: Larger files are refused before parsing.
        max_rows: Files with more rows are refused after parsing.

    Returns:
        The table and its candidate text columns.

    Raises:
        DataError: too large, unknown type, not UTF-8, malformed, no rows, too many rows or
            no column with text, each naming the file and the fix.
    """
    if len(data) > max_bytes:
        raise DataError(
            f"{name}: the file is {_human(len(data))}, above the app's limit of "
            f"{_human(max_bytes)}; split it, or predict it with 'textclf predict --input "
            f"{name}' (no size limit)."
        )
    if not data:
        raise DataError(f"{name}: the file is empty; upload a file with a header and data rows.")
    suffix = Path(name).suffix.lower()
    if suffix == ".txt":
        fmt = "txt"
    else:
        try:
            fmt = detect_format(Path(name))
        except DataError as e:
            known = ", ".join(f".{t}" for t in UPLOAD_TYPES)
            raise DataError(
                f"{name}: unknown file type '{suffix or '(none)'}'; upload one of {known}."
            ) from e
    if fmt == "parquet":
        frame = _parse_parquet(name, data)
    else:
        text = _check_text_bytes(name, data)
        if fmt in ("csv", "tsv"):
            frame = _parse_csv(name, text, fmt)
        elif fmt == "jsonl":
            frame = _parse_jsonl(name, text)
        elif fmt == "json":
            frame = _parse_json(name, text)
        else:
            frame = pd.DataFrame({"text": [line for line in text.splitlines() if line.strip()]})
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{name}: no data rows; upload a file with at least one text.")
    if len(frame) > max_rows:
        raise DataError(
            f"{name}: {len(frame):,} rows, above the app's limit of {max_rows:,}; split the "
            f"file, or predict it with 'textclf predict --input {name}' (no row limit)."
        )
    text_columns = _text_columns(frame)
    if not text_columns:
        raise DataError(
            f"{name}: no column holds text (columns: {', '.join(frame.columns[:10])}); upload "
            "a file with a column of texts."
        )
    lower = {c.lower(): c for c in text_columns}
    named = [lower[c] for c in TEXT_CANDIDATES if c in lower]
    by_length = sorted(
        text_columns,
        key=lambda c: -frame[c].head(200).map(lambda v: len(str(v))).mean(),
    )
    suggested = named[0] if named else by_length[0]
    ordered = [suggested, *[c for c in by_length if c != suggested]]
    return UploadTable(name=name, frame=frame, text_columns=ordered, suggested=suggested)


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def texts_from(table: UploadTable, column: str) -> Split:
    """The texts of ``column`` in canonical form (``row``, ``text``); empty ones skipped.

    Raises:
        DataError: an unknown column, or every text in it empty.
    """
    import datasets

    if column not in table.frame.columns:
        raise DataError(
            f"{table.name}: no column '{column}' (columns: {', '.join(table.frame.columns)})."
        )
    raw = datasets.Dataset.from_dict({column: [_as_text(v) for v in table.frame[column]]})
    return canonicalize(
        raw,
        ColumnSpec(text=column),
        name="input",
        source=table.name,
        require_labels=False,
    )
