"""Tests for the readers (textclf.data.io): every source and label format → canonical rows."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest

from textclf.config import DataConfig
from textclf.data.io import ColumnSpec, Split, read_label_names, read_split, split_from_lists
from textclf.errors import DataError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _rows(split: Split) -> list[tuple[int, str, list[str]]]:
    """(row, text, labels) per example, in order."""
    ds = split.dataset
    return list(zip(ds["row"], ds["text"], ds["labels"], strict=True))


# ---------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------

EXPECTED = [(1, "good film", ["pos"]), (2, "bad plot", ["neg"]), (3, "fine, really", ["pos"])]


def test_csv_with_rfc4180_quoting(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "train.csv",
        'text,label\ngood film,pos\nbad plot,neg\n"fine, really",pos\n',
    )
    split = read_split(path, ColumnSpec())
    assert _rows(split) == EXPECTED
    assert split.source == str(path)
    assert split.n_read == 3
    assert split.skipped == {}
    assert set(split.dataset.column_names) == {"row", "text", "labels"}


def test_csv_keeps_na_like_texts(tmp_path: Path) -> None:
    # "NA", "null" and "None" are words, not missing values.
    path = _write(tmp_path / "t.csv", "text,label\nNA,a\nnull,b\nNone,a\n")
    assert read_split(path, ColumnSpec()).dataset["text"] == ["NA", "null", "None"]


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    # A quote character in a TSV cell is part of the text (SST-2, GoEmotions style).
    path = _write(
        tmp_path / "train.tsv",
        'sentence\tlabel\n"quoted" start\tpos\na 5" screen\tneg\nends with "\tpos\n',
    )
    split = read_split(path, ColumnSpec())
    assert split.dataset["text"] == ['"quoted" start', 'a 5" screen', 'ends with "']
    assert split.dataset["labels"] == [["pos"], ["neg"], ["pos"]]


def test_jsonl(tmp_path: Path) -> None:
    lines = [
        {"text": "good film", "label": "pos"},
        {"text": "bad plot", "label": "neg"},
        {"text": "fine, really", "label": "pos"},
    ]
    path = _write(tmp_path / "train.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    assert _rows(read_split(path, ColumnSpec())) == EXPECTED


def test_json_list_of_objects(tmp_path: Path) -> None:
    obj = [
        {"text": "good film", "label": "pos"},
        {"text": "bad plot", "label": "neg"},
        {"text": "fine, really", "label": "pos"},
    ]
    path = _write(tmp_path / "train.json", json.dumps(obj, indent=2))
    assert _rows(read_split(path, ColumnSpec())) == EXPECTED


def test_json_that_is_not_a_list_of_objects(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.json", json.dumps({"text": "a", "label": "b"}))
    with pytest.raises(DataError, match=r"train\.json.*list of objects"):
        read_split(path, ColumnSpec())


def test_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["good film", "bad plot", "fine, really"], "label": [1, 0, 1]})
    path = tmp_path / "train.parquet"
    frame.to_parquet(path, index=False)
    split = read_split(path, ColumnSpec())
    # Integer labels without a names file become their decimal names.
    assert _rows(split) == [
        (1, "good film", ["1"]),
        (2, "bad plot", ["0"]),
        (3, "fine, really", ["1"]),
    ]


def test_dataframe() -> None:
    frame = pd.DataFrame({"text": ["good film", "bad plot", "fine, really"]})
    frame["label"] = ["pos", "neg", "pos"]
    split = read_split(frame, ColumnSpec())
    assert _rows(split) == EXPECTED
    assert split.source == "DataFrame"


def test_empty_dataframe_is_an_error() -> None:
    with pytest.raises(DataError, match="DataFrame is empty"):
        read_split(pd.DataFrame({"text": [], "label": []}), ColumnSpec())


def test_python_lists() -> None:
    split = split_from_lists(["good film", "bad plot", "fine, really"], ["pos", "neg", "pos"])
    assert _rows(split) == EXPECTED


def test_python_lists_of_label_lists() -> None:
    split = split_from_lists(["a", "b", "c"], [["x", "y"], [], ("y",)])
    assert split.dataset["labels"] == [["x", "y"], [], ["y"]]


def test_python_lists_of_integer_ids() -> None:
    split = split_from_lists(["a", "b", "c"], np.array([2, 0, 10]))
    assert split.dataset["labels"] == [["2"], ["0"], ["10"]]


def test_python_lists_without_labels() -> None:
    split = split_from_lists(["a", "b"], None, name="input")
    assert not split.labelled
    assert split.dataset["text"] == ["a", "b"]


def test_python_lists_of_different_lengths() -> None:
    with pytest.raises(DataError, match="2 texts but 3 labels"):
        split_from_lists(["a", "b"], ["x", "y", "z"])


def _hf_dataset() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"text": ["good film", "bad plot", "fine, really"], "label": ["pos", "neg", "pos"]}
    )


def test_datasets_dataset() -> None:
    split = read_split(_hf_dataset(), ColumnSpec())
    assert _rows(split) == EXPECTED
    assert split.source == "Dataset"


def test_datasets_dataset_dict_picks_the_split_by_name() -> None:
    other = datasets.Dataset.from_dict({"text": ["x", "y"], "label": ["a", "b"]})
    dd = datasets.DatasetDict({"train": _hf_dataset(), "test": other})
    assert _rows(read_split(dd, ColumnSpec(), name="train")) == EXPECTED
    assert read_split(dd, ColumnSpec(), name="test").dataset["text"] == ["x", "y"]


def test_datasets_dataset_dict_without_the_split() -> None:
    dd = datasets.DatasetDict({"train": _hf_dataset()})
    with pytest.raises(DataError, match=r"no 'validation' split.*\['train'\]"):
        read_split(dd, ColumnSpec(), name="validation")


def test_a_save_to_disk_folder_is_read_and_a_dict_folder_by_split(tmp_path: Path) -> None:
    _hf_dataset().save_to_disk(tmp_path / "one")
    split = read_split(tmp_path / "one", ColumnSpec())
    assert _rows(split) == EXPECTED and split.source == str(tmp_path / "one")
    other = datasets.Dataset.from_dict({"text": ["x", "y"], "label": ["a", "b"]})
    datasets.DatasetDict({"train": _hf_dataset(), "test": other}).save_to_disk(tmp_path / "dd")
    assert read_split(tmp_path / "dd", ColumnSpec(), name="test").dataset["text"] == ["x", "y"]
    with pytest.raises(
        DataError,
        match=rf"dd \(a DatasetDict\) has no 'validation' split \(it has \['train', 'test'\]\); "
        rf"give one of its split folders, e.g. {tmp_path / 'dd' / 'train'}\.$",
    ):
        read_split(tmp_path / "dd", ColumnSpec(), name="validation")


def test_unsupported_object() -> None:
    with pytest.raises(DataError, match="cannot read data from a int"):
        read_split(42, ColumnSpec())


def test_unknown_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.xlsx", "text,label\na,b\n")
    with pytest.raises(DataError, match=r"train\.xlsx: unknown file type '\.xlsx'"):
        read_split(path, ColumnSpec())


def test_forced_format_overrides_the_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.txt", "text,label\na,x\nb,y\n")
    split = read_split(path, ColumnSpec(file_format="csv"))
    assert split.dataset["labels"] == [["x"], ["y"]]


def test_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        read_split(tmp_path, ColumnSpec())


def test_hub_name_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        read_split("someone/some_dataset", ColumnSpec())
    message = str(info.value)
    assert message.startswith("someone/some_dataset:")
    assert "hub cannot be reached" in message
    # The original exception is chained for --debug, not shown in the message.
    assert info.value.__cause__ is not None


def test_missing_local_path_is_not_treated_as_a_hub_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_split(tmp_path / "nope.csv", ColumnSpec())


# ---------------------------------------------------------------------------------------
# Label formats
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names_text",
    [
        "neg\npos\nneutral\n",
        '["neg", "pos", "neutral"]',
        '{"1": "pos", "0": "neg", "2": "neutral"}',
    ],
    ids=["lines", "json-list", "json-object"],
)
def test_integer_ids_with_a_names_file(tmp_path: Path, names_text: str) -> None:
    names = _write(tmp_path / "labels.txt", names_text)
    data = _write(tmp_path / "train.csv", "text,label\na,1\nb,0\nc,2\nd,1\n")
    spec = ColumnSpec.from_config(DataConfig(label_names=str(names)))
    assert spec.label_names == ("neg", "pos", "neutral")
    split = read_split(data, spec)
    assert split.dataset["labels"] == [["pos"], ["neg"], ["neutral"], ["pos"]]


def test_integer_ids_in_jsonl_with_a_names_file(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "train.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": [0, 1]}\n'
    )
    split = read_split(data, ColumnSpec(label_names=("neg", "pos")))
    assert split.dataset["labels"] == [["pos"], ["neg", "pos"]]


def test_integer_id_outside_the_names_names_the_row(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,1\nb,5\n")
    with pytest.raises(DataError, match=r"train\.csv row 2: label id 5 is outside the 2 names"):
        read_split(data, ColumnSpec(label_names=("neg", "pos")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("neg\n\npos\n", "line 2: empty label name"),
        ('["neg", ', "not valid JSON"),
        ('{"0": "a", "2": "b"}', "without gaps"),
        ("[]", "JSON list"),
    ],
)
def test_bad_names_files(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "names.txt", text)
    with pytest.raises(DataError, match=message):
        read_label_names(path)


def test_missing_names_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="label-names file not found"):
        read_label_names(tmp_path / "nope.txt")


def test_json_list_labels_in_a_csv_cell(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "train.csv",
        'text,labels\na,"[""x"", ""y""]"\nb,"[""y""]"\nc,[]\nd,z\n',
    )
    split = read_split(data, ColumnSpec())
    assert split.dataset["labels"] == [["x", "y"], ["y"], [], ["z"]]


def test_broken_json_list_label_names_the_row(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", 'text,label\na,x\nb,"[""x"", ]"\n')
    with pytest.raises(DataError, match=r"train\.csv row 2: label .* not valid JSON"):
        read_split(data, ColumnSpec())


def test_separator_joined_labels(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,x|y\nb,y\nc,y|x|y\nd, x | z \n")
    split = read_split(data, ColumnSpec(label_separator="|"))
    # Order of first appearance is kept, duplicates dropped, whitespace stripped.
    assert split.dataset["labels"] == [["x", "y"], ["y"], ["y", "x"], ["x", "z"]]


def test_without_a_separator_a_joined_label_is_one_name(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,x|y\n")
    assert read_split(data, ColumnSpec()).dataset["labels"] == [["x|y"]]


def test_several_binary_label_columns(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "train.csv",
        "text,toxic,insult,threat\na,1,0,1\nb,0,0,0\nc,true,yes,0\n",
    )
    split = read_split(data, ColumnSpec(label_columns=("toxic", "insult", "threat")))
    assert split.dataset["labels"] == [["toxic", "threat"], [], ["toxic", "insult"]]


def test_label_column_with_a_non_binary_value_names_row_and_column(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,toxic,insult\na,1,0\nb,0,2\n")
    with pytest.raises(DataError, match=r"train\.csv row 2: label column 'insult' holds '2'"):
        read_split(data, ColumnSpec(label_columns=("toxic", "insult")))


def test_missing_label_columns(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,toxic\na,1\n")
    with pytest.raises(DataError, match=r"label columns \['insult'\] not found"):
        read_split(data, ColumnSpec(label_columns=("toxic", "insult")))


def test_missing_label_names_the_row(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,x\nb,y\nc,\n")
    with pytest.raises(DataError, match=r"train\.csv row 3: the 'label' value is missing"):
        read_split(data, ColumnSpec())


# ---------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------


def test_headerless_file_with_column_names(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.tsv", "pos\tgood film\nneg\tbad plot\n")
    spec = ColumnSpec(column_names=("label", "text"))
    split = read_split(data, spec)
    # Without a header the first line is data row 1.
    assert _rows(split) == [(1, "good film", ["pos"]), (2, "bad plot", ["neg"])]


def test_column_names_on_a_file_with_a_header_or_of_another_width_are_refused(
    tmp_path: Path,
) -> None:
    data = _write(tmp_path / "train.csv", "Text,Label\ngood film,pos\n")
    with pytest.raises(DataError, match=r"train\.csv line 1: the file already has a header row"):
        read_split(data, ColumnSpec(column_names=("text", "label")))
    with pytest.raises(DataError, match=r"line 1: 2 field\(s\), but --column-names gives 3"):
        read_split(data, ColumnSpec(column_names=("text", "label", "extra")))


def test_autodetected_columns(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "id,Review,Category\n7,good film,pos\n8,bad plot,neg\n")
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == ["good film", "bad plot"]
    assert split.dataset["labels"] == [["pos"], ["neg"]]


def test_explicit_columns_win_over_detection(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,body,label,gold\na,real a,x,y\nb,real b,x,z\n")
    split = read_split(data, ColumnSpec(text="body", label="gold", id_column="text"))
    assert split.dataset["text"] == ["real a", "real b"]
    assert split.dataset["labels"] == [["y"], ["z"]]
    assert split.dataset["id"] == ["a", "b"]


def test_no_text_column(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "words,label\na,x\n")
    with pytest.raises(DataError, match=r"train\.csv: no text column found.*'words'"):
        read_split(data, ColumnSpec())


def test_a_headerless_file_is_pointed_to_column_names(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.tsv", "match player goal\tsports\nstock market\tbusiness\n")
    with pytest.raises(DataError, match=r"no text column found.*give --column-names"):
        read_split(data, ColumnSpec())
    named = read_split(data, ColumnSpec(column_names=("text", "label")))
    assert named.dataset["text"] == ["match player goal", "stock market"]
    with pytest.raises(DataError) as info:  # a JSON Lines file has no header row to blame
        read_split(_write(tmp_path / "t.jsonl", '{"words": "a", "label": "x"}\n'), ColumnSpec())
    assert "--column-names" not in str(info.value)


def test_named_text_column_absent(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,x\n")
    with pytest.raises(DataError, match=r"no text column 'body'"):
        read_split(data, ColumnSpec(text="body"))


def test_unlabelled_input_needs_no_label_column(tmp_path: Path) -> None:
    data = _write(tmp_path / "input.csv", "text\na\nb\n")
    split = read_split(data, ColumnSpec(), name="input", require_labels=False)
    assert not split.labelled
    assert split.dataset["row"] == [1, 2]


def test_duplicate_header_names(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label,text\na,x,b\n")
    with pytest.raises(DataError, match=r"line 1: duplicate column name"):
        read_split(data, ColumnSpec())


# ---------------------------------------------------------------------------------------
# Row numbers and skipped rows
# ---------------------------------------------------------------------------------------


def test_empty_texts_are_skipped_counted_and_rows_kept(tmp_path: Path) -> None:
    # Rows 2 and 4 (file lines 3 and 5) are empty or whitespace; their labels are not read.
    data = _write(tmp_path / "train.csv", "text,label\na,x\n   ,\nb,y\n\t,x\nc,x\n")
    split = read_split(data, ColumnSpec())
    assert _rows(split) == [(1, "a", ["x"]), (3, "b", ["y"]), (5, "c", ["x"])]
    assert split.n_read == 5
    assert len(split) == 3
    assert split.skipped == {"empty_text": 2}
    assert split.skipped_rows == {"empty_text": [2, 4]}


@pytest.mark.parametrize("where", ["start", "end"])
def test_empty_texts_at_either_end(tmp_path: Path, where: str) -> None:
    # The kept rows form one contiguous block here, which takes a different select() path.
    body = ["a,x", "b,y", "c,x"]
    body = [" ,x", *body] if where == "start" else [*body, " ,x"]
    data = _write(tmp_path / "train.csv", "text,label\n" + "\n".join(body) + "\n")
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == ["a", "b", "c"]
    assert split.dataset["row"] == ([2, 3, 4] if where == "start" else [1, 2, 3])
    assert split.skipped_rows == {"empty_text": [1] if where == "start" else [4]}


def test_empty_texts_in_lists_are_skipped_and_counted() -> None:
    split = split_from_lists(["a", "", "b", " "], ["x", "y", "y", "x"])
    assert split.dataset["row"] == [1, 3]
    assert split.skipped == {"empty_text": 2}
    assert split.skipped_rows == {"empty_text": [2, 4]}


def test_empty_texts_in_a_dataframe() -> None:
    frame = pd.DataFrame({"text": ["a", None, "b"], "label": ["x", "y", "y"]})
    split = read_split(frame, ColumnSpec())
    assert split.dataset["row"] == [1, 3]
    assert split.skipped_rows == {"empty_text": [2]}


def test_rows_survive_many_chunks(tmp_path: Path) -> None:
    # More rows than one Arrow batch (1000), with empty texts spread over several batches.
    n = 2500
    lines = ["text,label"] + [
        (" ," if i % 997 == 0 else f"t{i},") + ("x" if i % 2 else "y") for i in range(1, n + 1)
    ]
    data = _write(tmp_path / "train.csv", "\n".join(lines) + "\n")
    split = read_split(data, ColumnSpec())
    assert split.skipped_rows == {"empty_text": [997, 1994]}
    rows = split.dataset["row"]
    assert rows == [i for i in range(1, n + 1) if i % 997]
    # Each kept text still sits beside its own row number.
    assert all(t == f"t{r}" for r, t in zip(rows, split.dataset["text"], strict=True))


# ---------------------------------------------------------------------------------------
# Malformed files (the CLI suite checks the same through `textclf train`)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "train.csv",
            "text,label\n ,x\n\t,y\n",
            r"train\.csv: every text in column 'text' is empty",
            id="only_empty_texts",
        ),
        pytest.param("train.csv", "text,label\n", r"train\.csv: no data rows", id="header_only"),
        pytest.param(
            "train.jsonl",
            '{"text": "a", "label": "x"}\n\n{"text": "b", \n',
            r"train\.jsonl line 3: broken JSON",
            id="broken_jsonl_line",
        ),
        pytest.param(
            "train.jsonl",
            '{"text": "a", "label": "x"}\n["b", "y"]\n',
            r"line 2: expected a JSON object per line, found an array",
            id="jsonl_line_not_an_object",
        ),
        pytest.param(
            "train.csv",
            "text,label\na,x\nb,y\nc,x,extra\n",
            r"train\.csv line 4: expected 2 fields, found 3",
            id="csv_row_with_too_many_fields",
        ),
    ],
)
def test_malformed_file_is_named(tmp_path: Path, name: str, content: str, message: str) -> None:
    data = _write(tmp_path / name, content)
    with pytest.raises(DataError, match=message):
        read_split(data, ColumnSpec())


def test_non_utf8_file(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_bytes("text,label\ncafé,x\n".encode("latin-1"))
    # byte 14: "text,label\n" is 11 bytes, "caf" 3 more, then é as the single byte 0xE9.
    with pytest.raises(DataError) as err:
        read_split(data, ColumnSpec())
    message = str(err.value)
    assert message.startswith(f"{data} line 2: byte 14 (0xE9) is not UTF-8")
    assert f"iconv -f CP1252 -t UTF-8 {data} > {tmp_path / 'train-utf8.csv'}" in message


def test_binary_and_empty_files(tmp_path: Path) -> None:
    binary = tmp_path / "a.csv"
    binary.write_bytes(b"text,label\n\x00\x01\x02")
    empty = tmp_path / "b.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"a\.csv: this is a binary file"):
        read_split(binary, ColumnSpec())
    with pytest.raises(DataError, match=r"b\.csv: the file is empty"):
        read_split(empty, ColumnSpec())


# ---------------------------------------------------------------------------------------
# Files as spreadsheets and other tools export them
# ---------------------------------------------------------------------------------------

# Texts that need quoting: a separator, a quote, a newline (as typed into a cell).
SPREADSHEET_ROWS = [
    ("fine, really", "pos"),
    ('he said "meh"; left', "neg"),
    ("two\nlines", "pos"),
    ("plain", "neg"),
]


def _spreadsheet_csv(sep: str, newline: str, bom: bool) -> bytes:
    """A file as Excel, LibreOffice or Google Sheets writes it (RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=newline)
    writer.writerow(["text", "label"])
    writer.writerows(SPREADSHEET_ROWS)
    # Excel writes a newline inside a cell as LF even in a CRLF file.
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    ("sep", "newline", "bom"),
    [
        (",", "\r\n", True),  # Excel "CSV UTF-8"
        (",", "\n", False),  # LibreOffice
        (",", "\r\n", False),  # Google Sheets
        (";", "\r\n", True),  # Excel with a decimal-comma locale
        (";", "\n", False),  # LibreOffice, European
    ],
    ids=["excel-utf8", "libreoffice", "google-sheets", "excel-european", "libreoffice-european"],
)
def test_spreadsheet_csv_exports(tmp_path: Path, sep: str, newline: str, bom: bool) -> None:
    data = tmp_path / "export.csv"
    data.write_bytes(_spreadsheet_csv(sep, newline, bom))
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == [t for t, _ in SPREADSHEET_ROWS]
    assert split.dataset["labels"] == [[lab] for _, lab in SPREADSHEET_ROWS]
    assert split.dataset["row"] == [1, 2, 3, 4]


