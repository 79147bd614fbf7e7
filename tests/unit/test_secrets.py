"""Passwords in a tracking URI or a storage URL never reach a file, a parameter or the console
(security review: they were in config.yaml, the MLflow parameters, the logged model and the
summary)."""

from __future__ import annotations

import pytest

from textclf.config import ExperimentConfig, apply_overrides
from textclf.tracking.base import flatten_params
from textclf.tracking.health import resolve_uri


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


def test_a_tracking_uri_gives_its_credentials_to_mlflow_and_keeps_none():
    import os

    config = apply_overrides(
        ExperimentConfig(),
        [
            "tracking.uri=https://alice:hunter%402@mlflow.hospital.example:5000/",
            "tune.storage=postgresql://optuna:dbpass@db.hospital.example/optuna",
        ],
    )
    assert config.tracking.uri == "https://mlflow.hospital.example:5000/"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "hunter@2"
    assert config.tune.storage == "postgresql://optuna:dbpass@db.hospital.example/optuna"
    written = config.to_yaml() + repr(flatten_params(config.public_dump()))
    assert "hunter" not in written and "dbpass" not in written
    assert "postgresql://optuna:***@db.hospital.example/optuna" in written


def test_the_environment_uri_is_used_without_its_password(monkeypatch: pytest.MonkeyPatch):
    import os

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://bob:s3cr3t@127.0.0.1:5998")
    assert resolve_uri(None) == "http://127.0.0.1:5998"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cr3t"
    assert resolve_uri("sqlite:///x.db") == "sqlite:///x.db"  # nothing to strip
