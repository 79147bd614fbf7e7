"""Tracking against a real ``mlflow server`` (SQLite store) on a free loopback port.

- a run's params, step metrics, final metrics with bounds, datasets, artifacts and model
  read back through ``MlflowClient``; the logged model (a pyfunc) predicts textclf's labels;
- ``mlflow models serve`` on the logged multi-label model answers the documented payloads
  with the labels of ``textclf predict`` (the per-label thresholds applied);
- the server killed mid-training: training completes, the journal holds every record, and
  ``textclf tracking sync`` pushes them once the server is back (twice: no duplicates);
- the health check and ``textclf tracking check`` against the live server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")

import mlflow
from mlflow import MlflowClient
from transformers import TrainerCallback
from typer.testing import CliRunner

from tests_support import (
    free_port,
    held_out_splits,
    start_module,
    tiny_run_overrides,
    wait_until_up,
)
from textclf.cli import app
from textclf.config import ExperimentConfig, apply_overrides
from textclf.experiment import run_experiment
from textclf.inference.pipeline import Predictor
from textclf.tracking.health import check_tracking
from textclf.tracking.journal import Journal
from textclf.tracking.mlflow import MlflowTracker
from textclf.tracking.session import git_commit

pytestmark = pytest.mark.slow


class MlflowServer:
    """An ``mlflow server`` subprocess (its own process group, so it can be killed whole)."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.uri = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job workers
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        self.proc = start_module(
            [
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            self.root / "server.log",
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1) as r:
                    if r.read().strip() == b"OK":
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer on {self.uri} within {timeout} s")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Die abruptly, as a crashed server would."""
        if self.proc is not None and self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or not self.running:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), free_port())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)


def _frame() -> pd.DataFrame:
    words = {
        "alpha": "apple apricot avocado almond",
        "beta": "banana blueberry barley basil",
        "gamma": "grape guava ginger garlic",
    }
    rows = []
    for i in range(8):
        for label, vocab in words.items():
            w = vocab.split()
            rows.append({"text": f"{w[i % 4]} and {w[(i + 1) % 4]} number {i}", "label": label})
    return pd.DataFrame(rows)


def _config(root: Path, tiny_model_dir: Path, *overrides: str) -> ExperimentConfig:
    for name, part in held_out_splits(_frame()).items():
        part.to_csv(root / f"{name}.csv", index=False)
    files = (root / "train.csv", root / "validation.csv", root / "test.csv")
    return apply_overrides(
        ExperimentConfig(),
        [
            *tiny_run_overrides(tiny_model_dir, root / "run", *files),
            "train.logging_steps=5",
            "diagnostics.projections=[pca]",
            "diagnostics.attribution_examples=1",
            *overrides,
        ],
    )


def _logged_loss_steps(run_dir: Path) -> list[int]:
    history = json.loads((run_dir / "eval" / "log_history.json").read_text())
    return [int(entry["step"]) for entry in history if "loss" in entry]


