"""``textclf cv``: k runs of the train pipeline, their summary and the out-of-fold predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from textclf.cli import app
from textclf.config import ExperimentConfig, apply_overrides
from textclf.crossval import cross_validate

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("restore_cli_state")]


def _tiny(model_dir: Path) -> list[str]:
    return [
        "--model",
        str(model_dir),
        "--max-length",
        "32",
        "--max-steps",
        "30",
        "--batch-size",
        "8",
        "--learning-rate",
        "3e-3",
        "--no-track",
        "--no-report",
        "--set",
        "train.early_stopping_patience=null",
        "--set",
        "eval.n_resamples=200",
        "--set",
        "split.validation_size=0.25",
    ]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_cv_runs_every_fold_summarises_them_and_predicts_each_example_once(
    tmp_path: Path, task_frame: pd.DataFrame, tiny_model_dir: Path, runner, task: str
):
    data = tmp_path / "data.csv"
    task_frame.assign(ticket=[f"T-{i}" for i in range(1, len(task_frame) + 1)]).to_csv(
        data, index=False
    )
    out = tmp_path / "cv"
    args = [
        "cv",
        "--train",
        str(data),
        "--folds",
        "3",
        "--output",
        str(out),
        *_tiny(tiny_model_dir),
    ]
    args += ["--id-column", "ticket"]
    if task == "multilabel":
        args += ["--label-separator", "|"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Cross-validation: 3 folds" in result.output

    # The folds: disjoint held-out parts that cover the file; no fold trains on its test rows.
    held = []
    for i in (1, 2, 3):
        train_rows = {r["id"] for r in _jsonl(out / f"folds/fold-{i}/train.jsonl")}
        test_rows = {r["id"] for r in _jsonl(out / f"folds/fold-{i}/test.jsonl")}
        assert not train_rows & test_rows
        assert train_rows | test_rows == set(range(1, len(task_frame) + 1))
        held.append(test_rows)
    assert sorted(r for part in held for r in part) == list(range(1, len(task_frame) + 1))

    # The summary is the folds' own metrics.json, averaged.
    doc = json.loads((out / "cv.json").read_text())
    metric = doc["headline_metric"]
    per_fold = [
        json.loads((out / f"fold-{i}/eval/metrics.json").read_text())["metrics"][metric]["value"]
        for i in (1, 2, 3)
    ]
    assert doc["metrics"][metric]["folds"] == per_fold
    assert doc["metrics"][metric]["mean"] == pytest.approx(np.mean(per_fold))
    assert doc["metrics"][metric]["sd"] == pytest.approx(np.std(per_fold, ddof=1))
    assert doc["n_examples"] == len(task_frame) and sum(doc["fold_sizes"]) == len(task_frame)
    assert len(doc["comparison"]["per_fold"]) == 3
    # Every fold has the whole data's labels, in its order (a names file keeps it).
    plan = json.loads((out / "folds/plan.json").read_text())
    for i in (1, 2, 3):
        assert json.loads((out / f"fold-{i}/textclf.json").read_text())["labels"] == plan["labels"]
    assert "mean ± sd" in (out / "cv.md").read_text()

    # Every example once, in file order, with its fold and its true label(s).
    oof = _jsonl(out / "oof_predictions.jsonl")
    assert [r["row"] for r in oof] == list(range(1, len(task_frame) + 1))
    for rec, (_, row) in zip(oof, task_frame.iterrows(), strict=True):
        assert rec["text"] == row["text"] and rec["id"] == f"T-{rec['row']}"
        assert rec["row"] in held[rec["fold"] - 1]
        if task == "multilabel":
            assert sorted(rec["true"]) == sorted(row["label"].split("|"))
            assert set(rec["labels"]) <= set(rec["scores"])
        else:
            assert rec["true"] == row["label"] and rec["label"] in rec["scores"]

    # A finished cross-validation is not silently redone.
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "this cross-validation has finished" in again.output


def test_an_interrupted_cv_resumes_keeping_the_finished_folds(
    tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path, runner
):
    out = tmp_path / "cv"
    args = [
        "cv", "--train", str(multiclass_csv), "-k", "3", "--output", str(out),
        "--no-baselines", *_tiny(tiny_model_dir),
    ]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    first = (out / "fold-1/model.safetensors").stat().st_mtime_ns
    # As if stopped during fold 3: its run and the summary are gone.
    shutil.rmtree(out / "fold-3")
    (out / "cv.json").unlink()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    # The same data under another path is the same plan.
    moved = tmp_path / "moved.csv"
    shutil.copy(multiclass_csv, moved)
    resumed = runner.invoke(app, [args[0], args[1], str(moved), *args[3:], "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "fold 1 had finished in an earlier start and is kept" in resumed.output
    assert (out / "fold-1/model.safetensors").stat().st_mtime_ns == first
    assert (out / "fold-3/eval/metrics.json").is_file() and (out / "cv.json").is_file()
    assert json.loads((out / "cv.json").read_text())["comparison"] is None  # no baselines
    # Another --folds is another plan: refused, not mixed with the folds there.
    (out / "cv.json").unlink()
    other = runner.invoke(app, [*args[:4], "4", *args[5:], "--resume"])
    assert other.exit_code == 2 and "started with another --folds" in other.output
    # So is another recipe: the summary would average folds of different models.
    longer = runner.invoke(app, [*args, "--resume", "--max-steps", "31"])
    assert longer.exit_code == 2 and "other settings" in longer.output
    # --overwrite removes the cross-validation's own files, never a folder of someone else's.
    (out / "fold-notes").mkdir()
    (out / "fold-notes" / "keep.txt").write_text("mine")
    (out / "fold-9").mkdir()
    (out / "fold-9" / "keep.txt").write_text("mine")
    again = runner.invoke(app, [*args, "--overwrite"])
    assert again.exit_code == 0, again.output
    assert (out / "fold-notes/keep.txt").is_file() and (out / "fold-9/keep.txt").is_file()
    assert (out / "fold-1/model.safetensors").stat().st_mtime_ns != first


def test_cv_refuses_given_splits_a_class_too_small_and_a_folder_of_other_files(
    tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path
):
    base = ExperimentConfig()
    with pytest.raises(Exception, match="drop --validation and --test"):
        cross_validate(
            apply_overrides(
                base,
                [f"data.train={multiclass_csv}", f"data.test={multiclass_csv}", "output_dir=x"],
            )
        )
    small = tmp_path / "small.csv"
    frame = pd.read_csv(multiclass_csv)
    pd.concat(
        [frame, pd.DataFrame({"text": ["rare one", "rare two"], "label": ["rare"] * 2})]
    ).to_csv(small, index=False)
    with pytest.raises(
        Exception, match=r"class 'rare' has only 2 distinct text\(s\), too few for 5 folds"
    ):
        cross_validate(
            apply_overrides(base, [f"data.train={small}", f"output_dir={tmp_path / 'o'}"])
        )
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="not a cross-validation"):
        cross_validate(
            apply_overrides(base, [f"data.train={multiclass_csv}", f"output_dir={mine}"]),
            overwrite=True,
        )
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_a_tracked_cv_is_one_parent_run_with_a_nested_run_per_fold(
    tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)  # the suite's default: off
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        f"data.train={multiclass_csv}",
        f"output_dir={tmp_path / 'cv'}",
        f"model.name={tiny_model_dir}",
        "model.max_length=32",
        "train.max_steps=20",
        "train.batch_size=8",
        "train.early_stopping_patience=null",
        "eval.n_resamples=200",
        "split.validation_size=0.25",
        "diagnostics.enabled=false",
        f"tracking.uri={store}",
        "tracking.experiment=cvexp",
    ]
    result = cross_validate(apply_overrides(ExperimentConfig(), overrides), folds=3)
    client = MlflowClient(store)
    parent = client.get_run(result.tracking["run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["textclf.kind"] == "cv"
    metric = result.metric
    assert parent.data.metrics[f"cv_{metric}_mean"] == pytest.approx(
        result.document["metrics"][metric]["mean"]
    )
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"cv.md", "cv.json"}
    experiment = client.get_experiment_by_name("cvexp")
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert {r.info.run_name: r.info.status for r in children} == {
        f"fold-{i}": "FINISHED" for i in (1, 2, 3)
    }
    assert not client.search_logged_models(experiment_ids=[experiment.experiment_id])


def test_the_folds_keep_the_label_order_of_a_names_file(
    tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path, runner
):
    frame = pd.read_csv(multiclass_csv)
    frame = frame[frame["label"] != "gamma"]  # binary: the order decides the positive class
    frame["label"] = frame["label"].map({"beta": 0, "alpha": 1})
    data, names = tmp_path / "ids.csv", tmp_path / "names.txt"
    frame.to_csv(data, index=False)
    names.write_text("zeta\nalpha\n")  # natural order would put alpha first
    out = tmp_path / "cv"
    args = ["cv", "--train", str(data), "--label-names", str(names), "-k", "2"]
    result = runner.invoke(
        app, [*args, "--output", str(out), "--no-baselines", *_tiny(tiny_model_dir)]
    )
    assert result.exit_code == 0, result.output
    for i in (1, 2):
        info = json.loads((out / f"fold-{i}/textclf.json").read_text())
        assert info["labels"] == ["zeta", "alpha"]
    oof = _jsonl(out / "oof_predictions.jsonl")
    assert {r["true"] for r in oof} == {"zeta", "alpha"}
