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
