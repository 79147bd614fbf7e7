"""JSON Lines and JSON documents: their objects, with errors that name the line, as a table.

JSON Lines may start with a byte-order mark and hold blank lines (skipped). A JSON
document is a list of objects, or ``{"data": [...]}``. Plain files go to pyarrow's JSON
reader; files it would crash on or misread are parsed here and tabulated key by key.

Example:
    >>> json_lines_records(['{"text": "a", "label": "x"}', ""], "train.jsonl")
    [{'text': 'a', 'label': 'x'}]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets

from textclf.data.formats import not_utf8_error, open_text
from textclf.errors import DataError

logger = logging.getLogger(__name__)


def json_document_records(text: str, where: str) -> list[dict[str, Any]]:
    """The objects of a whole JSON document: a list of objects, or ``{"data": [...]}``.

    Raises:
        DataError: broken JSON (with its line), or not a list of objects.
    """
    try:
        obj = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where} line {e.lineno}: not valid JSON ({e.msg}); fix the file, or use "
            "JSON Lines (.jsonl) for one object per line."
        ) from e
    except RecursionError as e:
        raise DataError(f"{where}: the JSON is nested too deeply to read; flatten it.") from e
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise DataError(f"{where}: expected a JSON list of objects, one per example.")
    return obj


_JSON_NAMES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def _json_line(line: str, lineno: int, where: str) -> dict[str, Any] | None:
    """The object on one JSON Lines line, ``None`` for a blank line.

    Raises:
        DataError: broken JSON or not an object, naming the line.
    """
    if lineno == 1:
        line = line.removeprefix("\ufeff")
    if not line.strip():
        return None
    try:
        obj = json.loads(line.rstrip("\r\n"))  # else an error at its end is put on "line 2"
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where} line {lineno}: broken JSON ({e.msg.removesuffix(' at')} at column "
            f"{e.colno}); "
            "fix or remove that line."
        ) from e
    except RecursionError as e:
        raise DataError(
            f"{where} line {lineno}: the JSON is nested too deeply to read; flatten it."
        ) from e
    if not isinstance(obj, dict):
        raise DataError(
            f"{where} line {lineno}: expected a JSON object per line, found "
            f"{_JSON_NAMES.get(type(obj), 'a value')}; write one {{...}} object per line."
        )
    return obj


def json_lines_records(lines: Iterable[str], where: str) -> list[dict[str, Any]]:
    """The objects of JSON Lines text; blank lines and a leading byte-order mark are skipped.

    Raises:
        DataError: for the first line that is broken JSON or not an object.
    """
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, start=1):
        obj = _json_line(line, lineno, where)
        if obj is not None:
            records.append(obj)
    return records


def _json_kind(value: Any) -> str:
    """``str``, ``number``, ``bool``, ``null``, ``list`` (of non-null scalars of one kind)
    or ``other`` (nested objects or lists, nulls inside lists, mixed lists)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        kinds = {_json_kind(v) for v in value}
        return "list" if len(kinds) <= 1 and kinds <= {"str", "number", "bool"} else "other"
    return "other"


def _plain_json_lines(path: Path) -> bool:
    """Check every line of a JSON Lines file; say whether pyarrow's reader can take it.

    pyarrow 25's JSON reader crashes the process on a line that is a bare ``null``
    (apache/arrow#47409) and builds invalid arrays from lists that start with nulls
    (apache/arrow#51305). So every line is parsed here first, streaming, and the file
    goes to pyarrow only when it holds objects whose keys keep one simple kind of value.

    Raises:
        DataError: the first broken line, or no object at all.
    """
    kinds: dict[str, str] = {}
    plain = True
    n_records = 0
    try:
        # newline="\n": JSON Lines ends lines with \n (or \r\n) only, as pyarrow does; a
        # lone \r is JSON whitespace, and line numbers must be the reader's.
        with open_text(path, newline="\n") as f:
            for lineno, line in enumerate(f, start=1):
                obj = _json_line(line, lineno, str(path))
                if obj is None:
                    continue
                n_records += 1
                for key, value in obj.items():
                    kind = _json_kind(value)
                    if kind == "null":
                        continue
                    if kind == "other" or kinds.setdefault(key, kind) != kind:
                        plain = False
    except UnicodeDecodeError as e:
        raise not_utf8_error(path) from e
    if n_records == 0:
        raise DataError(f"{path}: no data rows; give a file with at least one example.")
    return plain


