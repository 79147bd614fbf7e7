"""Decisions under adjustable thresholds, result tables, filters and downloads (no Streamlit)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from textclf.app.history import history_csv, history_frame, history_jsonl, search_history
from textclf.app.predictions import (
    NO_LABEL,
    BatchRun,
    Prediction,
    confidence,
    decided_labels,
    filter_results,
    results_csv,
    results_frame,
    results_jsonl,
    saved_thresholds,
    top_k,
)
from textclf.app.render import chips_html, score_bars_html
from textclf.data.labels import LabelSpace
from textclf.evaluation.decision import DecisionRule, decide
from textclf.inference.records import prediction_records
from textclf.persistence import ModelInfo

LABELS = ["a", "b", "c"]
PROBA = np.array([[0.2, 0.7, 0.6], [0.1, 0.2, 0.3], [0.9, 0.05, 0.05]])


@pytest.mark.parametrize(
    ("task", "thresholds", "expected"),
    [
        ("multilabel", [0.5, 0.5, 0.5], [["b", "c"], [], ["a"]]),
        ("multilabel", [0.5, 0.8, 0.5], [["c"], [], ["a"]]),
        ("multilabel", [0.15, 0.15, 0.15], [["a", "b", "c"], ["b", "c"], ["a"]]),
        ("multiclass", None, [["b"], ["c"], ["a"]]),
    ],
)
def test_decided_labels_match_decide(task, thresholds, expected):
    assert decided_labels(PROBA, LABELS, task, thresholds=thresholds) == expected
    ids = decide(PROBA, task, threshold=thresholds)
    if task == "multilabel":
        assert [[LABELS[j] for j in np.flatnonzero(r)] for r in ids] == expected


def test_binary_threshold_is_on_the_positive_label():
    proba = np.array([[0.4, 0.6], [0.8, 0.2]])
    assert decided_labels(proba, ["neg", "pos"], "binary", thresholds=[0.5]) == [["pos"], ["neg"]]
    assert decided_labels(proba, ["neg", "pos"], "binary", thresholds=[0.7]) == [["neg"], ["neg"]]


def test_at_least_one_picks_the_top_label():
    got = decided_labels(PROBA, LABELS, "multilabel", thresholds=[0.95] * 3, at_least_one=True)
    assert got == [["b"], ["c"], ["a"]]


def test_saved_thresholds_shapes():
    ml = ModelInfo(task="multilabel", labels=LABELS, rule=DecisionRule(thresholds=[0.3, 0.4, 0.5]))
    assert saved_thresholds(ml) == [0.3, 0.4, 0.5]
    assert saved_thresholds(ModelInfo(task="multilabel", labels=LABELS)) == [0.5] * 3
    assert (
        saved_thresholds(
            ModelInfo(task="multilabel", labels=LABELS, rule=DecisionRule(thresholds=0.4))
        )
        == [0.4] * 3
    )
    assert saved_thresholds(
        ModelInfo(task="binary", labels=["n", "p"], rule=DecisionRule(thresholds=0.7))
    ) == [0.7]
    assert saved_thresholds(ModelInfo(task="binary", labels=["n", "p"])) == [0.5]
    assert saved_thresholds(ModelInfo(task="multiclass", labels=LABELS)) is None


def test_confidence_and_top_k():
    pred = [["b", "c"], [], ["a"]]
    np.testing.assert_allclose(confidence(PROBA, pred, LABELS), [0.6, 0.7, 0.9])
    assert top_k([0.2, 0.7, 0.1], LABELS, 2) == [("b", 0.7), ("a", 0.2)]


def _prediction(**kw) -> Prediction:
    base = {
        "text": "apple and banana",
        "task": "multilabel",
        "labels": LABELS,
        "scores": [0.2, 0.7, 0.6],
        "predicted": ["b", "c"],
        "thresholds": [0.5] * 3,
        "at_least_one": False,
        "latency_ms": 12.0,
        "model_name": "m",
        "model_fingerprint": "sha256:00",
    }
    base.update(kw)
    return Prediction(**base)


def test_prediction_redecides_without_the_model():
    p = _prediction()
    assert p.redecide([0.5, 0.65, 0.5]) == ["b", "c"]
    assert p.redecide([0.5, 0.75, 0.65]) == []
    assert p.score_map == {"a": 0.2, "b": 0.7, "c": 0.6}
    assert p.confidence == pytest.approx(0.6)


def test_results_frame_filters_and_downloads():
    frame = results_frame(
        [1, 2, 4], ["x one", "y two", "z three"], PROBA, LABELS, "multilabel", thresholds=[0.5] * 3
    )
    assert frame["prediction"].tolist() == ["b, c", NO_LABEL, "a"]
    assert list(frame.columns[-3:]) == ["score_a", "score_b", "score_c"]
    assert filter_results(frame, labels=["c"])["row"].tolist() == [1]
    assert filter_results(frame, labels=[NO_LABEL])["row"].tolist() == [2]
    assert filter_results(frame, min_confidence=0.65)["row"].tolist() == [2, 4]
    assert filter_results(frame, query="TWO")["row"].tolist() == [2]
    csv = pd.read_csv(io.BytesIO(results_csv(frame, "multilabel")), keep_default_na=False)
    assert csv.columns.tolist() == ["row", "text", "labels", "score_a", "score_b", "score_c"]
    assert csv["labels"].tolist() == ["b|c", "", "a"]
    lines = [json.loads(x) for x in results_jsonl(frame, "multilabel").decode().splitlines()]
    assert lines[0]["labels"] == ["b", "c"] and lines[0]["scores"]["b"] == 0.7
    single = results_frame([1], ["x"], PROBA[:1], LABELS, "multiclass")
    assert json.loads(results_jsonl(single, "multiclass"))["label"] == "b"
    assert "label" in pd.read_csv(io.BytesIO(results_csv(single, "multiclass"))).columns


def test_downloads_are_the_records_of_textclf_predict():
    """One prediction record: the app's downloads are what predict writes for the same rows."""
    frame = results_frame([1, 2, 4], ["x one", "y two", "z three"], PROBA, LABELS, "multilabel")
    space = LabelSpace("multilabel", tuple(LABELS))
    decided = decide(PROBA, "multilabel", threshold=None)
    expected = prediction_records(
        PROBA, decided, space, texts=["x one", "y two", "z three"], rows=[1, 2, 4]
    )
    got = [json.loads(x) for x in results_jsonl(frame, "multilabel").decode().splitlines()]
    assert got == expected
    # Every row filtered out: the CSV keeps the header predict would write.
    empty = pd.read_csv(io.BytesIO(results_csv(frame.iloc[:0], "multilabel")))
    full = pd.read_csv(io.BytesIO(results_csv(frame, "multilabel")))
    assert len(empty) == 0 and empty.columns.tolist() == full.columns.tolist()
    assert results_jsonl(frame.iloc[:0], "multilabel") == b""


