"""Uploaded batch files: every format read, every bad file one clear message naming the file."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from textclf.app.batch import read_upload, texts_from
from textclf.errors import DataError

LIMITS = {"max_bytes": 1 << 20, "max_rows": 1000}
FRAME = pd.DataFrame(
    {
        "id": ["1", "2", "3"],
        "review": ["good film", "", "bad plot, worse acting"],
        "stars": ["5", "3", "1"],
    }
)


def _bytes(fmt: str) -> bytes:
    if fmt == "csv":
        return FRAME.to_csv(index=False).encode()
    if fmt == "tsv":
        return FRAME.to_csv(index=False, sep="\t").encode()
    if fmt == "jsonl":
        return FRAME.to_json(orient="records", lines=True).encode()
    if fmt == "json":
        return FRAME.to_json(orient="records").encode()
    buf = io.BytesIO()
    FRAME.to_parquet(buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_each_format_is_read_and_the_text_column_suggested(fmt: str):
    table = read_upload(f"reviews.{fmt}", _bytes(fmt), **LIMITS)
    assert list(table.frame.columns) == ["id", "review", "stars"]
    assert len(table.frame) == 3
    # "review" is a known text-column name; numbers-only columns are not offered.
    assert table.suggested == "review"
    assert table.text_columns == ["review"]
    split = texts_from(table, "review")
    assert split.dataset["text"] == ["good film", "bad plot, worse acting"]
    assert split.dataset["row"] == [1, 3]
    assert split.skipped == {"empty_text": 1}


def test_plain_text_is_one_text_per_line_and_bom_is_fine():
    table = read_upload("notes.txt", "\ufefffirst text\n\nsecond text\n".encode(), **LIMITS)
    assert table.frame["text"].tolist() == ["first text", "second text"]
    csv = read_upload("x.csv", "\ufefftext,label\nhello,a\n".encode(), **LIMITS)
    assert list(csv.frame.columns) == ["text", "label"]


def test_without_a_known_name_the_longest_text_column_comes_first():
    data = b"title,body\nshort,a much longer piece of text here\nhi,another long body of text\n"
    table = read_upload("x.csv", data, **LIMITS)
    assert table.suggested == "body" and table.text_columns == ["body", "title"]


def test_na_like_values_are_texts():
    table = read_upload("x.csv", b"text\nNA\nnull\n", **LIMITS)
    assert texts_from(table, "text").dataset["text"] == ["NA", "null"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "u16.csv",
            "text\nhello\n".encode("utf-16"),
            r"u16\.csv: the file is UTF-16-encoded; re-save it as UTF-8",
        ),
        ("u16le.csv", "text\nhello\n".encode("utf-16-le"), r"UTF-16-encoded"),
        (
            "latin.csv",
            "text\nok\ncaf\xe9 au lait\n".encode("latin-1"),
            r"latin\.csv line 3: byte 0xe9 is not UTF-8.*Latin-1",
        ),
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"   \n\n", "the file is empty"),
        ("header.csv", b"text,label\n", "no data rows"),
        (
            "numbers.csv",
            b"id,score\n1,0.5\n2,1e3\n",
            r"no column holds text \(columns: id, score\)",
        ),
        (
            "ragged.csv",
            b"text,label\nok,a\ntoo,many,fields\n",
            r"ragged\.csv line 3: the commas do not line up",
        ),
        ("dupes.csv", b"text,text\na,b\n", r"duplicate column name\(s\) \['text'\]"),
        ("broken.jsonl", b'{"text": "a"}\n{"text": \n', r"broken\.jsonl line 2: broken JSON"),
        ("list.jsonl", b'{"text": "a"}\n[1, 2]\n', r"line 2: expected a JSON object per line"),
        ("bad.json", b'{"text": ', r"bad\.json line 1: not valid JSON"),
        ("bad.parquet", b"PAR1 not really", r"bad\.parquet: not a readable Parquet file"),
        ("binary.csv", b"text\n\x00\x01\x02\x03\x04\x05abc", "binary file"),
        ("data.xlsx", b"PK\x03\x04", r"unknown file type '\.xlsx'; upload one of"),
    ],
)
def test_bad_files_give_one_clear_message(name: str, data: bytes, message: str):
    with pytest.raises(DataError, match=message) as info:
        read_upload(name, data, **LIMITS)
    assert str(info.value).startswith(name)
    assert "Traceback" not in str(info.value)


def test_size_and_row_limits():
    data = b"text\n" + b"some text\n" * 20
    with pytest.raises(DataError, match=r"above the app's limit of .*textclf predict"):
        read_upload("big.csv", data, max_bytes=100, max_rows=1000)
    with pytest.raises(DataError, match="20 rows, above the app's limit of 10"):
        read_upload("long.csv", data, max_bytes=1 << 20, max_rows=10)
    assert len(read_upload("ok.csv", data, max_bytes=1 << 20, max_rows=20).frame) == 20


def test_all_empty_column_and_unknown_column():
    table = read_upload(
        "x.jsonl", b'{"text": "a", "note": ""}\n{"text": "b", "note": " "}\n', **LIMITS
    )
    with pytest.raises(DataError, match=r"x\.jsonl: every text in column 'note' is empty"):
        texts_from(table, "note")
    with pytest.raises(DataError, match="no column 'body'"):
        texts_from(table, "body")


def test_jsonl_non_string_values_become_text():
    data = "\n".join(json.dumps({"text": t}) for t in ["a", 5, None, "b"]).encode()
    table = read_upload("x.jsonl", data, **LIMITS)
    split = texts_from(table, "text")
    assert split.dataset["text"] == ["a", "5", "b"]
    assert split.dataset["row"] == [1, 2, 4]
