"""Text files as people have them: which format a path holds, whether it is UTF-8 text,
and how a CSV or TSV file is laid out.

* **Format** comes from the extension (:data:`EXTENSIONS`), or ``data.format`` forces it.
* **Compression.** A gzip, bzip2 or xz file (``train.csv.gz``, as pandas and datasets read
  them) is read through the standard library's decompressor, found by its magic bytes, so
  a compressed file saved without its ``.gz`` is read too; the format comes from the
  extension before ``.gz``/``.bz2``/``.xz``. A damaged or truncated stream is refused
  before any row is read (:func:`check_compressed`).
* **Encoding.** Text files must be UTF-8; a byte-order mark (Excel's "CSV UTF-8") and
  CRLF line ends are fine. Any other encoding is refused with the encoding it looks like
  and the ``iconv`` command that converts it (see :func:`not_utf8_error` for why we do not
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

Only the standard library is imported here (no ``datasets``, no ``pandas``), so a reader
that streams plain files can decide formats and dialects as :mod:`textclf.data.io` does
without paying for those imports.

Example:
    >>> detect_format(Path("train.tsv"))
    'tsv'
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import logging
import lzma
import os
import re
import shlex
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from textclf.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

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
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"PAR1", "a Parquet file", "give it the .parquet extension"),
)

# Compressed streams, by their magic bytes: (name, opener, the command that decompresses
# to standard output). bzip2's magic is "BZh", the block size, then the first block's
# (or, for an empty stream, the end-of-stream) marker, so plain text starting "BZh" is not
# taken for it.
_COMPRESSIONS: tuple[tuple[re.Pattern[bytes], str, Any, str], ...] = (
    (re.compile(rb"\x1f\x8b"), "gzip", gzip.open, "gzip -dc"),
    (re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)"), "bzip2", bz2.open, "bzip2 -dc"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz", lzma.open, "xz -dc"),
)
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
# What a damaged or truncated compressed stream raises while it is read.
_STREAM_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, OSError)

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


def data_suffix(path: Path | str) -> str:
    """The extension that names the format, lower-case: ``.csv`` for ``train.csv.gz``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in COMPRESSED_SUFFIXES:
        return Path(path.stem).suffix.lower()
    return suffix


def data_stem(path: Path | str) -> str:
    """The file name without its format and compression extensions: ``train`` for
    ``train.csv.gz`` (names the ``eval/`` folder of a test file)."""
    path = Path(path)
    return Path(path.stem).stem if path.suffix.lower() in COMPRESSED_SUFFIXES else path.stem


def _compression(path: Path) -> tuple[str, Any, str] | None:
    """(name, opener, decompress command) of a compressed file, ``None`` for a plain one."""
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, name, opener, command in _COMPRESSIONS:
        if magic.match(head):
            return name, opener, command
    return None


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed where it is gzip, bzip2 or xz."""
    found = _compression(path)
    return found[1](path, "rb") if found else open(path, "rb")


def open_text(path: Path, *, encoding: str = "utf-8", newline: str | None = None) -> IO[str]:
    """``path`` opened for reading text, decompressed where it is gzip, bzip2 or xz."""
    return io.TextIOWrapper(open_binary(path), encoding=encoding, newline=newline)


def check_compressed(path: Path) -> None:
    """Read a compressed file through to its end, so a damaged one is refused up front.

    Readers would otherwise fail in the middle (pandas, pyarrow and the standard library
    all raise only when they reach the damage), after rows have been counted and read.

    Raises:
        DataError: a truncated or damaged gzip, bzip2 or xz stream.
    """
    found = _compression(path)
    if found is None:
        return
    name, opener, command = found
    try:
        with opener(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except _STREAM_ERRORS as e:
        raise DataError(
            f"{path}: the {name} data is damaged or cut short ({e}); check it with "
            f"'{command} {shlex.quote(str(path))} > /dev/null' and give a complete copy."
        ) from e


def check_source(source: str | os.PathLike[str], file_format: str = "auto") -> Path | None:
    """The data file ``source`` names, or ``None`` for a hub dataset name; nothing is read.

    Lets a command refuse a mistyped path before it spends seconds loading a model.

    Raises:
        DataError: for a path that does not exist (and is no hub name) or is a folder.
    """
    if str(source) == "-":
        raise DataError(
            "-: textclf does not read data from standard input; save it to a file (CSV, TSV, "
            "JSON Lines or Parquet) and give that file's path."
        )
    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir() and not is_saved_dataset(path):
            raise DataError(
                f"{path}: is a folder; give a data file inside it (or a folder written by "
                "datasets' save_to_disk)."
            )
        return path
    if file_format == "hf" or (file_format == "auto" and _looks_like_hub_name(str(source))):
        return None
    raise DataError(f"{path}: file not found; check the path.")


def is_saved_dataset(path: Path) -> bool:
    """A folder written by ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return any(
        (path / marker).is_file()
        for marker in ("dataset_dict.json", "dataset_info.json", "state.json")
    )