def test_bom_and_crlf_csv_with_quoted_commas(tmp_path: Path) -> None:
    # The file of issue 10, once refused as "could not be parsed as CSV".
    data = tmp_path / "excel.csv"
    rows = "".join(f'"good, text number {i}",{"pos" if i % 2 else "neg"}\r\n' for i in range(6))
    data.write_bytes(b"\xef\xbb\xbftext,label\r\n" + rows.encode("utf-8"))
    split = read_split(data, ColumnSpec(text="text", label="label"))
    assert split.dataset["text"][0] == "good, text number 0"
    assert split.dataset["labels"][:2] == [["neg"], ["pos"]]


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    data = _write(tmp_path / "eu.csv", "text;score;label\nbon produit;4,5;pos\nnul;1,0;neg\n")
    split = read_split(data, ColumnSpec())
    assert _rows(split) == [(1, "bon produit", ["pos"]), (2, "nul", ["neg"])]


def test_headerless_semicolon_csv(tmp_path: Path) -> None:
    data = _write(tmp_path / "eu.csv", "bon produit, vraiment;pos\nnul;neg\n")
    split = read_split(data, ColumnSpec(column_names=("text", "label")))
    assert split.dataset["text"] == ["bon produit, vraiment", "nul"]


def test_tsv_with_spreadsheet_quoting(tmp_path: Path) -> None:
    # LibreOffice and Excel quote a cell that holds a tab, a newline or a quote.
    data = tmp_path / "export.tsv"
    data.write_bytes(
        b'text\tlabel\r\n"a\ttab"\tpos\r\n"two\nlines"\tneg\r\n"say ""hi"""\tpos\r\nplain\tneg\r\n'
    )
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == ["a\ttab", "two\nlines", 'say "hi"', "plain"]
    assert split.dataset["labels"] == [["pos"], ["neg"], ["pos"], ["neg"]]


