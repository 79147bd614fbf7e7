"""Read any supported source into canonical rows: ``text`` (str), ``labels`` (list[str]), ``row``.

Files go through Arrow-backed Hugging Face ``datasets`` (``load_dataset("csv"|"json"|
"parquet")``), so they are memory-mapped and cached and a million-row file needs no
Python list of it. Only when a reader fails do we re-read the file line by line, to name
the first malformed line in the error message.

This module is the entry point; the work is shared out by what it is about:

* :mod:`textclf.data.columns`: where the text and labels are (:class:`ColumnSpec`), the
  column names looked for, the label-names file;
* :mod:`textclf.data.formats`: files as people have them: the format of a path, UTF-8 or
  a refusal naming the encoding and the fix, the CSV/TSV separator and quoting;
* :mod:`textclf.data.json_records`: JSON Lines and JSON documents, with line numbers;
* :mod:`textclf.data.cells`: what a label cell means: one name, a set of names, no
  labels, or missing (which stops the run naming the row).

Example:
    >>> spec = ColumnSpec(text="text", label="label")
    >>> split = read_split("train.csv", spec, name="train")  # doctest: +SKIP
    >>> split.dataset.column_names  # doctest: +SKIP
    ['row', 'text', 'labels']
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from textclf.data.cells import LabelParser, binary_cell, is_missing, scalar_name
from textclf.data.columns import (
    LABEL_CANDIDATES,
    TEXT_CANDIDATES,
    ColumnSpec,
    pick_column,
    read_label_names,
)
from textclf.data.formats import (
    EXTENSIONS,
    check_source,
    csv_header,
    data_suffix,
    detect_format,
    diagnose_csv,
    read_text_sample,
    sniff_dialect,
)
from textclf.data.json_records import (
    json_document_records,
    json_lines_records,
    json_list_row,
    load_json,
    load_jsonl,
)
from textclf.errors import DataError

# Re-exported: callers read every source through this module.
__all__ = [
    "EXTENSIONS",
    "LABEL_CANDIDATES",
    "TEXT_CANDIDATES",
    "ColumnSpec",
    "Split",
    "canonicalize",
    "detect_format",
    "json_document_records",
    "json_lines_records",
    "quiet_datasets",
    "read_label_names",
    "read_split",
    "split_from_lists",
]

logger = logging.getLogger(__name__)


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
        label_sets: The labels came as sets (lists, JSON lists, a label separator or 0/1
            columns), which makes the data multi-label even where every row has one label.
        stray_lists: The warning and count for a few one-name label lists among single
            names (read as single names); ``data.validate`` reports it.
        null_items: The warning and count for missing entries inside label lists (ignored);
            ``data.validate`` reports it.
    """

    name: str
    source: str
    dataset: datasets.Dataset
    n_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: dict[str, list[int]] = field(default_factory=dict)
    label_sets: bool = False
    stray_lists: tuple[str, int] | None = None
    null_items: tuple[str, int] | None = None

    @property
    def labelled(self) -> bool:
        return "labels" in self.dataset.column_names

    def __len__(self) -> int:
        return len(self.dataset)


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence ``datasets`` progress bars inside the block, then restore the previous state.

    "Generating train split: 0 examples" printed before a one-line error is noise (issue
    10); the flag is global in ``datasets``, so it is switched back on leaving the block.
    An explicit ``HF_DATASETS_DISABLE_PROGRESS_BARS=0`` is the user's choice and is kept.
    """
    if datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is False or (
        datasets.utils.are_progress_bars_disabled()
    ):
        yield
        return
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


# ---------------------------------------------------------------------------------------
# Sources → raw Arrow dataset
# ---------------------------------------------------------------------------------------


def _load_csv(path: Path, fmt: str, spec: ColumnSpec, sample: str) -> datasets.Dataset:
    dialect = sniff_dialect(path, fmt, sample, column_names=spec.column_names, quoting=spec.quoting)
    header = csv_header(path, dialect, spec.column_names)
    # Every column as string: pandas infers types per 10k-row chunk, and a label column
    # that is int in one chunk and str in the next would break the Arrow schema.
    features = datasets.Features({name: datasets.Value("string") for name in header})
    kwargs: dict[str, Any] = {
        "sep": dialect.delimiter,
        "quoting": dialect.quoting,
        "keep_default_na": False,  # "NA", "null", "None" are texts, not missing values
        "features": features,
        # Our header names replace the file's: blank ones are named, a BOM is gone.
        "column_names": header,
        "header": None if spec.column_names else 0,
        "encoding": "utf-8",  # pandas drops a leading byte-order mark itself
        # Rows with one field more than the header would otherwise make the first column
        # pandas' index and shift every value one column left, silently.
        "index_col": False,
    }
    try:
        with warnings.catch_warnings():
            # ...and with index_col=False pandas drops the extra field with only a warning.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return datasets.load_dataset("csv", data_files=str(path), split="train", **kwargs)
    except Exception as e:
        if isinstance(e, DataError):
            raise
        raise diagnose_csv(
            path, dialect, has_header=spec.column_names is None, n_columns=len(header)
        ) from e


def _load_file(path: Path, fmt: str, spec: ColumnSpec) -> datasets.Dataset:
    if fmt in ("csv", "tsv", "jsonl", "json"):
        sample = read_text_sample(path)
        if fmt in ("csv", "tsv"):
            return _load_csv(path, fmt, spec, sample)
        if fmt == "jsonl":
            return load_jsonl(path)
        return load_json(path)
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


def _pick_split(
    source: datasets.DatasetDict, split_name: str, name: str, fix: str = "pass the split"
) -> datasets.Dataset:
    if split_name not in source:
        raise DataError(f"{name} has no '{split_name}' split (it has {list(source)}); {fix}.")
    return source[split_name]


def _load_saved(path: Path, split_name: str) -> tuple[datasets.Dataset, str]:
    """A ``save_to_disk`` folder: its Dataset, or the ``split_name`` split of a DatasetDict."""
    try:
        obj = datasets.load_from_disk(str(path))
    except Exception as e:
        raise DataError(
            f"{path}: not a readable datasets folder ({e}); save it again with save_to_disk."
        ) from e
    if isinstance(obj, datasets.DatasetDict):
        fix = f"give one of its split folders, e.g. {path / next(iter(obj))}"
        return _pick_split(obj, split_name, f"{path} (a DatasetDict)", fix), f"{path}[{split_name}]"
    return obj, str(path)


def _as_raw_dataset(source: Any, spec: ColumnSpec, split_name: str) -> tuple[datasets.Dataset, str]:
    if isinstance(source, datasets.Dataset):
        return source, "Dataset"
    if isinstance(source, datasets.DatasetDict):
        return _pick_split(source, split_name, "DatasetDict"), f"DatasetDict[{split_name}]"
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the DataFrame is empty; give at least one row.")
        try:
            return datasets.Dataset.from_pandas(source, preserve_index=False), "DataFrame"
        except (TypeError, ValueError) as e:  # pyarrow's ArrowTypeError, ArrowInvalid
            raise DataError(
                f"DataFrame: a column mixes types that cannot form a table ({e}); convert it "
                "with .astype(str)."
            ) from e
    if isinstance(source, os.PathLike | str):
        path = check_source(source, spec.file_format)
        if path is not None and path.is_dir():
            return _load_saved(path, split_name)
        if path is not None:
            return _load_file(path, detect_format(path, spec.file_format), spec), str(path)
        return _load_hub(str(source), spec, split_name), f"hub:{source}"
    raise DataError(
        f"cannot read data from a {type(source).__name__}; give a file path, a pandas "
        "DataFrame, a datasets.Dataset, or lists of texts and labels."
    )


# ---------------------------------------------------------------------------------------
# Raw columns → canonical rows
# ---------------------------------------------------------------------------------------


def _headerless_hint(spec: ColumnSpec, source: object) -> str:
    """For a delimited file read with a header row: the fix if its first line is data."""
    if spec.column_names is not None or data_suffix(str(source)) not in (
        ".csv",
        ".tsv",
        ".tab",
        ".txt",
    ):
        return ""
    return "; if the file has no header row, give --column-names (e.g. text,label) instead"


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
    text_col = pick_column(columns, spec.text, TEXT_CANDIDATES, "text", source)
    if text_col is None:
        raise DataError(
            f"{source}: no text column found (columns are {list(columns)}); "
            f"name it with --text-column{_headerless_hint(spec, source)}."
        )
    list_row = json_list_row(raw, text_col)
    if list_row is not None:  # a list among texts, which the JSON reader kept as its JSON text
        raise DataError(
            f"{source} row {list_row}: the '{text_col}' value is a list, not text; give each "
            "example's text as a string."
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
        label_col = pick_column(columns, spec.label, LABEL_CANDIDATES, "label", source)
        if label_col is None and require_labels:
            raise DataError(
                f"{source}: no label column found (columns are {list(columns)}); name it with "
                "--label-column, or give 0/1 columns with --label-columns"
                f"{_headerless_hint(spec, source)}."
            )
    elif spec.text is None:
        # Unlabelled input keeps a label column if one happens to be there (for evaluation).
        label_col = pick_column(columns, None, LABEL_CANDIDATES, "label", source)
    id_col = None
    if spec.id_column:
        id_col = pick_column(columns, spec.id_column, (), "id", source)
    parser = LabelParser(
        source,
        label_col or "",
        label_names=spec.label_names,
        label_separator=spec.label_separator,
    )

    def text(value: Any, row: int) -> str:
        if isinstance(value, list | tuple | dict):
            raise DataError(
                f"{source} row {row}: the '{text_col}' value is a "
                f"{'list' if isinstance(value, list | tuple) else 'JSON object'}, not text; "
                "give each example's text as a string."
            )
        return "" if is_missing(value) else str(value)

    def convert(batch: Mapping[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        rows = [i + 1 for i in indices]
        texts = [text(t, r) for t, r in zip(batch[text_col], rows, strict=True)]
        out: dict[str, list[Any]] = {"row": rows, "text": texts}
        if label_cols is not None:
            out["labels"] = [
                [c for c in label_cols if binary_cell(batch[c][j], source, r, c)]
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

    # Explicit output types: inferred ones follow the input (a JSON-typed column stays one).
    features = datasets.Features({"row": datasets.Value("int64"), "text": datasets.Value("string")})
    if label_cols is not None or label_col is not None:
        features["labels"] = datasets.List(datasets.Value("string"))
    if id_col is not None:
        features["id"] = datasets.Value("string")
    with quiet_datasets():
        ds = raw.map(
            convert,
            batched=True,
            with_indices=True,
            remove_columns=columns,
            features=features,
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
        with quiet_datasets():
            ds = ds.select(keep).flatten_indices()
        skipped["empty_text"] = n_empty
        skipped_rows["empty_text"] = empty_rows
        logger.warning(
            "%s: skipped %d row(s) with empty or whitespace-only text (first: row %d).",
            source,
            n_empty,
            empty_rows[0],
        )
    stray = parser.stray_lists() if label_col is not None and spec.label_separator is None else None
    nulls = parser.null_items() if label_col is not None else None
    if nulls is not None:  # said as the rows are read, for the Python API's fit too
        logger.warning("%s", nulls[0])
    return Split(
        name=name,
        source=source,
        dataset=ds,
        n_read=n_read,
        skipped=skipped,
        skipped_rows=skipped_rows,
        label_sets=label_cols is not None
        or (label_col is not None and spec.label_separator is not None)
        or parser.saw_sets,
        stray_lists=stray,
        null_items=nulls,
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
    with quiet_datasets():
        raw, where = _as_raw_dataset(source, spec, name)
        return canonicalize(raw, spec, name=name, source=where, require_labels=require_labels)


def _check_list_texts(texts: Any, name: str) -> None:
    """Refuse what is not a sequence of strings, as prediction does (no ``str()`` of it)."""
    if getattr(texts, "ndim", 1) != 1:
        raise DataError(
            f"{name} texts: got a {getattr(texts, 'ndim', '?')}-D array or table; pass one text "
            "per row as a list, a 1-D array or a Series (e.g. df['text'])."
        )
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(
                f"{name} text {i} is a {type(t).__name__} ({str(t)[:30]!r}), not a string; pass "
                "strings (fill or drop missing values first)."
            )


def _check_list_labels(labels: Any, name: str) -> None:
    """Refuse a 0/1 indicator matrix, which would read as the labels "0" and "1"."""
    first = next(iter(labels), None)
    rows_are_arrays = getattr(first, "ndim", 0) >= 1
    # Label lists never repeat a label; 0/1 rows of one length (indicator rows) do.
    indicator_lists = any(
        isinstance(row, list | tuple)
        and all(not isinstance(v, str) and isinstance(v, int | float | np.number) for v in row)
        and all(v in (0, 1) for v in row)
        and len(row) != len(set(row))
        for row in labels
    )
    if getattr(labels, "ndim", 1) != 1 or rows_are_arrays or indicator_lists:
        raise DataError(
            f"{name} labels: got a 2-D array or table (a 0/1 indicator matrix?); give each "
            "text's label names as a list instead, e.g. MultiLabelBinarizer().inverse_transform(Y) "
            "as lists, or one label per text for single-label tasks."
        )


def _list_label(value: Any, index: int, name: str) -> str:
    """One label given in Python as the text cell a file would hold: a name or a JSON
    list of names. Index ``index`` counts from 0, as in "train text 1" and ``predict``.

    Every label becomes text, as a file's would, so that a mix of kinds (names and NaN,
    ints and strings) cannot fail inside pyarrow with a message about doubles.
    """

    def refuse(why: str) -> DataError:
        return DataError(f"{name} label {index} ({str(value)[:40]!r}) {why}")

    def scalar(v: Any) -> str:
        if isinstance(v, str | bool | int | float | np.generic):
            return scalar_name(v)
        raise refuse(
            f"is or holds a {type(v).__name__}; give a label name, or a flat list of names "
            "for a multi-label example."
        )

    if isinstance(value, list | tuple | np.ndarray):
        # A missing entry stays a JSON null: ignored and reported, as in a file.
        return json.dumps([None if is_missing(v) else scalar(v) for v in value])
    if is_missing(value):
        raise refuse(
            "is missing; fill it in (a multi-label example with no labels is []) or drop the text."
        )
    return scalar(value)


def split_from_lists(
    texts: Sequence[str], labels: Sequence[Any] | None = None, *, name: str = "train"
) -> Split:
    """Build a split from Python lists (labels: names, ids, or lists of them for multi-label)."""
    _check_list_texts(texts, name)
    if labels is not None:
        _check_list_labels(labels, name)
    if labels is not None and len(texts) != len(labels):
        raise DataError(
            f"got {len(texts)} texts but {len(labels)} labels; give one label per text."
        )
    data: dict[str, list[Any]] = {"text": [str(t) for t in texts]}
    if labels is not None:
        data["label"] = [_list_label(v, i, name) for i, v in enumerate(labels)]
    raw = datasets.Dataset.from_dict(data)
    spec = ColumnSpec(text="text", label="label" if labels is not None else None)
    return canonicalize(raw, spec, name=name, source="lists", require_labels=labels is not None)