def test_a_run_reads_back_through_the_client(
    server: MlflowServer,
    tracking_on: None,
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = _config(
        tmp_path,
        tiny_model_dir,
        f"tracking.uri={server.uri}",
        "tracking.experiment=roundtrip",
        "tracking.registered_model=textclf-tiny",
    )
    result = run_experiment(cfg)
    tracking = result.tracking
    assert tracking["uri"] == server.uri and tracking["fallback"] is None
    run_id = tracking["run_id"]
    client = MlflowClient(server.uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "roundtrip"

    params = run.data.params
    assert params["train.max_steps"] == "40" and params["model.max_length"] == "32"
    assert params["data.size.train"] == "12" and params["data.size.test"] == "9"
    assert params["tracking.registered_model"] == "textclf-tiny"

    steps = [m.step for m in client.get_metric_history(run_id, "train_loss")]
    assert steps == _logged_loss_steps(result.output_dir) and len(steps) >= 8
    history = json.loads((result.output_dir / "eval" / "log_history.json").read_text())
    n_evals = sum(1 for entry in history if "eval_f1_macro" in entry)
    assert len(client.get_metric_history(run_id, "val_f1_macro")) == n_evals > 0

    doc = json.loads((result.output_dir / "eval" / "metrics.json").read_text())
    metrics = run.data.metrics
    for name, interval in doc["metrics"].items():
        if interval["value"] is None:
            continue
        assert metrics[f"test_{name}"] == pytest.approx(interval["value"])
        if interval["ci_low"] is None:  # no interval (ECE): no bounds logged either
            assert f"test_{name}_lower" not in metrics, name
            continue
        assert metrics[f"test_{name}_lower"] == pytest.approx(interval["ci_low"])
        assert metrics[f"test_{name}_upper"] == pytest.approx(interval["ci_high"])
    lr = doc["baselines"]["tfidf_lr"]["metrics"]["f1_macro"]
    assert metrics["baseline_tfidf_lr_f1_macro"] == pytest.approx(lr["value"])
    assert metrics["baseline_tfidf_lr_f1_macro_upper"] == pytest.approx(lr["ci_high"])

    tags = run.data.tags
    assert tags["textclf.task"] == "multiclass"
    assert tags["textclf.backbone"] == str(tiny_model_dir)
    commit, _ = git_commit()
    assert tags.get("mlflow.source.git.commit") == commit
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"train", "validation", "test"}
    assert json.loads(inputs["test"].dataset.profile)["num_rows"] == 9
    assert [t.value for t in inputs["validation"].tags] == ["validation"]

    artifacts = {a.path for a in client.list_artifacts(run_id, "eval")}
    assert {"eval/metrics.json", "eval/metrics.md", "eval/figures"} <= artifacts
    # The files with the data's texts stay on the machine (tracking.log_texts is off).
    assert not {"eval/report.html", "eval/errors.csv", "eval/predictions.jsonl"} & artifacts
    assert {"README.md", "textclf.json", "config.yaml"} <= {
        a.path for a in client.list_artifacts(run_id)
    }
    local = client.download_artifacts(run_id, "eval/metrics.json", str(tmp_path / "dl"))
    assert json.loads(Path(local).read_text()) == doc

    (logged,) = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert logged.source_run_id == run_id
    (version,) = client.search_model_versions("name='textclf-tiny'")
    assert version.run_id == run_id

    texts = [*pd.read_csv(tmp_path / "test.csv")["text"], "unknown words appear here"]
    expected = Predictor.from_folder(result.output_dir).predict(texts)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)  # models:/ URIs resolve through it
    # MLflow downloads a models:/ URI to a new directory under TMPDIR unless told where.
    (tmp_path / "m1").mkdir()
    (tmp_path / "m2").mkdir()
    model = mlflow.pyfunc.load_model(f"models:/{logged.model_id}", dst_path=str(tmp_path / "m1"))
    assert model.predict(pd.DataFrame({"text": texts}))["label"].tolist() == expected
    registered = mlflow.pyfunc.load_model("models:/textclf-tiny/1", dst_path=str(tmp_path / "m2"))
    served = registered.predict(pd.DataFrame({"text": texts}))
    assert served["label"].tolist() == expected
    assert list(served.columns) == ["row", "label", "scores"]  # textclf's prediction record