def test_tsv_quoting_can_be_forced_off(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.tsv", 'text\tlabel\n"whole"\tpos\n')
    assert read_split(data, ColumnSpec()).dataset["text"] == ["whole"]
    assert read_split(data, ColumnSpec(quoting="none")).dataset["text"] == ['"whole"']


def test_jsonl_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    lines = [json.dumps({"text": t, "label": lab}) for t, lab in SPREADSHEET_ROWS]
    data.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n\n  \n")
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == [t for t, _ in SPREADSHEET_ROWS]
    assert split.n_read == 4


def test_broken_jsonl_after_a_bom_names_its_line(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    with pytest.raises(DataError, match=r"train\.jsonl line 2: broken JSON"):
        read_split(data, ColumnSpec())


def test_an_unterminated_jsonl_object_is_placed_at_the_end_of_its_line(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.jsonl", '{"text": "a"}\n{"text": "b"\n{"text": "c"}\n')
    with pytest.raises(DataError) as info:
        read_split(data, ColumnSpec(), require_labels=False)
    assert "line 2: broken JSON (Expecting ',' delimiter at column 13)" in str(info.value)


def test_a_raw_control_character_in_jsonl_is_named_once(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.jsonl", '{"text": "a\tb", "label": "x"}\n')
    with pytest.raises(DataError) as info:
        read_split(data, ColumnSpec())
    assert "line 1: broken JSON (Invalid control character at column" in str(info.value)


def test_json_document_with_a_bom(tmp_path: Path) -> None:
    data = tmp_path / "train.json"
    data.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"text": "a", "label": "x"}]).encode())
    assert read_split(data, ColumnSpec()).dataset["text"] == ["a"]


