"""Read any supported source into canonical rows: ``text`` (str), ``labels`` (list[str]), ``row``.

Files go through Arrow-backed Hugging Face ``datasets`` (``load_dataset("csv"|"json"|
"parquet")``), so they are memory-mapped and cached and a million-row file needs no
Python list of it. Only when a reader fails do we re-read the file line by line, to name
the first malformed line in the error message.

Files as people have them:

* **Encoding.** Text files must be UTF-8; a byte-order mark (Excel's "CSV UTF-8") and
  CRLF line ends are fine. Any other encoding is refused with the encoding it looks like
  and the ``iconv`` command that converts it (see :func:`_not_utf8_error` for why we do not
  guess and read it). UTF-16 (Excel's "Unicode Text") is refused the same way. A file that
  is not text at all (an image, a ZIP or ``.xlsx`` renamed ``.csv``) says so.
* **Dialect.** ``.csv`` files are read with RFC 4180 quoting (fields may hold
  separators, quotes and newlines) and the separator that the standard library's
  :class:`csv.Sniffer` finds among comma, semicolon ("European" CSV, where the comma is
  the decimal mark), tab and pipe: in the header line, as pandas' ``sep=None`` does, or
  in the sampled lines of a file without a header. ``.tsv`` files are tab-separated;
  their quoting is RFC 4180 when the csv module's strict parser accepts the whole file
  as such (spreadsheet exports quote cells holding tabs or newlines), and none otherwise
  (IANA TSV, SST-2, GoEmotions: a quote character is part of the text).
  ``data.quoting`` forces either.
* **JSON Lines** may start with a byte-order mark and hold blank lines (skipped).

Label cells. Every label is kept as a list of names, one element for single-label data;
the task is decided later from those lists (see :mod:`textclf.data.labels`). A cell is

* **one name** (``pos``; an integer id with ``--label-names``);
* **a set of names** (multi-label): a JSON list ``["a", "b"]`` in a CSV/TSV cell, a list
  in JSONL, JSON, Parquet or a DataFrame, names joined by ``--label-separator``, or 0/1
  columns (``--label-columns``). Such a source marks the data multi-label
  (:attr:`Split.label_sets`);
* **no labels**, the empty set, which only a multi-label example can have: ``[]`` or an
  empty list; with ``--label-separator``, a blank cell (the empty set joined is the empty
  string); with ``--label-columns``, a row of zeros. These rows are kept and counted
  (``n_without_labels`` in the validation report);
* **missing**, which stops the run naming the row: a blank cell without a label
  separator, JSON ``null``, an absent key, NaN. A blank cell is never silently read as
  "no labels" where it could be a forgotten single label.

Example:
    >>> spec = ColumnSpec(text="text", label="label")
    >>> split = read_split("train.csv", spec, name="train")  # doctest: +SKIP
    >>> split.dataset.column_names  # doctest: +SKIP
    ['row', 'text', 'labels']
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import math
import os
import re
import shlex
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
# Separators the sniffer may choose for a .csv file: comma, semicolon (Excel's CSV where
# the comma is the decimal mark), tab (TSV saved as .csv) and pipe.
_CSV_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Share of control characters above which decoded bytes are not text (ASCII-only binary
# data decodes as UTF-8 but is mostly control codes; real text has next to none).
_MAX_CONTROL_SHARE = 0.05
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")

# File signatures of formats that people rename to .csv or pick by mistake, with the fix.
_SAVE_AS_CSV = "open it in the spreadsheet and save the sheet as 'CSV UTF-8'"
_GIVE_TEXT = "give a UTF-8 CSV, TSV, JSONL or JSON file"
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .ods workbook is one)", _SAVE_AS_CSV),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.xls)", _SAVE_AS_CSV),
    (b"%PDF-", "a PDF document", _GIVE_TEXT),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _GIVE_TEXT),
    (b"\xff\xd8\xff", "a JPEG image", _GIVE_TEXT),
    (b"GIF8", "a GIF image", _GIVE_TEXT),
    (b"\x1f\x8b", "a gzip archive", "decompress it first (gunzip)"),
    (b"\xfd7zXZ\x00", "an xz archive", "decompress it first (unxz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"PAR1", "a Parquet file", "give it the .parquet extension"),
)

# Legacy encodings a non-UTF-8 text file is matched against: Windows' code pages (what
# Excel's plain "CSV" writes, by locale), the East-Asian ones and KOI8-R.
_LEGACY_CODEPAGES = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "cp932",
    "cp949",
    "gb18030",
    "big5",
    "koi8_r",
)
_MULTIBYTE_CODEPAGES = ("cp932", "cp949", "gb18030", "big5")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# UTF-32 first: its little-endian mark starts with UTF-16's.
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf_32"),
    (codecs.BOM_UTF32_BE, "utf_32"),
    (codecs.BOM_UTF16_LE, "utf_16"),
    (codecs.BOM_UTF16_BE, "utf_16"),
)


@dataclass(frozen=True)
class ColumnSpec:
    """How to find the text and the labels in a source.

    Attributes:
        text: Text column; ``None`` picks the first of :data:`TEXT_CANDIDATES` present.
        label: Column holding one label, a JSON list, or separator-joined labels.
        label_columns: Several 0/1 columns, one per label (multi-label).
        label_separator: Splits ``"a|b"`` into ``["a", "b"]``; a blank cell is then the
            empty label set.
        label_names: Names of integer label ids (id ``i`` is ``label_names[i]``).
        id_column: Column whose values identify rows in prediction files.
        column_names: Column names for a file without a header row.
        quoting: ``"auto"`` (CSV: RFC 4180 quoting; TSV: RFC 4180 when the whole file is
            valid RFC 4180, else none), ``"minimal"`` or ``"none"``.
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
        label_sets: The labels came as sets (lists, JSON lists, a label separator or 0/1
            columns), which makes the data multi-label even where every row has one label.
    """

    name: str
    source: str
    dataset: datasets.Dataset
    n_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: dict[str, list[int]] = field(default_factory=dict)
    label_sets: bool = False

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


def read_label_names(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Read label names for integer ids: one per line, a JSON list, or a JSON ``{id: name}``.

    Raises:
        DataError: if the file is missing, empty or not in one of those shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: label-names file not found; check the path given to --label-names.")
    try:
        text = p.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as e:
        raise _not_utf8_error(p) from e
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
# Text files: bytes → a checked UTF-8 sample
# ---------------------------------------------------------------------------------------


def _non_ascii_letters(data: bytes, codec: str) -> int:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return -1
    return sum(1 for ch in text if ord(ch) > 127 and ch.isalpha())


def _mostly_control(data: bytes) -> bool:
    """Whether ``data`` is binary by its share of control bytes (text has next to none)."""
    return len(_CONTROL_BYTES.findall(data)) > _MAX_CONTROL_SHARE * len(data)


def _legacy_encoding(data: bytes) -> str:
    """The legacy encoding that text bytes ``data`` look like (a Python codec name)."""
    best_name = "cp1252"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # a dependency of requests, so nearly always there
        pass
    else:
        # Only the code pages that spreadsheets and Windows tools write: among all of them,
        # charset-normalizer calls a CSV with one "café" hp_roman8 or cp775. None comes
        # back for short text dense with accents: the Latin code pages below then.
        best = from_bytes(data, cp_isolation=list(_LEGACY_CODEPAGES)).best()
        best_name = str(best.encoding) if best is not None else "cp1252"
        # A stray accented byte before an ASCII letter is also a valid two-byte East-Asian
        # character; real East-Asian text has many such bytes, a Western file only a few.
        if best_name in _MULTIBYTE_CODEPAGES and len(_NON_ASCII.findall(data)) < 8:
            best_name = "cp1252"
    if best_name in ("cp1250", "cp1252", "latin_1") or best_name.startswith("iso8859"):
        # charset-normalizer calls most Western-European text cp1250 (Central European):
        # the two share most letters. They differ where one has a letter and the other a
        # symbol (0xB3 is ł or ³), so the one that reads more bytes as letters wins, and
        # cp1252 (Excel's "CSV" on Western Windows) wins a tie (ñ and ń are both letters).
        western = _non_ascii_letters(data, "cp1252")
        central = _non_ascii_letters(data, "cp1250")
        return "cp1252" if western >= central else "cp1250"
    return best_name


def _iconv_name(codec: str) -> str:
    return {"latin_1": "ISO-8859-1", "utf_16": "UTF-16", "utf_32": "UTF-32"}.get(
        codec, codec.upper().replace("_", "-")
    )


def _convert_hint(path: Path, codec: str) -> str:
    target = path.with_name(f"{path.stem}-utf8{path.suffix}")
    return (
        f"convert it with: iconv -f {_iconv_name(codec)} -t UTF-8 {shlex.quote(str(path))} > "
        f"{shlex.quote(str(target))}"
    )


def _first_non_utf8(path: Path) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not UTF-8, or ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0
    lines = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            buffered = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                data = buffered + chunk
                return (
                    fed - len(buffered) + e.start,
                    lines + data[: e.start].count(b"\n"),
                    data[e.start],
                )
            fed += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:  # the file ends inside a multi-byte character
            data = decoder.getstate()[0]
            return fed - len(data) + e.start, lines, data[e.start] if data else 0
    return None


def _not_utf8_error(path: Path) -> DataError:
    """The error for a text file that is not UTF-8: where, what it looks like, the fix.

    We refuse rather than guess and read. Detection of single-byte code pages is a guess
    (charset-normalizer calls most Western-European cp1252 text cp1250, and byte 0xF1 is
    ñ in cp1252 but ń in cp1250), and a wrong guess silently trains on altered text. A
    one-time conversion makes the file unambiguous for every tool, and the data
    fingerprint recorded with the model then names the bytes that were really read.
    """
    where = _first_non_utf8(path)
    if where is None:  # the caller saw a decode error; report it without a position
        return DataError(f"{path}: the file is not valid UTF-8; re-save it as UTF-8.")
    offset, line, value = where
    with open(path, "rb") as f:
        f.seek(max(0, offset - _SNIFF_BYTES // 2))
        window = f.read(_SNIFF_BYTES)
    if _mostly_control(window):
        return DataError(f"{path}: this is a binary file, not text; {_GIVE_TEXT}.")
    codec = _legacy_encoding(window)
    return DataError(
        f"{path} line {line}: byte {offset} (0x{value:02X}) is not UTF-8 and the file looks "
        f"like {_iconv_name(codec)} text; {_convert_hint(path, codec)} (or save it again as "
        "'CSV UTF-8') and give the new file."
    )


def _read_text_sample(path: Path) -> str:
    """Check that ``path`` is UTF-8 text and return its first lines, without a BOM.

    Returns:
        The decoded sample: the file, or whole lines of its first 64 KiB when larger.

    Raises:
        DataError: empty, binary, UTF-16 or non-UTF-8 files, or only blank space.
    """
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: the file is empty; give a file with a header and data rows.")
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    whole = len(head) == size
    for magic, what, fix in _SIGNATURES:
        if head.startswith(magic):
            raise DataError(f"{path}: this is {what}, not a text file; {fix}.")
    for bom, codec in _UNICODE_BOMS:
        if head.startswith(bom):
            raise DataError(
                f"{path}: the file is {_iconv_name(codec)} text (as Excel's 'Unicode Text' "
                f"saves it), not UTF-8; {_convert_hint(path, codec)} and give the new file."
            )
    if b"\x00" in head:
        raise DataError(f"{path}: this is a binary file, not text; {_GIVE_TEXT}.")
    if not whole:
        # Whole lines only, so that no multi-byte character or record is cut.
        cut = head.rfind(b"\n")
        head = head[: cut + 1] if cut > 0 else head
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=whole)
    except UnicodeDecodeError as e:
        raise _not_utf8_error(path) from e
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DataError(f"{path}: the file holds only blank space; give a file with data rows.")
    if len(_CONTROL.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        raise DataError(
            f"{path}: this is a binary file, not text (mostly control characters); {_GIVE_TEXT}."
        )
    return text


# ---------------------------------------------------------------------------------------
# CSV and TSV: dialect, header, diagnosis
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    quoting: Literal[0, 3]  # csv.QUOTE_MINIMAL or csv.QUOTE_NONE

    @property
    def separator_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def reader(self, f: Iterable[str], *, strict: bool = False) -> Any:
        return csv.reader(f, delimiter=self.delimiter, quoting=self.quoting, strict=strict)


def _open_text(path: Path) -> io.TextIOWrapper:
    # newline="": the csv module handles CRLF and newlines inside quoted fields itself.
    return open(path, encoding="utf-8-sig", newline="")


def _strictly_rfc4180(path: Path, delimiter: str) -> bool:
    """Whether the csv module's strict RFC 4180 parser accepts every record of the file."""
    try:
        with _open_text(path) as f:
            for _ in csv.reader(f, delimiter=delimiter, strict=True):
                pass
    except (csv.Error, UnicodeDecodeError):
        return False
    return True


