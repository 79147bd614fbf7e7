"""Tests for the readers (textclf.data.io): every source and label format → canonical rows."""

from __future__ import annotations

import json
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


def test_only_empty_texts_is_an_error(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\n ,x\n\t,y\n")
    with pytest.raises(DataError, match=r"train\.csv: every text in column 'text' is empty"):
        read_split(data, ColumnSpec())


def test_header_only_is_an_error(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\n")
    with pytest.raises(DataError, match=r"train\.csv: no data rows"):
        read_split(data, ColumnSpec())


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


def test_broken_jsonl_line_is_named(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", \n')
    with pytest.raises(DataError, match=r"train\.jsonl line 3: broken JSON"):
        read_split(data, ColumnSpec())


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n')
    with pytest.raises(DataError, match=r"line 2: expected a JSON object per line, found list"):
        read_split(data, ColumnSpec())


def test_csv_row_with_too_many_fields_is_named(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.csv", "text,label\na,x\nb,y\nc,x,extra\n")
    with pytest.raises(DataError, match=r"train\.csv line 4: expected 2 fields, found 3"):
        read_split(data, ColumnSpec())


def test_non_utf8_file(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_bytes("text,label\ncafé,x\n".encode("latin-1"))
    # byte 14: "text,label\n" is 11 bytes, "caf" 3 more, then é as the single byte 0xE9.
    with pytest.raises(DataError, match=r"train\.csv: byte 14 is not UTF-8"):
        read_split(data, ColumnSpec())


def test_binary_and_empty_files(tmp_path: Path) -> None:
    binary = tmp_path / "a.csv"
    binary.write_bytes(b"text,label\n\x00\x01\x02")
    empty = tmp_path / "b.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"a\.csv: this is a binary file"):
        read_split(binary, ColumnSpec())
    with pytest.raises(DataError, match=r"b\.csv: the file is empty"):
        read_split(empty, ColumnSpec())