def test_jsonl_with_mixed_value_types(tmp_path: Path) -> None:
    # pyarrow wants one type per key; ids and names, texts and numbers are common mixes.
    data = _write(
        tmp_path / "train.jsonl",
        '{"text": 5, "label": 1}\n{"text": "b", "label": "x"}\n{"text": "c", "label": ["x", 2]}\n',
    )
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == ["5", "b", "c"]
    assert split.dataset["labels"] == [["1"], ["x"], ["x", "2"]]


def test_jsonl_text_that_is_an_object_names_the_row(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "t.jsonl", '{"text": "a", "label": "x"}\n{"text": {"a": 1}, "label": "y"}\n'
    )
    with pytest.raises(DataError, match=r"t\.jsonl row 2: the 'text' value is a JSON object"):
        read_split(data, ColumnSpec())


def test_blank_header_cell_is_named_like_pandas(tmp_path: Path) -> None:
    # DataFrame.to_csv() writes its index under an empty header.
    data = _write(tmp_path / "t.csv", ",text,label\n0,a,x\n1,b,y\n")
    split = read_split(data, ColumnSpec())
    assert split.dataset["text"] == ["a", "b"]


# ---------------------------------------------------------------------------------------
# Encodings and files that are not text
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codec", "named"),
    [
        ("“Smart quotes” — señor número", "cp1252", "CP1252"),
        ("Zażółć gęślą jaźń, łódź", "cp1250", "CP1250"),
        ("Привет, как дела у тебя сегодня", "cp1251", "CP1251"),
    ],
    ids=["cp1252", "cp1250", "cp1251"],
)
def test_legacy_encodings_are_refused_with_the_command(
    tmp_path: Path, text: str, codec: str, named: str
) -> None:
    data = tmp_path / "legacy.csv"
    data.write_bytes(("text,label\n" + f"{text},x\n" * 20).encode(codec))
    with pytest.raises(DataError) as err:
        read_split(data, ColumnSpec())
    message = str(err.value)
    assert message.startswith(f"{data} line 2: byte ")
    assert f"looks like {named} text" in message
    assert f"iconv -f {named} -t UTF-8 {data} > {tmp_path / 'legacy-utf8.csv'}" in message
    assert "\n" not in message