def _sniff_dialect(path: Path, fmt: str, spec: ColumnSpec, sample: str) -> _Dialect:
    """Separator and quoting of a CSV or TSV file (see the module docstring)."""
    if fmt == "tsv":
        delimiter = "\t"
    else:
        # The header line only, as pandas' sep=None does. Across data rows, quoted cells
        # holding separators and newlines (Excel's European CSV) defeat the sniffer's
        # per-line counts, while a header is one plain line of column names. A file without
        # a header has only data rows: there the counts over many lines are the evidence.
        lines = sample if spec.column_names else sample.split("\n", 1)[0].rstrip("\r")
        try:
            delimiter = csv.Sniffer().sniff(lines, delimiters=_CSV_DELIMITERS).delimiter
        except csv.Error:  # one column, or nothing consistent: the format's own separator
            delimiter = ","
        if delimiter != ",":
            logger.info("%s: read as %s-separated values.", path, _DELIMITER_NAMES[delimiter])
    # IANA TSV (SST-2, GoEmotions) has no quoting: a quote character is part of the text.
    # Spreadsheets quote cells holding tabs or newlines; such a file is valid RFC 4180
    # throughout, which a file with free quotes ('"quoted" start') is not.
    unquoted = spec.quoting == "none" or (
        spec.quoting == "auto" and fmt == "tsv" and not _strictly_rfc4180(path, delimiter)
    )
    return _Dialect(delimiter, csv.QUOTE_NONE if unquoted else csv.QUOTE_MINIMAL)