def _looks_like_hub_name(source: str) -> bool:
    return (
        data_suffix(source) not in EXTENSIONS
        and not source.startswith((".", "/", "~"))
        and re.fullmatch(r"[\w.-]+(/[\w.-]+)?", source) is not None
    )


# The formats ``--format`` (``data.format``) can force; ``hf`` (a hub name) is config-only.
FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")


def check_format(name: str | None) -> str:
    """``name`` as a forced file format (``None``: ``auto``, by extension).

    Raises:
        ConfigError: for a format the readers do not have.
    """
    if name is None or name == "auto":
        return "auto"
    if name.lower() not in FORMATS:
        raise ConfigError(f"--format {name}: unknown format; use one of {', '.join(FORMATS)}.")
    return name.lower()


def detect_format(path: Path, forced: str = "auto") -> str:
    """Return ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet`` for a file path."""
    if forced != "auto":
        return forced
    suffix = data_suffix(path)
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise DataError(
            f"{path}: unknown file type '{suffix or '(none)'}'; use one of {known} (also "
            f"compressed: {', '.join(COMPRESSED_SUFFIXES)}) or pass --format "
            f"{'|'.join(FORMATS)}."
        )
    return fmt


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
    found = _compression(path)
    plain = Path(path.stem) if found else Path(path.name)  # train.csv.gz -> train.csv
    target = path.with_name(f"{plain.stem}-utf8{plain.suffix}")
    iconv = f"iconv -f {_iconv_name(codec)} -t UTF-8"
    source = shlex.quote(str(path))
    command = f"{found[2]} {source} | {iconv}" if found else f"{iconv} {source}"
    return f"convert it with: {command} > {shlex.quote(str(target))}"


def _first_non_utf8(path: Path) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not UTF-8, or ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0
    lines = 1
    with open_binary(path) as f:
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


def not_utf8_error(path: Path) -> DataError:
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
    with open_binary(path) as f:
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


def read_text_sample(path: Path) -> str:
    """Check that ``path`` is UTF-8 text and return its first lines, without a BOM.

    Returns:
        The decoded sample: the file, or whole lines of its first 64 KiB when larger.

    Raises:
        DataError: empty, binary, UTF-16 or non-UTF-8 files, or only blank space.
    """
    check_compressed(path)
    with open_binary(path) as f:
        head = f.read(_SNIFF_BYTES)
        whole = not f.read(1)
    if not head:
        raise DataError(f"{path}: the file is empty; give a file with a header and data rows.")
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
        raise not_utf8_error(path) from e
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
class Dialect:
    """The separator and quoting a CSV or TSV file is read with."""

    delimiter: str
    quoting: Literal[0, 3]  # csv.QUOTE_MINIMAL or csv.QUOTE_NONE

    @property
    def separator_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def reader(self, f: Iterable[str], *, strict: bool = False) -> Any:
        return csv.reader(f, delimiter=self.delimiter, quoting=self.quoting, strict=strict)


def _open_text(path: Path) -> IO[str]:
    # newline="": the csv module handles CRLF and newlines inside quoted fields itself.
    return open_text(path, encoding="utf-8-sig", newline="")


def _strictly_rfc4180(path: Path, delimiter: str) -> bool:
    """Whether the csv module's strict RFC 4180 parser accepts every record of the file."""
    try:
        with _open_text(path) as f:
            for _ in csv.reader(f, delimiter=delimiter, strict=True):
                pass
    except (csv.Error, UnicodeDecodeError):
        return False
    return True