def test_mlflow_models_serve_returns_the_labels_of_textclf_predict(
    server: MlflowServer, tmp_path: Path, trained_run: Any
) -> None:
    """The logged pyfunc behind ``mlflow models serve``: per-label thresholds applied."""
    model_dir = trained_run("multilabel")
    tracker = MlflowTracker(server.uri, "served", local_dir=tmp_path / "run" / "tracking")
    tracker.start_run("served")
    tracker.log_model(model_dir, task="multilabel")
    info = tracker.end_run()
    assert info.run_id and info.fallback is None
    texts = [
        "apple and banana with grape",
        "guava only",
        "basil and almond number 3",
        "unknown words appear here",
        "grape guava ginger garlic apricot",
    ]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "texts.csv", index=False)
    predicted = CliRunner().invoke(
        app,
        [
            "predict",
            "--model",
            str(model_dir),
            "--input",
            str(tmp_path / "texts.csv"),
            "--output",
            str(tmp_path / "predictions.jsonl"),
        ],
    )
    assert predicted.exit_code == 0, predicted.output
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    expected = [json.loads(line)["labels"] for line in lines]

    port = free_port()
    log_path = tmp_path / "serve.log"
    proc = start_module(
        [
            "mlflow",
            "models",
            "serve",
            "-m",
            f"runs:/{info.run_id}/model",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        log_path,
        # The scoring server runs `uvicorn` from PATH: the environment's, as when the
        # virtual environment is activated.
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": server.uri,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TMPDIR": str(tmp_path),  # where it downloads the model, and leaves it
        },
        start_new_session=True,
    )
    try:
        if not wait_until_up(f"http://127.0.0.1:{port}/ping", proc, 180):
            tail = log_path.read_text(errors="replace")[-1500:]
            pytest.skip(f"mlflow models serve did not start (exit {proc.poll()}):\n{tail}")
        # The documented payload for a DataFrame input: records with a "text" column.
        body = json.dumps({"dataframe_records": [{"text": t} for t in texts]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            answer = json.loads(r.read())
        records = answer["predictions"]
        assert [r["labels"] for r in records] == expected
        assert all(list(r["scores"]) == ["alpha", "beta", "gamma"] for r in records)
        split = json.dumps(
            {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=split,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            assert [p["labels"] for p in json.loads(r.read())["predictions"]] == expected
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


class _KillServerAt(TrainerCallback):
    def __init__(self, server: MlflowServer, step: int):
        self.server, self.step = server, step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            self.server.kill()


def test_server_killed_mid_training_loses_nothing(
    tracking_on: None, tmp_path: Path, tiny_model_dir: Path
) -> None:
    (tmp_path / "server").mkdir()
    srv = MlflowServer(tmp_path / "server", free_port())
    srv.start()
    try:
        cfg = _config(
            tmp_path,
            tiny_model_dir,
            f"tracking.uri={srv.uri}",
            "tracking.experiment=killed",
            "tracking.timeout_s=5",
            "diagnostics.enabled=false",
        )
        result = run_experiment(cfg, callbacks=[_KillServerAt(srv, step=12)])
        assert not srv.running
        run_dir = result.output_dir
        tracking = result.tracking
        run_id = tracking["run_id"]
        assert run_id, "the run was created before the kill"
        assert (
            tracking["sync_command"] == f"textclf tracking sync {run_dir} --tracking-uri {srv.uri}"
        )
        journal = Journal(Path(tracking["fallback"]))
        _, acknowledged = journal.progress(srv.uri)
        assert 0 < acknowledged < journal.last_seq  # part arrived before the kill, part did not
        records = list(journal.entries())
        loss_steps = [
            r["step"] for r in records if r["op"] == "metrics" and "train_loss" in r["metrics"]
        ]
        assert loss_steps == _logged_loss_steps(run_dir)  # every logged step was kept
        ops = [r["op"] for r in records]
        assert {"model", "artifacts"} <= set(ops) and ops[-1] == "end"

        srv.start()  # the server is back, same store and port
        runner = CliRunner()
        synced = runner.invoke(app, ["tracking", "sync", str(run_dir)])
        assert synced.exit_code == 0, synced.output
        assert f"-> run {run_id} at {srv.uri}" in synced.output

        client = MlflowClient(srv.uri)
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == loss_steps
        assert "test_f1_macro_lower" in run.data.metrics
        assert "eval/metrics.json" in {a.path for a in client.list_artifacts(run_id, "eval")}
        assert len(client.search_logged_models(experiment_ids=[run.info.experiment_id])) == 1

        again = runner.invoke(app, ["tracking", "sync", str(run_dir)])
        assert again.exit_code == 0, again.output
        assert "already up to date" in again.output
        assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == loss_steps
        assert len(client.search_logged_models(experiment_ids=[run.info.experiment_id])) == 1
    finally:
        srv.stop()


def test_health_check_creates_and_restores_experiments_on_the_server(server: MlflowServer) -> None:
    report = check_tracking(server.uri, "made-by-check")
    assert report.ok and report.experiment_action == "created"
    assert report.server_version == mlflow.__version__
    client = MlflowClient(server.uri)
    client.delete_experiment(report.experiment_id)
    restored = check_tracking(server.uri, "made-by-check")
    assert (restored.experiment_action, restored.experiment_id) == (
        "restored",
        report.experiment_id,
    )


def test_tracking_check_command(server: MlflowServer) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["tracking", "check", "--tracking-uri", server.uri, "--experiment", "cli"]
    )
    assert ok.exit_code == 0, ok.output
    assert f"OK: MLflow {mlflow.__version__} at {server.uri}" in ok.output
    port = free_port()
    down = runner.invoke(app, ["tracking", "check", "--tracking-uri", f"http://127.0.0.1:{port}"])
    assert down.exit_code == 2
    assert f"error: nothing listens on 127.0.0.1:{port} (connection refused)" in down.output
