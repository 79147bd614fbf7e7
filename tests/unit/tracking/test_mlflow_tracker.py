"""MlflowTracker and sync against local SQLite stores: records arrive, nothing is lost.

A store that fails mid-run is simulated by making the sink raise; the real server that
dies mid-training is in tests/integration/test_tracking_mlflow.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")

from mlflow import MlflowClient

from textclf.tracking.base import DatasetRecord
from textclf.tracking.mlflow import MlflowSink, MlflowTracker
from textclf.tracking.sync import sync_runs

REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def other_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('other') / 'mlflow.db'}"


def _record_a_run(tracker: MlflowTracker, run_dir: Path) -> None:
    (run_dir / "eval").mkdir(parents=True, exist_ok=True)
    (run_dir / "eval" / "metrics.json").write_text('{"task": "binary"}')
    tracker.start_run("run-a", tags={"textclf.task": "binary"})
    tracker.log_params({"train": {"learning_rate": 3e-5, "epochs": 2}})
    tracker.log_dataset(DatasetRecord("train", "train", "sha256:" + "ab" * 32, "train.csv", 12))
    for step in (1, 5, 10):
        tracker.log_metrics({"train_loss": 1.0 / step, "epoch": step / 10}, step=step)
    tracker.set_tags({"textclf.backbone": "tiny"})
    tracker.log_metrics({"test_f1_macro": 0.8, "test_f1_macro_lower": 0.7})
    tracker.log_artifacts(run_dir / "eval", artifact_path="eval")


def _check_run(uri: str, run_id: str) -> None:
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "run-a"
    assert run.data.params["train.learning_rate"] == "3e-05"
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "train_loss")] == [
        (1, 1.0),
        (5, 0.2),
        (10, 0.1),
    ]
    assert run.data.metrics["test_f1_macro_lower"] == 0.7
    assert run.data.tags["textclf.task"] == "binary"
    assert run.data.tags["textclf.backbone"] == "tiny"
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "train"
    assert json.loads(dataset.dataset.profile)["num_rows"] == 12
    assert [t.value for t in dataset.tags] == ["train"]
    assert [a.path for a in client.list_artifacts(run_id, "eval")] == ["eval/metrics.json"]


def test_online_run_is_recorded_and_acknowledged(store: str, tmp_path: Path) -> None:
    tracker = MlflowTracker(store, "online", local_dir=tmp_path / "run" / "tracking")
    _record_a_run(tracker, tmp_path / "run")
    info = tracker.end_run()
    assert info.run_id and info.fallback is None and info.sync_command is None
    _check_run(store, info.run_id)
    assert info.key is not None
    journal_dir = tmp_path / "run" / "tracking" / info.key
    state = json.loads((journal_dir / "state.json").read_text())
    lines = (journal_dir / "journal.jsonl").read_text().splitlines()
    assert state["targets"][store] == {"run_id": info.run_id, "done": len(lines) - 1}


def test_offline_run_is_kept_and_synced_once(
    store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    tracker = MlflowTracker(
        REFUSED, "offline", local_dir=run_dir / "tracking", online=False, timeout=2
    )
    _record_a_run(tracker, run_dir)
    with caplog.at_level(logging.WARNING):
        info = tracker.end_run()
    assert info.run_id is None
    assert info.fallback == str(run_dir / "tracking" / str(info.key))
    assert info.sync_command == f"textclf tracking sync {run_dir} --tracking-uri {REFUSED}"
    assert any(info.sync_command in r.getMessage() for r in caplog.records)

    first = sync_runs([run_dir], uri=store)
    assert [(r.ok, r.sent > 0) for r in first] == [(True, True)]
    # The warning's count of records kept only locally is the count the sync sends.
    (kept,) = [r.getMessage() for r in caplog.records if "kept only in" in r.getMessage()]
    assert kept.startswith(f"Tracking: {first[0].sent} record(s) of run")
    run_id = first[0].run_id
    assert run_id is not None
    _check_run(store, run_id)

    again = sync_runs([run_dir], uri=store)
    assert [(r.ok, r.sent, r.run_id) for r in again] == [(True, 0, run_id)]
    assert len(MlflowClient(store).get_metric_history(run_id, "train_loss")) == 3


def test_sync_into_a_new_store_creates_the_run_and_repeats_nothing(
    store: str, other_store: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    tracker = MlflowTracker(store, "moved", local_dir=run_dir / "tracking")
    _record_a_run(tracker, run_dir)
    tracker.end_run()
    (result,) = sync_runs([run_dir], uri=other_store)
    assert result.ok and result.run_id
    _check_run(other_store, result.run_id)
    # The state file forgotten (e.g. a copied folder): the run is found again by its tag.
    for state in (run_dir / "tracking").glob("*/state.json"):
        state.unlink()
    (again,) = sync_runs([run_dir], uri=other_store)
    assert again.ok and again.run_id == result.run_id
    assert len(MlflowClient(other_store).get_metric_history(result.run_id, "train_loss")) == 3


class _FlakySink(MlflowSink):
    """A sink whose store fails after ``ok`` records (``ok=None``: never fails)."""

    ok: int | None = None
    down = False

    def apply(self, run_id: str, record: Any, journal: Any) -> None:
        if type(self).down or (type(self).ok is not None and record["seq"] > type(self).ok):
            type(self).down = True
            raise ConnectionError("connection refused")
        super().apply(run_id, record, journal)


def test_store_failing_mid_run_warns_once_and_catches_up_at_the_end(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("textclf.tracking.mlflow.MlflowSink", _FlakySink)
    monkeypatch.setattr(_FlakySink, "ok", 3)
    monkeypatch.setattr(_FlakySink, "down", False)
    tracker = MlflowTracker(store, "flaky", local_dir=tmp_path / "run" / "tracking")
    with caplog.at_level(logging.WARNING):
        _record_a_run(tracker, tmp_path / "run")
        assert not tracker.online
        monkeypatch.setattr(_FlakySink, "down", False)
        monkeypatch.setattr(_FlakySink, "ok", None)  # the server is back before the end
        info = tracker.end_run()
    failures = [r for r in caplog.records if "failed (connection refused)" in r.getMessage()]
    assert len(failures) == 1
    assert "Training goes on" in failures[0].getMessage()
    assert info.fallback is None and info.run_id
    _check_run(store, info.run_id)


def test_store_still_down_at_the_end_keeps_the_records(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("textclf.tracking.mlflow.MlflowSink", _FlakySink)
    monkeypatch.setattr(_FlakySink, "ok", 2)
    monkeypatch.setattr(_FlakySink, "down", False)
    run_dir = tmp_path / "run"
    tracker = MlflowTracker(store, "down", local_dir=run_dir / "tracking")
    _record_a_run(tracker, run_dir)
    info = tracker.end_run()
    assert info.fallback is not None and info.run_id
    journal = Path(info.fallback) / "journal.jsonl"
    ops = [json.loads(line)["op"] for line in journal.read_text().splitlines()]
    assert ops[-1] == "end" and ops.count("metrics") == 4
    monkeypatch.setattr(_FlakySink, "down", False)
    monkeypatch.setattr(_FlakySink, "ok", None)
    (result,) = sync_runs([run_dir])  # to the URI the run was started with
    assert result.ok and result.run_id == info.run_id  # the same run, completed
    _check_run(store, info.run_id)


def test_a_refused_record_is_skipped_without_going_offline(
    store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = MlflowTracker(store, "refused", local_dir=tmp_path / "run" / "tracking")
    tracker.start_run("r")
    tracker.log_params({"lr": 1})
    with caplog.at_level(logging.WARNING):
        tracker.log_params({"lr": 2})  # MLflow refuses to change a parameter
    tracker.log_metrics({"after": 1.0}, step=1)
    info = tracker.end_run()
    assert tracker.online and info.fallback is None and info.run_id
    run = MlflowClient(store).get_run(info.run_id)
    assert run.data.params["lr"] == "1" and run.data.metrics["after"] == 1.0
    assert any(
        "'params' tracking record cannot be recorded" in r.getMessage() for r in caplog.records
    )


def test_a_record_that_cannot_be_packaged_is_skipped(
    store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = MlflowTracker(store, "no-model", local_dir=tmp_path / "run" / "tracking")
    tracker.start_run("r")
    with caplog.at_level(logging.WARNING):
        tracker.log_model(tmp_path / "not-a-model", task="binary")
    tracker.log_metrics({"after": 1.0}, step=1)
    info = tracker.end_run()
    assert tracker.online and info.fallback is None and info.run_id
    assert MlflowClient(store).get_run(info.run_id).data.metrics["after"] == 1.0
    assert any(
        "the model folder logged by this run is gone" in r.getMessage() for r in caplog.records
    )


def test_nested_runs_are_linked_to_their_parent(store: str, tmp_path: Path) -> None:
    tracker = MlflowTracker(store, "nested", local_dir=tmp_path / "study" / "tracking")
    with tracker.start_run("search"):
        parent_id = tracker.info().run_id
        for trial in range(2):
            with tracker.start_run(f"trial-{trial}", nested=True):
                tracker.log_metrics({"val_f1_macro": 0.5 + trial / 10}, step=1)
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("nested")
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    assert sorted(r.info.run_name for r in children) == ["trial-0", "trial-1"]
    assert client.get_run(parent_id).info.status == "FINISHED"


def test_resume_continues_the_same_run(store: str, tmp_path: Path) -> None:
    local = tmp_path / "run" / "tracking"
    first = MlflowTracker(store, "resumed", local_dir=local)
    first.start_run("r")
    first.log_metrics({"train_loss": 0.9}, step=1)
    interrupted = first.end_run("KILLED")
    second = MlflowTracker(store, "resumed", local_dir=local)
    second.start_run("r", resume=interrupted.key)
    second.log_metrics({"train_loss": 0.5}, step=2)
    info = second.end_run()
    assert info.run_id == interrupted.run_id
    client = MlflowClient(store)
    assert [m.step for m in client.get_metric_history(info.run_id, "train_loss")] == [1, 2]
    assert client.get_run(info.run_id).info.status == "FINISHED"
