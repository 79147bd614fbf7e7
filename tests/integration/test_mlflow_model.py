"""MLflow with a real (tiny) training run: the logged model, and a required tracker that fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")

from mlflow import MlflowClient

from textclf.config import ExperimentConfig, apply_overrides
from textclf.errors import TrackingError
from textclf.tracking.mlflow import MlflowTracker
from textclf.tracking.sync import sync_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_multilabel_model_logs_as_a_pyfunc_that_applies_the_decision_rule(
    store: str,
    tmp_path: Path,
    trained_run: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import mlflow

    from textclf.inference.pipeline import Predictor

    model_dir = trained_run("multilabel")
    tracker = MlflowTracker(store, "models", local_dir=tmp_path / "run" / "tracking")
    tracker.start_run("ml")
    capfd.readouterr()
    caplog.clear()
    with caplog.at_level("INFO"):
        tracker.log_model(model_dir, task="multilabel", registered_model=None)
        info = tracker.end_run()
    # MLflow tries the input example on a copy of the logged model: silently.
    printed = capfd.readouterr()
    assert "Downloading artifacts" not in printed.out + printed.err
    assert not [r for r in caplog.records if r.name.startswith("textclf.inference")]
    assert info.run_id and info.fallback is None
    client = MlflowClient(store)
    experiment_id = client.get_run(info.run_id).info.experiment_id
    (logged,) = client.search_logged_models(experiment_ids=[experiment_id])
    assert logged.source_run_id == info.run_id

    texts = ["apple and banana with grape", "guava only", "basil and almond number 3"]
    predictor = Predictor.from_folder(model_dir)
    pyfunc = mlflow.pyfunc.load_model(logged.artifact_location)  # models:/ needs the global URI
    meta = pyfunc.metadata.metadata["textclf"]
    assert meta["task"] == "multilabel" and meta["labels"] == predictor.info.labels
    assert meta["decision_rule"]["thresholds"] == predictor.info.rule.thresholds
    served = pyfunc.predict(pd.DataFrame({"text": texts}))
    assert served["labels"].tolist() == predictor.predict(texts)  # thresholds, not 0.5
    proba = predictor.predict_proba(texts)  # sigmoids after the temperature
    for row, scores in zip(proba, served["scores"], strict=True):
        assert list(scores) == predictor.info.labels
        np.testing.assert_allclose(list(scores.values()), row, atol=1e-5)
    shipped_dir = mlflow.artifacts.download_artifacts(f"{logged.artifact_location}/artifacts/model")
    shipped = {p.name for p in Path(shipped_dir).iterdir()}
    assert {"textclf.json", "model.safetensors", "config.json"} <= shipped
    assert not shipped & {"eval", "checkpoints", "tracking"}  # the model, not the run

    # Replaying the journal into the same store does not log the model twice.
    (again,) = sync_runs([tmp_path / "run"], uri=store)
    assert again.ok and again.sent == 0
    assert len(client.search_logged_models(experiment_ids=[experiment_id])) == 1


def test_required_tracker_that_fails_stops_the_run_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    multiclass_csv: Path,
    tiny_model_dir: Path,
) -> None:
    from textclf.experiment import run_experiment

    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    cfg = apply_overrides(
        ExperimentConfig(),
        [
            f"output_dir={tmp_path / 'run'}",
            f"data.train={multiclass_csv}",
            f"model.name={tiny_model_dir}",
            "tracking.uri=http://127.0.0.1:9",
            "tracking.required=true",
        ],
    )
    with pytest.raises(TrackingError, match=r"nothing listens on 127\.0\.0\.1:9"):
        run_experiment(cfg)
    assert not (tmp_path / "run").exists()