def test_non_utf8_byte_after_the_sniffed_head_names_its_line(tmp_path: Path) -> None:
    lines = [f"text number {i},{'ab'[i % 2]}" for i in range(5000)]  # > 64 KiB
    lines[4000] = "café,a"
    data = tmp_path / "late.csv"
    data.write_bytes(("text,label\n" + "\n".join(lines) + "\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"late\.csv line 4002: byte \d+ \(0xE9\) is not UTF-8"):
        read_split(data, ColumnSpec())


def test_utf16_is_refused_with_the_command(tmp_path: Path) -> None:
    data = tmp_path / "unicode.tsv"
    data.write_bytes("text\tlabel\nhello\tx\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"unicode\.tsv: the file is UTF-16 text .*iconv -f UTF-16"):
        read_split(data, ColumnSpec())


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(1, 200)), "a PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"[Content_Types].xml" * 3, "a ZIP archive"),
        (random.Random(0).randbytes(3000).replace(b"\x00", b"\x01"), "binary file"),
        (bytes(b & 0x7F or 1 for b in random.Random(1).randbytes(3000)), "binary file"),
    ],
    ids=["png", "xlsx", "random-bytes", "random-ascii"],
)
def test_files_that_are_not_text_say_so(tmp_path: Path, content: bytes, says: str) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_split(data, ColumnSpec())
    assert str(err.value).startswith(f"{data}: this is ")
    assert says in str(err.value)
    assert "no data rows" not in str(err.value)


