"""Read any supported source into canonical rows: ``text`` (str), ``labels`` (list[str]), ``row``.

Files go through Arrow-backed Hugging Face ``datasets`` (``load_dataset("csv"|"json"|
"parquet")``), so they are memory-mapped and cached and a million-row file needs no
Python list of it. Only when a reader fails do we re-read the file line by line, to name
the first malformed line in the error message.

Every label is kept as a list of names, one element for single-label data; the task is
decided later from those lists (see :mod:`textclf.data.labels`).

Example:
    >>> spec = ColumnSpec(text="text", label="label")
    >>> split = read_split("train.csv", spec, name="train")  # doctest: +SKIP
    >>> split.dataset.column_names  # doctest: +SKIP
    ['row', 'text', 'labels']
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import datasets
import pandas as pd
import pyarrow.compute as pc

from textclf.config import DataConfig
from textclf.errors import DataError

logger = logging.getLogger(__name__)

TEXT_CANDIDATES = (
    "text",
    "sentence",
    "content",
    "document",
    "review",
    "body",
    "comment_text",
    "utterance",
    "query",
    "question",
    "report",
    "description",
)
LABEL_CANDIDATES = ("label", "labels", "category", "class", "target", "intent", "y")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class ColumnSpec:
    """How to find the text and the labels in a source.

    Attributes:
        text: Text column; ``None`` picks the first of :data:`TEXT_CANDIDATES` present.
        label: Column holding one label, a JSON list, or separator-joined labels.
        label_columns: Several 0/1 columns, one per label (multi-label).
        label_separator: Splits ``"a|b"`` into ``["a", "b"]``.
        label_names: Names of integer label ids (id ``i`` is ``label_names[i]``).
        id_column: Column whose values identify rows in prediction files.
        column_names: Column names for a file without a header row.
        quoting: ``"auto"`` (CSV: RFC 4180 quoting; TSV: none), ``"minimal"`` or ``"none"``.
        file_format: Force a format instead of guessing it from the extension.
        hf_config: Config name of a hub dataset.
    """

    text: str | None = None
    label: str | None = None
    label_columns: tuple[str, ...] | None = None
    label_separator: str | None = None
    label_names: tuple[str, ...] | None = None
    id_column: str | None = None
    column_names: tuple[str, ...] | None = None
    quoting: str = "auto"
    file_format: str = "auto"
    hf_config: str | None = None

    @classmethod
    def from_config(cls, cfg: DataConfig) -> ColumnSpec:
        """Build the spec from the ``data`` config section (reads the label-names file)."""
        return cls(
            text=cfg.text_column,
            label=cfg.label_column,
            label_columns=tuple(cfg.label_columns) if cfg.label_columns else None,
            label_separator=cfg.label_separator,
            label_names=read_label_names(cfg.label_names) if cfg.label_names else None,
            id_column=cfg.id_column,
            column_names=tuple(cfg.column_names) if cfg.column_names else None,
            quoting=cfg.quoting,
            file_format=cfg.format,
            hf_config=cfg.hf_config,
        )


@dataclass
class Split:
    """One split in canonical form.

    Attributes:
        name: ``train``, ``validation``, ``test`` or ``input``.
        source: Where it came from (a path, ``DataFrame``, a hub name), for messages.
        dataset: Columns ``row`` (1-based data row in the source), ``text``, ``labels``
            (list of label names; absent for unlabelled input) and ``id`` when an id
            column was given.
        n_read: Rows read from the source, before anything was skipped.
        skipped: Rows skipped, by reason; their row numbers are in ``skipped_rows``.
    """

    name: str
    source: str
    dataset: datasets.Dataset
    n_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: dict[str, list[int]] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return "labels" in self.dataset.column_names

    def __len__(self) -> int:
        return len(self.dataset)


def read_label_names(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Read label names for integer ids: one per line, a JSON list, or a JSON ``{id: name}``.

    Raises:
        DataError: if the file is missing, empty or not in one of those shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: label-names file not found; check the path given to --label-names.")
    text = p.read_text(encoding="utf-8").strip()
    if not text:
        raise DataError(f"{p}: label-names file is empty; put one label name per line.")
    if text[0] in "[{":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{p} line {e.lineno}: not valid JSON ({e.msg}); fix it.") from e
        if isinstance(obj, dict):
            try:
                ids = sorted((int(k), str(v)) for k, v in obj.items())
            except ValueError as e:
                raise DataError(f"{p}: JSON object keys must be integer ids.") from e
            if [i for i, _ in ids] != list(range(len(ids))):
                raise DataError(f"{p}: ids must run 0..{len(ids) - 1} without gaps.")
            return tuple(v for _, v in ids)
        if isinstance(obj, list) and obj:
            return tuple(str(v) for v in obj)
        raise DataError(f"{p}: expected a JSON list of names or an object {{id: name}}.")
    names = tuple(line.strip() for line in text.splitlines())
    for i, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{p} line {i}: empty label name; remove the blank line.")
    return names


# ---------------------------------------------------------------------------------------
# Sources → raw Arrow dataset
# ---------------------------------------------------------------------------------------


def detect_format(path: Path, forced: str = "auto") -> str:
    """Return ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet`` for a file path."""
    if forced != "auto":
        return forced
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise DataError(
            f"{path}: unknown file type '{path.suffix or '(none)'}'; use one of {known} "
            "or pass --set data.format=csv|tsv|jsonl|json|parquet."
        )
    return fmt


def _looks_like_hub_name(source: str) -> bool:
    return (
        Path(source).suffix.lower() not in EXTENSIONS
        and not source.startswith((".", "/", "~"))
        and re.fullmatch(r"[\w.-]+(/[\w.-]+)?", source) is not None
    )


def _check_text_file(path: Path) -> None:
    """Reject empty and binary files before a reader gives a cryptic error."""
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: the file is empty; give a file with a header and data rows.")
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise DataError(
            f"{path}: this is a binary file, not text; give a UTF-8 CSV, TSV, JSONL or JSON file."
        )
    try:
        # A multi-byte character may be cut at the sniff boundary: ignore the last 3 bytes.
        head[: max(0, len(head) - 3)].decode("utf-8") if size > _SNIFF_BYTES else head.decode(
            "utf-8"
        )
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: byte {e.start} is not UTF-8; re-save the file as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)."
        ) from e
    if not head.strip():
        raise DataError(f"{path}: the file holds only blank space; give a file with data rows.")


def _delimiter(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


def _quoting(fmt: str, quoting: str) -> Literal[0, 3]:
    if quoting == "none" or (quoting == "auto" and fmt == "tsv"):
        # TSV as in IANA text/tab-separated-values (and SST-2, GoEmotions) has no quoting:
        # a quote character is part of the text.
        return csv.QUOTE_NONE
    return csv.QUOTE_MINIMAL


def _csv_header(path: Path, fmt: str, spec: ColumnSpec) -> list[str]:
    if spec.column_names:
        return list(spec.column_names)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=_delimiter(fmt), quoting=_quoting(fmt, spec.quoting))
        header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path} line 1: no header row; add one or pass the column names.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path} line 1: duplicate column name(s) {dupes}; rename them.")
    return header


def _diagnose_csv(path: Path, fmt: str, spec: ColumnSpec, n_columns: int) -> DataError:
    """Find the first malformed record by reading the file with the csv module."""
    skip_header = spec.column_names is None
    n_records = 0
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(
                f, delimiter=_delimiter(fmt), quoting=_quoting(fmt, spec.quoting), strict=True
            )
            for i, record in enumerate(reader):
                if i == 0 and skip_header:
                    continue
                if not record:  # blank line
                    continue
                n_records += 1
                if len(record) != n_columns:
                    return DataError(
                        f"{path} line {reader.line_num}: expected {n_columns} fields, found "
                        f"{len(record)}; quote the text field or fix the "
                        f"{'tab' if fmt == 'tsv' else 'comma'}s on that line."
                    )
    except csv.Error as e:
        return DataError(f"{path} line {reader.line_num}: {e}; fix the quoting on that line.")
    except UnicodeDecodeError as e:
        return DataError(f"{path}: byte {e.start} is not UTF-8; re-save the file as UTF-8.")
    if n_records == 0:  # datasets refuses a header-only file ("corresponds to no data")
        return DataError(f"{path}: no data rows; give a file with at least one example.")
    return DataError(
        f"{path}: could not be parsed as {fmt.upper()}; check the separator and quoting."
    )


def json_document_records(text: str, where: str) -> list[dict[str, Any]]:
    """The objects of a whole JSON document: a list of objects, or ``{"data": [...]}``.

    Raises:
        DataError: broken JSON (with its line), or not a list of objects.
    """
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where} line {e.lineno}: not valid JSON ({e.msg}); fix the file, or use "
            "JSON Lines (.jsonl) for one object per line."
        ) from e
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise DataError(f"{where}: expected a JSON list of objects, one per example.")
    return obj


def json_lines_records(lines: Iterable[str], where: str) -> list[dict[str, Any]]:
    """The objects of JSON Lines text; blank lines are skipped.

    Raises:
        DataError: for the first line that is broken JSON or not an object.
    """
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{where} line {lineno}: broken JSON ({e.msg} at column {e.colno}); "
                "fix or remove that line."
            ) from e
        if not isinstance(obj, dict):
            raise DataError(
                f"{where} line {lineno}: expected a JSON object per line, found "
                f"{type(obj).__name__}; write one {{...}} object per line."
            )
        records.append(obj)
    return records


def _diagnose_jsonl(path: Path) -> DataError:
    try:
        with open(path, encoding="utf-8") as f:
            json_lines_records(f, str(path))
    except DataError as e:
        return e
    except UnicodeDecodeError as e:
        return DataError(f"{path}: byte {e.start} is not UTF-8; re-save the file as UTF-8.")
    return DataError(f"{path}: could not be read as JSON Lines; check that each line is an object.")


def _load_file(path: Path, fmt: str, spec: ColumnSpec) -> datasets.Dataset:
    if fmt in ("csv", "tsv", "jsonl", "json"):
        _check_text_file(path)
    if fmt in ("csv", "tsv"):
        header = _csv_header(path, fmt, spec)
        # Every column as string: pandas infers types per 10k-row chunk, and a label column
        # that is int in one chunk and str in the next would break the Arrow schema.
        features = datasets.Features({name: datasets.Value("string") for name in header})
        kwargs: dict[str, Any] = {
            "sep": _delimiter(fmt),
            "quoting": _quoting(fmt, spec.quoting),
            "keep_default_na": False,  # "NA", "null", "None" are texts, not missing values
            "features": features,
        }
        if spec.column_names:
            kwargs["column_names"] = list(spec.column_names)
            kwargs["header"] = None
        try:
            return datasets.load_dataset("csv", data_files=str(path), split="train", **kwargs)
        except Exception as e:
            if isinstance(e, DataError):
                raise
            raise _diagnose_csv(path, fmt, spec, len(header)) from e
    if fmt == "jsonl":
        try:
            return datasets.load_dataset("json", data_files=str(path), split="train")
        except Exception as e:
            raise _diagnose_jsonl(path) from e
    if fmt == "json":
        # A JSON document must be parsed whole anyway; rows become an Arrow table.
        obj = json_document_records(path.read_text(encoding="utf-8"), str(path))
        if not obj:
            raise DataError(f"{path}: the JSON list is empty; give at least one example.")
        return datasets.Dataset.from_pandas(pd.DataFrame.from_records(obj), preserve_index=False)
    if fmt == "parquet":
        try:
            return datasets.load_dataset("parquet", data_files=str(path), split="train")
        except Exception as e:
            raise DataError(f"{path}: not a readable Parquet file ({e}); re-export it.") from e
    raise DataError(f"{path}: unsupported format '{fmt}'.")


def _load_hub(name: str, spec: ColumnSpec, split_name: str) -> datasets.Dataset:
    try:
        obj = datasets.load_dataset(name, spec.hf_config, split=split_name)
    except Exception as e:
        offline = (
            os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        )
        text = str(e).lower()
        if offline or any(w in text for w in ("connection", "offline", "resolve", "network")):
            raise DataError(
                f"{name}: the Hugging Face hub cannot be reached to fetch this dataset; "
                "connect to the internet, or save it to a local file and pass that path."
            ) from e
        raise DataError(
            f"{name}: not a local file and not loadable from the Hugging Face hub ({e}); "
            "check the path or the dataset name."
        ) from e
    return obj


def _as_raw_dataset(source: Any, spec: ColumnSpec, split_name: str) -> tuple[datasets.Dataset, str]:
    if isinstance(source, datasets.Dataset):
        return source, "Dataset"
    if isinstance(source, datasets.DatasetDict):
        if split_name not in source:
            raise DataError(
                f"DatasetDict has no '{split_name}' split (it has {list(source)}); pass the split."
            )
        return source[split_name], f"DatasetDict[{split_name}]"
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the DataFrame is empty; give at least one row.")
        return datasets.Dataset.from_pandas(source, preserve_index=False), "DataFrame"
    if isinstance(source, os.PathLike | str):
        path = Path(source).expanduser()
        if path.exists():
            if path.is_dir():
                raise DataError(f"{path}: is a folder; give a data file inside it.")
            return _load_file(path, detect_format(path, spec.file_format), spec), str(path)
        if spec.file_format == "hf" or (
            spec.file_format == "auto" and _looks_like_hub_name(str(source))
        ):
            return _load_hub(str(source), spec, split_name), f"hub:{source}"
        raise DataError(f"{path}: file not found; check the path.")
    raise DataError(
        f"cannot read data from a {type(source).__name__}; give a file path, a pandas "
        "DataFrame, a datasets.Dataset, or lists of texts and labels."
    )


# ---------------------------------------------------------------------------------------
# Raw columns → canonical rows
# ---------------------------------------------------------------------------------------


def _pick_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str, where: str
) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(
                f"{where}: no {what} column '{wanted}' (columns are {list(columns)}); "
                f"pass the right name with --{what}-column."
            )
        return wanted
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    return None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class _LabelParser:
    """Turns one raw label cell into a list of label names (see :class:`ColumnSpec`)."""

    def __init__(self, spec: ColumnSpec, where: str, column: str) -> None:
        self.spec = spec
        self.where = where
        self.column = column

    def name(self, item: Any, row: int) -> str:
        names = self.spec.label_names
        if isinstance(item, bool):
            item = int(item)
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        text = str(item).strip()
        if names is not None and re.fullmatch(r"-?\d+", text):
            idx = int(text)
            if not 0 <= idx < len(names):
                raise DataError(
                    f"{self.where} row {row}: label id {idx} is outside the {len(names)} names "
                    "in the label-names file; fix the id or the names file."
                )
            return names[idx]
        return text

    def __call__(self, value: Any, row: int) -> list[str]:
        if _is_missing(value):
            raise DataError(
                f"{self.where} row {row}: the '{self.column}' value is missing; fill in the "
                "label or remove the row."
            )
        items: list[Any]
        if isinstance(value, list | tuple):
            items = list(value)
        elif isinstance(value, str):
            s = value.strip()
            if s.startswith("[") and s.endswith("]"):
                try:
                    parsed = json.loads(s)
                except json.JSONDecodeError as e:
                    raise DataError(
                        f"{self.where} row {row}: label {s!r} looks like a JSON list but is "
                        f'not valid JSON ({e.msg}); write it as ["a", "b"].'
                    ) from e
                items = parsed if isinstance(parsed, list) else [parsed]
            elif self.spec.label_separator:
                items = [p for p in s.split(self.spec.label_separator) if p.strip()]
            else:
                items = [s]
        else:
            items = [value]
        out: list[str] = []
        for item in items:
            if _is_missing(item):
                continue
            name = self.name(item, row)
            if name not in out:
                out.append(name)
        return out


_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


def _binary_cell(value: Any, where: str, row: int, column: str) -> bool:
    text = str(value).strip().lower() if not _is_missing(value) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DataError(
        f"{where} row {row}: label column '{column}' holds {value!r}; each label column must "
        "hold 0 or 1."
    )


def canonicalize(
    raw: datasets.Dataset,
    spec: ColumnSpec,
    *,
    name: str,
    source: str,
    require_labels: bool = True,
) -> Split:
    """Map a raw dataset onto canonical ``row``/``text``/``labels`` columns.

    Rows whose text is empty or only whitespace are skipped and counted (never silently);
    a missing label stops the run with the row number.

    Raises:
        DataError: missing columns, a missing or invalid label, or no text at all.
    """
    columns = raw.column_names
    if len(raw) == 0:
        raise DataError(f"{source}: no data rows; give a file with at least one example.")
    text_col = _pick_column(columns, spec.text, TEXT_CANDIDATES, "text", source)
    if text_col is None:
        raise DataError(
            f"{source}: no text column found (columns are {list(columns)}); "
            "name it with --text-column."
        )
    label_col: str | None = None
    label_cols: tuple[str, ...] | None = None
    if spec.label_columns:
        missing = [c for c in spec.label_columns if c not in columns]
        if missing:
            raise DataError(
                f"{source}: label columns {missing} not found (columns are {list(columns)}); "
                "fix --label-columns."
            )
        label_cols = spec.label_columns
    elif require_labels or spec.label:
        label_col = _pick_column(columns, spec.label, LABEL_CANDIDATES, "label", source)
        if label_col is None and require_labels:
            raise DataError(
                f"{source}: no label column found (columns are {list(columns)}); name it with "
                "--label-column, or give 0/1 columns with --label-columns."
            )
    elif spec.text is None:
        # Unlabelled input keeps a label column if one happens to be there (for evaluation).
        label_col = _pick_column(columns, None, LABEL_CANDIDATES, "label", source)
    id_col = None
    if spec.id_column:
        id_col = _pick_column(columns, spec.id_column, (), "id", source)
    parser = _LabelParser(spec, source, label_col or "")

    def convert(batch: Mapping[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        rows = [i + 1 for i in indices]
        texts = ["" if _is_missing(t) else str(t) for t in batch[text_col]]
        out: dict[str, list[Any]] = {"row": rows, "text": texts}
        if label_cols is not None:
            out["labels"] = [
                [c for c in label_cols if _binary_cell(batch[c][j], source, r, c)]
                for j, r in enumerate(rows)
            ]
        elif label_col is not None:
            values = batch[label_col]
            out["labels"] = [
                # An empty text's label is not checked: that row is skipped and counted.
                parser(v, r) if texts[j].strip() else []
                for j, (v, r) in enumerate(zip(values, rows, strict=True))
            ]
        if id_col is not None:
            out["id"] = [str(v) for v in batch[id_col]]
        return out

    ds = raw.map(
        convert,
        batched=True,
        with_indices=True,
        remove_columns=columns,
        desc=f"Reading {name}",
        load_from_cache_file=False,
    )
    n_read = len(ds)
    # Arrow compute on the memory-mapped column: no Python list of a million texts.
    texts_col = ds.data.column("text")
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts_col)), 0)
    n_empty = pc.sum(empty).as_py() or 0
    if n_empty == n_read:
        raise DataError(
            f"{source}: every text in column '{text_col}' is empty; check --text-column "
            f"(columns are {list(columns)})."
        )
    skipped: dict[str, int] = {}
    skipped_rows: dict[str, list[int]] = {}
    if n_empty:
        empty_idx = pc.indices_nonzero(empty)
        empty_rows = pc.take(ds.data.column("row"), empty_idx).to_pylist()
        # int64: datasets' contiguous-slice search fails on uint64 offsets (mixed with int64
        # they become floats). flatten_indices: the checks read ds.data, which ignores a
        # select() index mapping.
        keep = pc.indices_nonzero(pc.invert(empty)).cast("int64").to_numpy()
        ds = ds.select(keep).flatten_indices()
        skipped["empty_text"] = n_empty
        skipped_rows["empty_text"] = empty_rows
        logger.warning(
            "%s: skipped %d row(s) with empty or whitespace-only text (first: row %d).",
            source,
            n_empty,
            empty_rows[0],
        )
    return Split(
        name=name,
        source=source,
        dataset=ds,
        n_read=n_read,
        skipped=skipped,
        skipped_rows=skipped_rows,
    )


def read_split(
    source: Any,
    spec: ColumnSpec,
    *,
    name: str = "train",
    require_labels: bool = True,
) -> Split:
    """Read one split from a path, DataFrame, ``datasets.Dataset``/``DatasetDict`` or hub name.

    Args:
        source: The data. A path's format comes from its extension (or ``spec.file_format``).
        spec: Where the text and labels are.
        name: Split name, used for messages and to pick a ``DatasetDict`` or hub split.
        require_labels: ``False`` for prediction input.

    Returns:
        The canonical :class:`Split`.

    Raises:
        DataError: with the file, row or line, and the fix.
    """
    raw, where = _as_raw_dataset(source, spec, name)
    return canonicalize(raw, spec, name=name, source=where, require_labels=require_labels)


def split_from_lists(
    texts: Sequence[str], labels: Sequence[Any] | None = None, *, name: str = "train"
) -> Split:
    """Build a split from Python lists (labels: names, ids, or lists of them for multi-label)."""
    if labels is not None and len(texts) != len(labels):
        raise DataError(
            f"got {len(texts)} texts but {len(labels)} labels; give one label per text."
        )
    data: dict[str, list[Any]] = {"text": [str(t) for t in texts]}
    if labels is not None:
        data["label"] = [json.dumps(list(v)) if isinstance(v, list | tuple) else v for v in labels]
    raw = datasets.Dataset.from_dict(data)
    spec = ColumnSpec(text="text", label="label" if labels is not None else None)
    return canonicalize(raw, spec, name=name, source="lists", require_labels=labels is not None)