def _csv_header(path: Path, dialect: _Dialect, spec: ColumnSpec) -> list[str]:
    if spec.column_names:
        return list(spec.column_names)
    try:
        with _open_text(path) as f:
            header = next(dialect.reader(f), None)
    except csv.Error as e:
        raise DataError(f"{path} line 1: {e}; fix the quoting of the header row.") from e
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path} line 1: no header row; add one or pass the column names.")
    # A blank header cell (a pandas index column) gets pandas' name for it.
    header = [h.strip() or f"Unnamed: {i}" for i, h in enumerate(header)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path} line 1: duplicate column name(s) {dupes}; rename them.")
    return header


def _diagnose_csv(path: Path, dialect: _Dialect, spec: ColumnSpec, n_columns: int) -> DataError:
    """Find the first malformed record by reading the file with the csv module."""
    skip_header = spec.column_names is None
    n_records = 0
    line = 0  # where the last whole record ended; the failing one starts on the next line
    try:
        with _open_text(path) as f:
            reader = dialect.reader(f, strict=True)
            for i, record in enumerate(reader):
                line = reader.line_num
                if i == 0 and skip_header:
                    continue
                if not record:  # blank line
                    continue
                n_records += 1
                if len(record) != n_columns:
                    return DataError(
                        f"{path} line {reader.line_num}: expected {n_columns} fields, found "
                        f"{len(record)}; quote the text field or fix the "
                        f"{dialect.separator_name}s on that line."
                    )
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            return DataError(
                f"{path} line {line + 1}: a quoted field that starts in this record is never "
                'closed; add the closing " or remove the stray one.'
            )
        return DataError(f"{path} line {line + 1}: {e}; fix the quoting on that line.")
    except UnicodeDecodeError:
        return _not_utf8_error(path)
    if n_records == 0:  # datasets refuses a header-only file ("corresponds to no data")
        return DataError(f"{path}: no data rows; give a file with at least one example.")
    return DataError(
        f"{path}: could not be parsed as {dialect.separator_name}-separated values; check the "
        "separator and quoting."
    )


