"""One prediction record for predict, eval/predictions.jsonl, the app and the server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError
from textclf.inference.records import prediction_records, write_predictions


def test_single_label_records_carry_row_text_label_scores_and_top_k():
    space = LabelSpace("multiclass", ("a", "b", "c"))
    proba = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    recs = prediction_records(
        proba, np.array([1, -1]), space, texts=["x", "y"], rows=[3, 4], top_k=2
    )
    assert recs[0] == {
        "row": 3,
        "text": "x",
        "label": "b",
        "scores": {"a": 0.1, "b": 0.7, "c": 0.2},
        "top_k": [{"label": "b", "score": 0.7}, {"label": "c", "score": 0.2}],
    }
    assert recs[1]["label"] is None  # abstained


def test_multilabel_records_list_every_decided_label_and_keep_ids():
    space = LabelSpace("multilabel", ("a", "b"))
    recs = prediction_records(
        np.array([[0.9, 0.8]]), np.array([[1, 1]]), space, ids=["T-1"], true=[["a"]]
    )
    assert recs == [
        {"row": 0, "id": "T-1", "labels": ["a", "b"], "scores": {"a": 0.9, "b": 0.8}, "true": ["a"]}
    ]


def test_written_files_round_trip(tmp_path: Path):
    space = LabelSpace("multilabel", ("a", "b"))
    recs = prediction_records(np.array([[0.9, 0.1]]), np.array([[1, 0]]), space, texts=["t"])
    jsonl = write_predictions(tmp_path / "p.jsonl", recs, space.labels)
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == recs
    assert (
        json.loads(write_predictions(tmp_path / "p.json", recs, space.labels).read_text()) == recs
    )
    assert json.loads(write_predictions(tmp_path / "e.json", [], space.labels).read_text()) == []
    table = pd.read_csv(write_predictions(tmp_path / "p.csv", recs, space.labels))
    assert table.loc[0, "labels"] == "a" and table.loc[0, "score_b"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="unknown output type"):
        write_predictions(tmp_path / "p.xlsx", recs, space.labels)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_table_with_no_rows_still_names_the_columns_of_its_records(suffix):
    import io

    from textclf.inference.records import PredictionWriter

    space = LabelSpace("multiclass", ("a", "b"))
    example = prediction_records(np.array([[0.4, 0.6]]), np.array([1]), space, texts=["x"])[0]
    empty, full = io.StringIO(), io.StringIO()
    PredictionWriter(empty, suffix, space.labels).write_header(example)
    writer = PredictionWriter(full, suffix, space.labels)
    writer.write([example])
    writer.write_header(example)  # a started table keeps its header: no second one
    if suffix == ".jsonl":
        assert empty.getvalue() == "" and len(full.getvalue().splitlines()) == 1
    else:
        header, _row = full.getvalue().splitlines()
        assert empty.getvalue().splitlines() == [header]
        assert header.split("\t" if suffix == ".tsv" else ",") == [
            "row",
            "text",
            "label",
            "score_a",
            "score_b",
        ]