def sniff_dialect(
    path: Path,
    fmt: str,
    sample: str,
    *,
    column_names: Sequence[str] | None = None,
    quoting: str = "auto",
) -> Dialect:
    """Separator and quoting of a CSV or TSV file (see the module docstring).

    Args:
        path: The file, read again for the TSV quoting check.
        fmt: ``csv`` or ``tsv``.
        sample: Its first lines, from :func:`read_text_sample`.
        column_names: The column names of a file without a header row, else ``None``.
        quoting: ``auto``, ``minimal`` or ``none`` (``ColumnSpec.quoting``).
    """
    if fmt == "tsv":
        delimiter = "\t"
    else:
        # The header line only, as pandas' sep=None does. Across data rows, quoted cells
        # holding separators and newlines (Excel's European CSV) defeat the sniffer's
        # per-line counts, while a header is one plain line of column names. A file without
        # a header has only data rows: there the counts over many lines are the evidence.
        lines = sample if column_names else sample.split("\n", 1)[0].rstrip("\r")
        try:
            delimiter = csv.Sniffer().sniff(lines, delimiters=_CSV_DELIMITERS).delimiter
        except csv.Error:  # one column, or nothing consistent: the format's own separator
            delimiter = ","
        if delimiter != ",":
            logger.info("%s: read as %s-separated values.", path, _DELIMITER_NAMES[delimiter])
    # IANA TSV (SST-2, GoEmotions) has no quoting: a quote character is part of the text.
    # Spreadsheets quote cells holding tabs or newlines; such a file is valid RFC 4180
    # throughout, which a file with free quotes ('"quoted" start') is not.
    unquoted = quoting == "none" or (
        quoting == "auto" and fmt == "tsv" and not _strictly_rfc4180(path, delimiter)
    )
    return Dialect(delimiter, csv.QUOTE_NONE if unquoted else csv.QUOTE_MINIMAL)


def csv_header(path: Path, dialect: Dialect, column_names: Sequence[str] | None) -> list[str]:
    """The column names: ``column_names`` when given, else the checked header row.

    Raises:
        DataError: a header row missing, blank or with repeated names; or, with
            ``column_names``, a first row that has another number of fields or is itself
            a header row of those names.
    """
    try:
        with _open_text(path) as f:
            header = next(dialect.reader(f), None)
    except csv.Error as e:
        raise DataError(f"{path} line 1: {e}; fix the quoting of the header row.") from e
    if column_names:
        check_named_columns(path, header or [], column_names)
        return list(column_names)
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path} line 1: no header row; add one or pass the column names.")
    # A blank header cell (a pandas index column) gets pandas' name for it.
    header = [h.strip() or f"Unnamed: {i}" for i, h in enumerate(header)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path} line 1: duplicate column name(s) {dupes}; rename them.")
    return header


def check_named_columns(path: Path, first: Sequence[str], column_names: Sequence[str]) -> None:
    """Check the first record of a file read with ``--column-names`` against the names.

    Raises:
        DataError: the record has another number of fields, or is a header row already.
    """
    if [f.strip().casefold() for f in first] == [n.casefold() for n in column_names]:
        raise DataError(
            f"{path} line 1: the file already has a header row ({', '.join(first)}); leave "
            "out --column-names."
        )
    if first and len(first) != len(column_names):
        raise DataError(
            f"{path} line 1: {len(first)} field(s), but --column-names gives "
            f"{len(column_names)} name(s); give one name per column."
        )


def diagnose_csv(path: Path, dialect: Dialect, *, has_header: bool, n_columns: int) -> DataError:
    """Find the first malformed record by reading the file with the csv module."""
    skip_header = has_header
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
                        f"{path} line {reader.line_num}: expected {n_columns} "
                        f"field{'s' if n_columns != 1 else ''}, found "
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
        return not_utf8_error(path)
    if n_records == 0:  # datasets refuses a header-only file ("corresponds to no data")
        return DataError(f"{path}: no data rows; give a file with at least one example.")
    return DataError(
        f"{path}: could not be parsed as {dialect.separator_name}-separated values; check the "
        "separator and quoting."
    )