def _load_csv(path: Path, fmt: str, spec: ColumnSpec, sample: str) -> datasets.Dataset:
    dialect = _sniff_dialect(path, fmt, spec, sample)
    header = _csv_header(path, dialect, spec)
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
        raise _diagnose_csv(path, dialect, spec, len(header)) from e


# ---------------------------------------------------------------------------------------
# JSON and JSON Lines
# ---------------------------------------------------------------------------------------


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
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where} line {lineno}: broken JSON ({e.msg} at column {e.colno}); "
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
        with open(path, encoding="utf-8", newline="\n") as f:
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
        raise _not_utf8_error(path) from e
    if n_records == 0:
        raise DataError(f"{path}: no data rows; give a file with at least one example.")
    return plain


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
    columns = {str(k): _uniform_column([r.get(k) for r in records], str(k), where) for k in keys}
    try:
        return datasets.Dataset.from_dict(columns)
    except (TypeError, ValueError, OverflowError) as e:  # pyarrow's errors derive from these
        raise DataError(
            f"{where}: the values could not be stored as a table ({e}); give each key one "
            "type of value (text, number or list of names)."
        ) from e


def _load_jsonl(path: Path) -> datasets.Dataset:
    if _plain_json_lines(path):
        try:
            return datasets.load_dataset("json", data_files=str(path), split="train")
        except Exception as e:  # types pyarrow still refuses: read the records ourselves
            logger.debug("%s: pyarrow's JSON reader failed (%s); parsing in Python.", path, e)
    with open(path, encoding="utf-8", newline="\n") as f:
        return _records_dataset(json_lines_records(f, str(path)), str(path))