# ---------------------------------------------------------------------------------------
# Progress bars
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [True, False], ids=["read", "refused"])
def test_reading_prints_no_progress_bar_and_restores_the_setting(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], good: bool
) -> None:
    if datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is not None:
        pytest.skip("HF_DATASETS_DISABLE_PROGRESS_BARS is set: the bars cannot be switched")
    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.enable_progress_bars()
    data = _write(tmp_path / "t.csv", "text,label\na,x\nb,y\n" if good else "text,label\na,x\nb,\n")
    try:
        read_split(data, ColumnSpec())
    except DataError:
        assert not good
    finally:
        still_enabled = not datasets.utils.are_progress_bars_disabled()
        if was_disabled:
            datasets.disable_progress_bars()
    captured = capfd.readouterr()
    assert "Generating" not in captured.err + captured.out
    assert "Reading train" not in captured.err + captured.out
    assert still_enabled


# ---------------------------------------------------------------------------------------
# Empty label cells: "no labels" versus "missing" (the rule in the module docstring)
# ---------------------------------------------------------------------------------------


def test_with_a_separator_a_blank_cell_is_the_empty_set(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.csv", "text,label\na,x|y\nb,\nc,  \nd,y\n")
    split = read_split(data, ColumnSpec(label_separator="|"))
    assert split.dataset["labels"] == [["x", "y"], [], [], ["y"]]
    assert split.label_sets


def test_with_a_separator_an_absent_field_is_still_missing(tmp_path: Path) -> None:
    # "b," is an empty cell; "b" alone has no label field at all.
    data = _write(
        tmp_path / "t.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": null}\n'
    )
    with pytest.raises(DataError, match=r"t\.jsonl row 2: the 'label' value is missing"):
        read_split(data, ColumnSpec(label_separator="|"))


