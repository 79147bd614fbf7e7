"""What evaluate, compare and calibrate run on a saved model folder (``textclf.assess``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textclf.assess_files import calibrate_folder, compare_files, evaluate_files
from textclf.cli import app
from textclf.config import EvalConfig
from textclf.errors import ConfigError
from textclf.model_card import STALE_MARK
from textclf.persistence import ModelInfo

pytestmark = pytest.mark.slow

SMALL = EvalConfig(n_resamples=200, ci_method="bca")


def test_evaluate_returns_arrays_beside_the_document(trained_run):
    run = trained_run("multiclass")
    ev = evaluate_files(run, str(run.parent / "test.csv"), train=str(run.parent / "train.csv"))
    doc = ev.document
    assert len(ev.texts) == doc["n_examples"] == len(ev.y_true) == len(ev.proba)
    assert np.allclose(ev.proba.sum(axis=1), 1.0)
    assert not any(key.startswith("_") for key in doc)  # no arrays smuggled in the document
    assert set(ev.baseline_proba) == set(doc["baselines"]) >= {"tfidf_lr", "majority"}
    assert doc["comparison"]["baseline"] in doc["baselines"]
    assert doc["comparison"]["sides"] == "a: the baseline, b: the model; difference = b - a"
    assert doc["comparison"]["b"]["value"] == doc["metrics"][doc["comparison"]["metric"]]["value"]


def test_compare_measures_baselines_as_evaluate_does(trained_run):
    """One way to measure: the same baseline, seed and interval method give the same figures."""
    run = trained_run("multiclass")
    test, train = str(run.parent / "test.csv"), str(run.parent / "train.csv")
    ev = evaluate_files(run, test, train=train, eval_config=SMALL, seed=3)
    cmp = compare_files([run, run], test, train=train, eval_config=SMALL, seed=3)
    rows = {row["name"]: row for row in cmp.document["models"]}
    head = cmp.document["metric"]
    # The model against itself: no difference at all.
    second = cmp.document["models"][1]
    assert second["vs_reference"]["difference"]["value"] == 0.0
    for measured in ev.document["baselines"].values():
        assert rows[measured["name"]]["metrics"][head] == measured["metrics"][head]
    assert rows[cmp.document["reference"]]["metrics"][head] == ev.document["metrics"][head]


def test_calibrate_refits_the_rule_and_marks_every_stored_figure_stale(trained_run, tmp_path: Path):
    run = trained_run("multiclass")
    model = tmp_path / "model"
    shutil.copytree(run, model)
    # A second stored evaluation, as 'textclf evaluate' or 'report' leaves one.
    evaluate_files(model, str(run.parent / "test.csv")).write(model / "eval" / "test")
    before = ModelInfo.from_dict(json.loads((model / "textclf.json").read_text()))

    with pytest.raises(ConfigError, match="the file the model was tested on"):
        calibrate_folder(model, str(run.parent / "test.csv"))
    # The same test rows in another format: not the recorded file, but the same texts.
    as_jsonl = tmp_path / "test-again.jsonl"
    pd.read_csv(run.parent / "test.csv").to_json(as_jsonl, orient="records", lines=True)
    with pytest.raises(ConfigError, match=r"texts are in the split the model was tested on"):
        calibrate_folder(model, str(as_jsonl))
    with pytest.raises(ConfigError, match=r"--at-least-one: .* is a multiclass model"):
        calibrate_folder(model, str(run.parent / "validation.csv"), at_least_one=True)
    rule = calibrate_folder(model, str(run.parent / "validation.csv"), tune_thresholds=False)

    after = ModelInfo.from_dict(json.loads((model / "textclf.json").read_text()))
    assert after.rule.to_dict() == rule.to_dict()
    assert after.rule.fitted_on == str(run.parent / "validation.csv")
    assert before.rule.fitted_on != after.rule.fitted_on
    assert "textclf calibrate" in after.metrics["stale"]
    for stored in (model / "eval").rglob("metrics.json"):
        assert "textclf calibrate" in json.loads(stored.read_text())["stale"], stored
    mds = list((model / "eval").rglob("metrics.md"))
    assert len(mds) == 2
    for stored in [*mds, model / "README.md"]:
        assert stored.read_text().count(STALE_MARK) == 1, stored
    # The card describes the rule that applies now, and names where new figures will go.
    card = (model / "README.md").read_text()
    decided = card.split("## How predictions are decided\n\n", 1)[1].split("\n## ", 1)[0]
    assert decided.strip() == "\n".join(f"- {line}" for line in rule.notes)
    test = str(run.parent / "test.csv")
    assert f"--data {test} measures the new one (into {model / 'eval' / 'test'}/)" in card


def test_evaluate_with_an_id_column_writes_ids_into_the_records(trained_run, tmp_path: Path):
    run = trained_run("multiclass")
    frame = pd.read_csv(run.parent / "test.csv")
    frame.insert(0, "ticket", [f"T-{i:03d}" for i in range(len(frame))])
    data = tmp_path / "test_ids.csv"
    frame.to_csv(data, index=False)
    result = CliRunner().invoke(
        app,
        [
            *("evaluate", "--model", str(run), "--data", str(data), "--id-column", "ticket"),
            *("--output", str(tmp_path / "out"), "--n-resamples", "100"),
            # The baselines' training file has no id column, and needs none.
            *("--train", str(run.parent / "train.csv")),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()
    ]
    assert [r["id"] for r in records] == list(frame["ticket"])
    assert [r["row"] for r in records] == list(range(1, len(frame) + 1))


def test_an_unknown_label_is_named_with_its_row(trained_run, tmp_path: Path):
    from textclf.errors import DataError

    run = trained_run("multiclass")
    frame = pd.read_csv(run.parent / "test.csv")
    frame.loc[3, "label"] = "no-such-label"
    frame.to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(DataError, match=r"does not know: 'no-such-label' \(first at row 4\)"):
        evaluate_files(run, str(tmp_path / "test.csv"))


def test_evaluating_on_seen_texts_is_warned_about(trained_run, caplog: pytest.LogCaptureFixture):
    run = trained_run("multiclass")
    train, test = str(run.parent / "train.csv"), str(run.parent / "test.csv")
    with caplog.at_level("WARNING", logger="textclf.assess_files"):
        evaluate_files(run, test, train=train, eval_config=SMALL)
    assert "optimistic" not in caplog.text  # held-out data, a separate training file
    with caplog.at_level("WARNING", logger="textclf.assess_files"):
        evaluate_files(run, train, eval_config=SMALL)
    assert f"{train} is the train file {run} was trained on" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="textclf.assess_files"):
        compare_files([run], test, train=test, eval_config=SMALL)
    n = len(pd.read_csv(test))
    assert f"{n} of the {n} texts of {test} are also in --train {test}" in caplog.text


def test_repeats_in_the_evaluated_file_are_warned_about(
    trained_run, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    run = trained_run("multiclass")
    frame = pd.read_csv(run.parent / "test.csv")
    pd.concat([frame, frame.iloc[:3]]).to_csv(tmp_path / "test.csv", index=False)
    with caplog.at_level("WARNING", logger="textclf.assess_files"):
        evaluate_files(run, str(tmp_path / "test.csv"), eval_config=SMALL)
    assert "3 row(s) repeat a text seen earlier in it" in caplog.text
    assert "the intervals count each copy as an example" in caplog.text.lower()


def test_assess_takes_texts_and_labels_as_fit_does(trained_run):
    from textclf.assess import assess

    run = trained_run("multiclass")
    test = pd.read_csv(run.parent / "test.csv")
    label_col = next(c for c in test.columns if c != "text")
    texts, labels = test["text"].tolist(), test[label_col].astype(str).tolist()
    from_file = evaluate_files(run, str(run.parent / "test.csv"))
    from_lists = assess(run, (texts, labels), progress=False)
    assert from_lists.document["metrics"] == from_file.document["metrics"]