def _load_json(path: Path) -> datasets.Dataset:
    # A JSON document must be parsed whole anyway; rows become an Arrow table.
    try:
        # newline="": json counts lines by \n, so a \r must not become one.
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise _not_utf8_error(path) from e
    records = json_document_records(text, str(path))
    if not records:
        raise DataError(f"{path}: the JSON list is empty; give at least one example.")
    return _records_dataset(records, str(path))


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


def _load_file(path: Path, fmt: str, spec: ColumnSpec) -> datasets.Dataset:
    if fmt in ("csv", "tsv", "jsonl", "json"):
        sample = _read_text_sample(path)
        if fmt in ("csv", "tsv"):
            return _load_csv(path, fmt, spec, sample)
        if fmt == "jsonl":
            return _load_jsonl(path)
        return _load_json(path)
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
        try:
            return datasets.Dataset.from_pandas(source, preserve_index=False), "DataFrame"
        except (TypeError, ValueError) as e:  # pyarrow's ArrowTypeError, ArrowInvalid
            raise DataError(
                f"DataFrame: a column mixes types that cannot form a table ({e}); convert it "
                "with .astype(str)."
            ) from e
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


def _shorten(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _LabelParser:
    """Turns one raw label cell into a list of label names (see the module docstring).

    Attributes:
        saw_sets: Some cell held a list or a JSON list, so the labels are sets.
    """

    def __init__(self, spec: ColumnSpec, where: str, column: str) -> None:
        self.spec = spec
        self.where = where
        self.column = column
        self.saw_sets = False

    def name(self, item: Any, row: int) -> str:
        names = self.spec.label_names
        if isinstance(item, list | tuple | dict):
            raise DataError(
                f"{self.where} row {row}: label {_shorten(item)} in column '{self.column}' is "
                'a nested list or object; give names or a flat list like ["a", "b"].'
            )
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

    def _json_list(self, s: str, row: int) -> list[Any]:
        try:
            parsed = json.loads(s)
        except (json.JSONDecodeError, RecursionError) as e:
            why = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise DataError(
                f"{self.where} row {row}: label {_shorten(s)} looks like a JSON list but is "
                f'not valid JSON ({why}); write it as ["a", "b"].'
            ) from e
        return parsed if isinstance(parsed, list) else [parsed]

    def __call__(self, value: Any, row: int) -> list[str]:
        items: list[Any]
        if isinstance(value, list | tuple):
            items = list(value)
            self.saw_sets = True
        elif (
            isinstance(value, str) and value.strip().startswith("[") and value.strip().endswith("]")
        ):
            items = self._json_list(value.strip(), row)
            self.saw_sets = True
        elif isinstance(value, str) and self.spec.label_separator:
            # The empty set joined by a separator is the empty string: a blank cell is an
            # example with no labels, not a missing one (see the module docstring).
            items = [p for p in value.split(self.spec.label_separator) if p.strip()]
        elif _is_missing(value):
            raise DataError(
                f"{self.where} row {row}: the '{self.column}' value is missing; fill in the "
                "label (write [] for a multi-label example with no labels) or remove the row."
            )
        elif isinstance(value, dict):
            raise DataError(
                f"{self.where} row {row}: the '{self.column}' value is an object "
                f"{_shorten(value)}; give a label name or a list of names."
            )
        elif isinstance(value, str):
            items = [value.strip()]
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

    def text(value: Any, row: int) -> str:
        if isinstance(value, list | tuple | dict):
            raise DataError(
                f"{source} row {row}: the '{text_col}' value is a "
                f"{'list' if isinstance(value, list | tuple) else 'JSON object'}, not text; "
                "give each example's text as a string."
            )
        return "" if _is_missing(value) else str(value)

    def convert(batch: Mapping[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        rows = [i + 1 for i in indices]
        texts = [text(t, r) for t, r in zip(batch[text_col], rows, strict=True)]
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