def test_empty_json_list_is_the_empty_set_in_every_format(tmp_path: Path) -> None:
    csv_file = _write(tmp_path / "t.csv", 'text,label\na,"[""x""]"\nb,[]\n')
    tsv_file = _write(tmp_path / "t.tsv", 'text\tlabel\na\t["x"]\nb\t[]\n')
    jsonl_file = _write(
        tmp_path / "t.jsonl", '{"text": "a", "label": ["x"]}\n{"text": "b", "label": []}\n'
    )
    parquet_file = tmp_path / "t.parquet"
    pd.DataFrame({"text": ["a", "b"], "label": [["x"], []]}).to_parquet(parquet_file)
    for path in (csv_file, tsv_file, jsonl_file, parquet_file):
        split = read_split(path, ColumnSpec())
        assert split.dataset["labels"] == [["x"], []], path
        assert split.label_sets, path


def test_without_a_separator_a_blank_cell_is_missing_and_the_fix_says_so(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.csv", 'text,label\na,"[""x""]"\nb,\n')
    with pytest.raises(DataError) as err:
        read_split(data, ColumnSpec())
    message = str(err.value)
    assert message.startswith(f"{data} row 2: the 'label' value is missing")
    assert "write [] for a multi-label example with no labels" in message


def test_plain_names_are_not_label_sets(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.csv", "text,label\na,x\nb,y\n")
    assert not read_split(data, ColumnSpec()).label_sets


def test_a_stray_one_name_list_among_names_is_single_label_and_noted(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "xy"[i % 2]} for i in range(6)]
    rows[4]["label"] = ["x"]
    stray = _write(tmp_path / "s.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    split = read_split(stray, ColumnSpec())
    assert not split.label_sets and split.dataset["labels"][4] == ["x"]
    assert split.stray_lists is not None and split.stray_lists[1] == 1
    assert "1 label cell(s) hold a one-name list (first: row 5) among 5" in split.stray_lists[0]
    # A list of two names, or an empty one, among names: multi-label data, nothing to say.
    for other in (["x", "y"], []):
        rows[4]["label"] = other
        path = _write(tmp_path / "m.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        split = read_split(path, ColumnSpec())
        assert split.label_sets and split.stray_lists is None


def test_nested_label_lists_name_the_row(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "t.jsonl", '{"text": "a", "label": ["x"]}\n{"text": "b", "label": [["x"]]}\n'
    )
    with pytest.raises(DataError, match=r"t\.jsonl row 2: label .* is a nested list or object"):
        read_split(data, ColumnSpec())


def test_rows_with_one_field_more_than_the_header_are_refused(tmp_path: Path) -> None:
    # pandas would make the first column its index and shift every value one column left.
    data = _write(tmp_path / "t.csv", "text,label\nhello,x,1\nbye,y,2\n")
    with pytest.raises(DataError, match=r"t\.csv line 2: expected 2 fields, found 3"):
        read_split(data, ColumnSpec())


def test_an_unquoted_comma_in_a_one_column_file_is_named_in_the_singular(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.csv", "text\nhello, world\n")
    with pytest.raises(DataError, match=r"t\.csv line 2: expected 1 field, found 2; quote"):
        read_split(data, ColumnSpec(), require_labels=False)


def test_jsonl_null_line_is_refused_not_a_crash(tmp_path: Path) -> None:
    # pyarrow 25's JSON reader dies with SIGSEGV on this file (apache/arrow#47409).
    data = _write(tmp_path / "t.jsonl", 'null\n{"text": "a", "label": "x"}\n')
    with pytest.raises(
        DataError, match=r"t\.jsonl line 1: expected a JSON object per line, found null"
    ):
        read_split(data, ColumnSpec())


def test_jsonl_label_lists_with_nulls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # pyarrow builds invalid list arrays from leading nulls (apache/arrow#51305).
    data = _write(
        tmp_path / "t.jsonl",
        '{"text": "a", "label": [null, "x"]}\n{"text": "b", "label": ["y", null, "x"]}\n',
    )
    with caplog.at_level("WARNING", logger="textclf.data.io"):
        split = read_split(data, ColumnSpec())
    assert "2 missing entries (null or NaN) inside label lists were ignored" in caplog.text
    assert split.dataset["labels"] == [["x"], ["y", "x"]]
    # Ignored, but counted and reported with the first row.
    assert split.null_items is not None
    message, count = split.null_items
    assert count == 2 and "2 missing entries" in message and "(first: row 1)" in message
    from textclf.data.validate import validate_splits

    codes = [f.code for f in validate_splits({"train": split}, None).findings]
    assert "null_label_items" in codes


def test_a_mistyped_column_name_gets_the_nearest_column(tmp_path: Path) -> None:
    data = _write(tmp_path / "t.csv", "sentence,label\na,x\n")
    with pytest.raises(DataError) as info:
        read_split(data, ColumnSpec(text="sentense"))
    assert "no text column 'sentense'; did you mean 'sentence'?" in str(info.value)
    assert "--text-column" in str(info.value)


def test_a_gzipped_csv_reads_as_the_plain_file(tmp_path: Path) -> None:
    import gzip

    content = "text,label\nfirst text,a\nsecond text,b\n"
    plain = _write(tmp_path / "train.csv", content)
    packed = tmp_path / "train.csv.gz"
    packed.write_bytes(gzip.compress(content.encode()))
    a, b = read_split(str(plain), ColumnSpec()), read_split(str(packed), ColumnSpec())
    assert b.dataset.to_dict() == a.dataset.to_dict()
    assert b.dataset["labels"] == [["a"], ["b"]]


def test_a_list_among_texts_in_json_lines_is_refused_with_its_row(tmp_path: Path) -> None:
    # A column mixing text and lists is stored as JSON text (which the label parser reads
    # back); as the text column, the list would be classified as '["a", "b"]'.
    path = _write(
        tmp_path / "mixed.jsonl",
        '{"text": "one", "label": "x"}\n\n{"text": ["a", "b"], "label": "y"}\n'
        '{"text": "three", "label": ["x", "y"]}\n',
    )
    with pytest.raises(DataError, match=r"mixed\.jsonl row 2: the 'text' value is a list"):
        read_split(str(path), ColumnSpec())
    # The same mix in the label column is a label list, as before.
    path.write_text(
        '{"text": "one", "label": "x"}\n{"text": "two", "label": ["x", "y"]}\n', encoding="utf-8"
    )
    assert read_split(str(path), ColumnSpec()).dataset["labels"] == [["x"], ["x", "y"]]