#: Where a table read from JSON notes the rows whose value was a JSON list in a column
#: of mixed kinds (stored as JSON text, see :func:`_uniform_column`), so that a text column
#: can refuse them: ``DatasetInfo.description`` holds ``{"json_list_rows": {key: row}}``.
_LIST_ROWS = "json_list_rows"


def json_list_row(ds: datasets.Dataset, key: str) -> int | None:
    """The first 1-based row where column ``key`` held a JSON list stored as its JSON text
    (a column that mixes lists with other values), ``None`` if none."""
    try:
        noted = json.loads(ds.info.description or "{}").get(_LIST_ROWS, {})
    except (json.JSONDecodeError, AttributeError):
        return None
    row = noted.get(key)
    return int(row) if row is not None else None


def _uniform_column(values: list[Any], key: str, where: str) -> list[Any]:
    """One Arrow-compatible column from the JSON values of one key, possibly of mixed types.

    Columns of one kind stay as they are (objects become an Arrow struct, which the reader
    refuses where it wants a text or a label). Where a column mixes kinds (``1`` and
    ``"x"``, a name and a list), scalars become strings and lists JSON strings, which the
    label parser reads back; an object among other kinds is refused.

    Raises:
        DataError: an object in a column of other values, naming its row.
    """
    present = [v for v in values if v is not None]
    if all(isinstance(v, str) for v in present) or all(isinstance(v, dict) for v in present):
        return values
    if all(isinstance(v, list) for v in present) and all(
        not isinstance(x, list | dict) for v in present for x in v
    ):
        return [None if v is None else [None if x is None else str(x) for x in v] for v in values]
    if all(isinstance(v, bool) for v in present) or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    ):
        return values
    for row, value in enumerate(values, start=1):
        if isinstance(value, dict):
            raise DataError(
                f"{where} row {row}: the '{key}' value is a JSON object where other rows hold "
                "text, numbers or lists; give this key the same kind of value in every row."
            )
    return [
        None if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, list) else str(v)
        for v in values
    ]


def _records_dataset(records: list[dict[str, Any]], where: str) -> datasets.Dataset:
    """A dataset from parsed JSON objects (keys missing in some objects become nulls)."""
    if not records:
        raise DataError(f"{where}: no data rows; give a file with at least one example.")
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    columns: dict[str, list[Any]] = {}
    list_rows: dict[str, int] = {}
    for key in keys:
        values = [r.get(key) for r in records]
        columns[str(key)] = _uniform_column(values, str(key), where)
        rows = [i for i, v in enumerate(values, start=1) if isinstance(v, list)]
        if rows and len(rows) < sum(v is not None for v in values):
            list_rows[str(key)] = rows[0]  # mixed with other values: stored as JSON text
    info = datasets.DatasetInfo(description=json.dumps({_LIST_ROWS: list_rows}))
    try:
        return datasets.Dataset.from_dict(columns, info=info)
    except (TypeError, ValueError, OverflowError) as e:  # pyarrow's errors derive from these
        raise DataError(
            f"{where}: the values could not be stored as a table ({e}); give each key one "
            "type of value (text, number or list of names)."
        ) from e


def load_jsonl(path: Path) -> datasets.Dataset:
    """A JSON Lines file as a table: through pyarrow when it can take it, else parsed here.

    Raises:
        DataError: the first broken line, an encoding problem, or no object at all.
    """
    if _plain_json_lines(path):
        try:
            return datasets.load_dataset("json", data_files=str(path), split="train")
        except Exception as e:  # types pyarrow still refuses: read the records ourselves
            logger.debug("%s: pyarrow's JSON reader failed (%s); parsing in Python.", path, e)
    with open_text(path, newline="\n") as f:
        return _records_dataset(json_lines_records(f, str(path)), str(path))


def load_json(path: Path) -> datasets.Dataset:
    """A JSON document (a list of objects) as a table.

    Raises:
        DataError: broken JSON with its line, an encoding problem, or no object.
    """
    # A JSON document must be parsed whole anyway; rows become an Arrow table.
    try:
        # newline="": json counts lines by \n, so a \r must not become one.
        with open_text(path, newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise not_utf8_error(path) from e
    records = json_document_records(text, str(path))
    if not records:
        raise DataError(f"{path}: the JSON list is empty; give at least one example.")
    return _records_dataset(records, str(path))
