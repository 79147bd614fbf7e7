"""The streaming reader gives the rows read_split gives, and hands anything unusual to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textclf.data import io as data_io
from textclf.errors import DataError
from textclf.inference.reader import (
    TEXT_CANDIDATES,
    InputColumns,
    InputStats,
    NeedsFullReader,
    split_rows,
    stream_rows,
)


def _rows(chunks) -> list[tuple[int, str, str | None]]:
    out = []
    for c in chunks:
        ids = c.ids or [None] * len(c)
        out.extend(zip(c.rows, c.texts, ids, strict=True))
    return out


def _both(path: Path, spec: InputColumns, chunk_rows: int = 2):
    fast, ref = InputStats(), InputStats()
    streamed = _rows(stream_rows(path, spec, chunk_rows=chunk_rows, stats=fast))
    reference = _rows(split_rows(path, spec, chunk_rows=chunk_rows, stats=ref))
    return streamed, reference, fast, ref


def test_text_candidates_are_the_data_readers():
    assert TEXT_CANDIDATES == data_io.TEXT_CANDIDATES


CASES = {
    "quoted.csv": (
        '\ufeffid,text,label\n1,"a, quoted ""text""",x\n2,"two\nlines",y\n\n3,   ,x\n'
        "4,NA,y\n5,007,x\r\n6,null,x\n",
        InputColumns(id_column="id"),
    ),
    "semicolon.csv": ("Body;label\nfirst; one\nsecond;two\n", InputColumns()),
    "blank_header_cell.csv": (",Text\n0,alpha\n1,beta\n", InputColumns()),
    "plain.tsv": ('sentence\tlabel\nit "quotes" freely\t1\nsecond one\t0\n', InputColumns()),
    "quoted.tsv": ('text\tlabel\n"has\ta tab"\t1\nplain\t0\n', InputColumns()),
    "headless.tsv": (
        "first text\t1\tc1\nsecond text\t0\tc2\n",
        InputColumns(column_names=("text", "label", "cid"), id_column="cid"),
    ),
    "records.jsonl": (
        '\ufeff{"text": "one", "id": 7}\n\n{"text": "", "id": 8}\n{"id": 9}\n'
        '{"text": "four", "id": null, "extra": [1, 2]}\n',
        InputColumns(id_column="id"),
    ),
    "other_key.jsonl": ('{"Utterance": "hi there"}\n{"Utterance": "bye"}\n', InputColumns()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_streamed_rows_equal_read_split_rows(tmp_path: Path, name: str):
    content, spec = CASES[name]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    streamed, reference, fast, ref = _both(path, spec)
    assert fast.reader == "stream"
    assert streamed == reference
    assert fast.skipped_rows == ref.skipped_rows and fast.n_read == ref.n_read


UNUSUAL = {
    "ragged.csv": "text,label\na,b\nc,d,e\n",
    "unclosed.csv": 'text,label\n"never closed,b\n',
    "latin1.csv": "text,label\ncaf\xe9,b\n".encode("latin-1"),
    "numbers.jsonl": '{"text": 5}\n{"text": "six"}\n',
    "broken.jsonl": '{"text": "a"}\n{"text": \n',
    "late_text_key.jsonl": '{"query": "a"}\n{"text": "b", "query": "c"}\n',
    "no_text.csv": "label,other\na,b\n",
    "all_empty.csv": "text,label\n ,a\n,b\n",
    "data.json": '[{"text": "a"}]',
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_anything_unusual_goes_to_read_split(tmp_path: Path, name: str):
    content = UNUSUAL[name]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(NeedsFullReader):
        list(stream_rows(path, InputColumns(), chunk_rows=1, stats=InputStats()))
    try:
        list(split_rows(path, InputColumns(), stats=InputStats()))
    except DataError as e:  # the reference reader's one-line error names the file
        assert str(path) in str(e)


def test_column_names_on_a_header_row_go_to_read_split_which_refuses_them(tmp_path: Path):
    # The fast reader would otherwise predict the header line as a text.
    path = tmp_path / "named_header.csv"
    path.write_text("text,label\na,b\n", encoding="utf-8")
    spec = InputColumns(column_names=("text", "label"))
    with pytest.raises(NeedsFullReader):
        list(stream_rows(path, spec, chunk_rows=1, stats=InputStats()))
    with pytest.raises(DataError, match="already has a header row"):
        list(split_rows(path, spec, stats=InputStats()))


def test_chunks_hold_at_most_chunk_rows(tmp_path: Path):
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(25)))
    chunks = list(stream_rows(path, InputColumns(), chunk_rows=10, stats=InputStats()))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [r for c in chunks for r in c.rows] == list(range(1, 26))


@pytest.mark.parametrize("name", ["quoted.csv.gz", "records.jsonl.bz2", "plain.tsv.xz"])
def test_compressed_files_stream_the_rows_of_the_plain_file(tmp_path: Path, name: str):
    import bz2
    import gzip
    import lzma

    plain_name, suffix = name.rsplit(".", 1)
    content, spec = CASES[plain_name]
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[suffix]
    plain, packed = tmp_path / plain_name, tmp_path / name
    plain.write_text(content, encoding="utf-8", newline="")
    with opener(packed, "wb") as f:
        f.write(plain.read_bytes())
    streamed, reference, fast, _ = _both(packed, spec)
    assert fast.reader == "stream"
    assert streamed == reference == _both(plain, spec)[0]
