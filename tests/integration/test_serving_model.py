"""The FastAPI app on a real (tiny) trained model: it answers as the Predictor does."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
from fastapi.testclient import TestClient

from textclf.serving.app import create_app
from textclf.serving.settings import ServeSettings

pytestmark = pytest.mark.slow


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "server never became ready"
        time.sleep(0.01)


def test_server_agrees_with_the_predictor(trained_run, task: str):
    from textclf.inference.pipeline import Predictor

    folder = trained_run(task)
    predictor = Predictor.from_folder(folder, device="cpu")
    texts = ["apple and apricot with almond", "banana and basil number 3", "grape guava"]
    app = create_app(predictor, ServeSettings(device="cpu"), model_dir=folder)
    with TestClient(app) as c:
        wait_ready(c)
        body = c.post("/v1/predict", json={"texts": texts}).json()
        info = c.get("/info").json()
    proba = predictor.predict_proba(texts)
    expected = predictor.predict(texts)
    got_scores = np.array(
        [[r["scores"][lab] for lab in predictor.info.labels] for r in body["predictions"]]
    )
    np.testing.assert_allclose(got_scores, proba, atol=1e-5)
    key = "labels" if task == "multilabel" else "label"
    assert [r[key] for r in body["predictions"]] == expected
    from textclf.feedback import model_fingerprint

    assert body["model"] == info["model_fingerprint"] == model_fingerprint(folder)
    assert info["scores"] == ("sigmoid" if task == "multilabel" else "softmax")
