"""Tests for textclf.data.formats (and the other modules a streaming reader can share).

Reading whole files through ``read_split`` is tested in test_io.py; here the pieces are
called directly, as a reader that does not import ``datasets`` would call them.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from textclf.data.formats import detect_format, read_text_sample, sniff_dialect
from textclf.errors import DataError


def test_light_modules_import_neither_datasets_nor_pandas() -> None:
    # A fresh interpreter: this one has imported datasets long ago.
    code = (
        "import sys, textclf.data.formats, textclf.data.columns, textclf.data.cells; "
        "sys.exit(' '.join({'datasets', 'pandas', 'pyarrow'} & set(sys.modules)) or 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"imported: {result.stderr}"


def test_detect_format() -> None:
    assert detect_format(Path("a/train.TSV")) == "tsv"
    assert detect_format(Path("train.ndjson")) == "jsonl"
    assert detect_format(Path("train.txt"), "csv") == "csv"
    with pytest.raises(DataError, match=r"train\.txt: unknown file type '\.txt'"):
        detect_format(Path("train.txt"))


@pytest.mark.parametrize(
    ("name", "content", "column_names", "quoting", "expected"),
    [
        ("eu.csv", "text;score;label\nbon;4,5;pos\n", None, "auto", (";", csv.QUOTE_MINIMAL)),
        ("bare.csv", "a, b;pos\nc;neg\n", ("text", "label"), "auto", (";", csv.QUOTE_MINIMAL)),
        ("free.tsv", 'text\tlabel\n"quoted" start\tpos\n', None, "auto", ("\t", csv.QUOTE_NONE)),
        ("sheet.tsv", 'text\tlabel\n"a\ttab"\tpos\n', None, "auto", ("\t", csv.QUOTE_MINIMAL)),
        ("forced.tsv", 'text\tlabel\n"a"\tpos\n', None, "none", ("\t", csv.QUOTE_NONE)),
    ],
    ids=["semicolon-header", "semicolon-headerless", "iana-tsv", "spreadsheet-tsv", "forced"],
)
def test_sniff_dialect(
    tmp_path: Path,
    name: str,
    content: str,
    column_names: tuple[str, ...] | None,
    quoting: str,
    expected: tuple[str, int],
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    sample = read_text_sample(path)
    dialect = sniff_dialect(
        path, detect_format(path), sample, column_names=column_names, quoting=quoting
    )
    assert (dialect.delimiter, dialect.quoting) == expected


def test_compressed_files_are_read_by_their_inner_extension_and_magic(tmp_path: Path) -> None:
    import gzip

    from textclf.data.formats import data_stem, data_suffix

    assert detect_format(Path("train.csv.gz")) == "csv"
    assert detect_format(Path("dev.JSONL.xz")) == "jsonl"
    assert (data_suffix("a/test.tsv.bz2"), data_stem("a/test.tsv.bz2")) == (".tsv", "test")
    with pytest.raises(DataError, match=r"unknown file type '\(none\)'"):
        detect_format(Path("train.gz"))
    # A gzip saved without its .gz is still read: compression is found by the magic bytes.
    path = tmp_path / "train.csv"
    path.write_bytes(gzip.compress("text,label\ncafé,x\n".encode()))
    assert read_text_sample(path) == "text,label\ncafé,x\n"


def test_a_truncated_gzip_is_refused_before_any_row_is_read(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "train.csv.gz"
    rows = "".join(f"text number {i},label{i % 3}\n" for i in range(5000))
    path.write_bytes(gzip.compress(("text,label\n" + rows).encode())[:-200])
    with pytest.raises(DataError, match=r"train\.csv\.gz: the gzip data is damaged or cut short"):
        read_text_sample(path)


def test_a_compressed_non_utf8_file_gets_a_conversion_through_the_decompressor(
    tmp_path: Path,
) -> None:
    import gzip

    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress("text,label\ncafé au lait,x\n".encode("cp1252")))
    with pytest.raises(
        DataError, match=r"line 2: .*gzip -dc .*train\.csv\.gz \| iconv .*train-utf8\.csv"
    ):
        read_text_sample(path)