def _batch_run(**kw) -> BatchRun:
    base = {
        "name": "f.csv",
        "column": "text",
        "task": "multilabel",
        "labels": LABELS,
        "proba": PROBA,
        "rows": [1, 2, 4],
        "texts": ["x", "y", "z"],
        "n_skipped": 0,
        "seconds": 0.3,
        "model_name": "m",
        "model_fingerprint": "sha256:00",
    }
    base.update(kw)
    return BatchRun(**base)


def test_batch_run_rows_become_predictions_for_feedback():
    run = _batch_run(n_skipped=1)
    p = run.prediction(2, [0.5] * 3)
    assert (p.text, p.row, p.predicted, p.source) == ("z", 4, ["a"], "f.csv")
    assert run.frame([0.95] * 3)["prediction"].tolist() == [NO_LABEL] * 3


def test_history_orders_searches_and_exports():
    older = _prediction(text="first apple", created="2026-01-01T10:00:00.000+00:00")
    newer = _prediction(
        text="second pear",
        predicted=["a"],
        created="2026-01-01T10:05:00.000+00:00",
        feedback="corrected",
    )
    run = _batch_run(created="2026-01-01T10:02:00.000+00:00")
    frame = history_frame([older, newer], [run], thresholds_for=lambda r: [0.5] * 3)
    assert frame["text"].tolist() == ["second pear", "x", "y", "z", "first apple"]
    assert search_history(frame, query="APPLE")["text"].tolist() == ["first apple"]
    assert search_history(frame, labels=["a"])["text"].tolist() == ["second pear", "z"]
    assert search_history(frame, sources=["f.csv"])["row"].tolist() == [1, 2, 4]
    assert search_history(frame, feedback_only=True)["text"].tolist() == ["second pear"]
    csv = pd.read_csv(io.BytesIO(history_csv(frame)), keep_default_na=False)
    assert csv["predicted"].tolist()[0] == "a"
    rows = [json.loads(x) for x in history_jsonl(frame).decode().splitlines()]
    assert rows[0]["predicted"] == ["a"] and rows[0]["row"] is None and rows[1]["row"] == 1
    assert history_frame([], []).empty


def test_render_escapes_and_marks_thresholds():
    html = score_bars_html(["<b>", "ok"], [0.2, 0.9], predicted=["ok"], thresholds=[0.3, 0.6])
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert html.index("ok") < html.index("&lt;b&gt;")  # best first
    assert html.count('class="tc-thr"') == 2 and "left:60.0%" in html
    assert html.count("tc-bar tc-on") == 1
    binary = score_bars_html(["neg", "pos"], [0.3, 0.7], predicted=["pos"], thresholds=[0.4])
    assert binary.count('class="tc-thr"') == 1 and "left:40.0%" in binary
    limited = score_bars_html(LABELS, [0.1, 0.5, 0.4], predicted=["b"], limit=2)
    assert "1 more label(s)" in limited and ">a<" not in limited
    assert "no label" in chips_html([]) and "&amp;" in chips_html(["R&D"])
