"""The REST app through FastAPI's TestClient: every endpoint, limit and error.

Most tests serve a stub model with fixed logits (known answers for the decision rule);
one serves the tiny trained models and checks the server agrees with the Predictor.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
from fastapi.testclient import TestClient

from tests_support import GatedCalls
from textclf.evaluation.decision import DecisionRule
from textclf.persistence import ModelInfo
from textclf.serving.app import DELAY_ENV, create_app
from textclf.serving.settings import ServeSettings


class StubModel(GatedCalls):
    """Fixed logits per text; can be held on an event to keep requests in flight."""

    def __init__(
        self, info: ModelInfo, row: list[float], *, gated: bool = False, fail: bool = False
    ) -> None:
        super().__init__(gated=gated)
        self.info = info
        self.row = np.asarray(row, dtype=np.float32)
        self.fail = fail

    def logits(self, texts):
        self.pass_gate(texts, timeout=20)
        if self.fail and texts != ["warm-up"]:
            raise RuntimeError("CUDA error: device-side assert\nsecond line")
        return np.tile(self.row, (len(texts), 1))


def multilabel_info() -> ModelInfo:
    rule = DecisionRule(task="multilabel", temperature=2.0, thresholds=[0.3, 0.9, 0.5])
    backbone = {"name": "all-MiniLM-L6-v2", "path": "/home/alice/models/minilm", "sha256": "ab"}
    return ModelInfo(
        task="multilabel", labels=["a", "b", "c"], rule=rule, max_length=32, backbone=backbone
    )


def multiclass_info() -> ModelInfo:
    return ModelInfo(task="multiclass", labels=["x", "y", "z"], max_length=32)


def binary_info() -> ModelInfo:
    rule = DecisionRule(task="binary", thresholds=0.8)
    return ModelInfo(task="binary", labels=["neg", "pos"], rule=rule, max_length=32)


def wait_ready(client: TestClient, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "server never became ready"
        time.sleep(0.01)


def serve(model: StubModel, **settings) -> TestClient:
    return TestClient(create_app(model, ServeSettings(**settings), fingerprint="sha256:stub"))


@pytest.fixture
def multilabel_client():
    with serve(StubModel(multilabel_info(), [0.0, 2.0, -6.0])) as client:
        wait_ready(client)
        yield client


# -- endpoints ------------------------------------------------------------------------


def test_health_ready_info_metrics_and_docs(multilabel_client: TestClient):
    c = multilabel_client
    assert c.get("/health").json() == {"status": "ok"}
    assert c.get("/ready").json() == {"status": "ready"}
    info = c.get("/info").json()
    assert info["task"] == "multilabel"
    assert info["labels"] == ["a", "b", "c"]
    assert info["scores"] == "sigmoid"
    assert info["thresholds"] == {"a": 0.3, "b": 0.9, "c": 0.5}
    assert info["temperature"] == 2.0
    assert info["decision_rule"]["thresholds"] == [0.3, 0.9, 0.5]
    assert info["model_fingerprint"] == "sha256:stub"
    # Named, but not by a folder of the training machine (security review).
    assert info["backbone"] == {"name": "all-MiniLM-L6-v2", "sha256": "ab"}
    assert info["textclf_version"]
    assert info["limits"]["max_texts_per_request"] == 128
    assert info["limits"]["max_chars"] == 8 * 32
    assert info["parallel_batches"] == 1  # an app built directly runs one batch at a time
    c.post("/v1/predict", json={"texts": ["one", "two"]})
    metrics = c.get("/metrics").text
    assert 'textclf_requests_total{endpoint="/v1/predict",status="200"} 1.0' in metrics
    # The two texts sent, not the start-up warm-up text no client sent.
    assert "textclf_texts_total 2.0" in metrics
    assert "textclf_batch_size_texts_bucket" in metrics
    assert "textclf_queue_depth_texts" in metrics
    assert "textclf_texts_per_second" in metrics
    assert "textclf_request_duration_seconds_bucket" in metrics
    assert 'textclf_model_info{fingerprint="sha256:stub"' in metrics
    schema = c.get("/openapi.json").json()
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert {"text", "texts", "threshold", "top_k"} <= set(body["schema"]["properties"])
    assert c.get("/docs").status_code == 200


def test_ready_only_after_the_warm_up_batch():
    model = StubModel(multiclass_info(), [1.0, 0.0, 0.0], gated=True)
    with serve(model) as client:
        assert model.entered.wait(20)  # the warm-up batch is in the model
        assert client.get("/health").json() == {"status": "ok"}
        not_ready = client.get("/ready")
        model.gate.set()
        wait_ready(client)
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "warming"}
    assert model.seen[0] == ["warm-up"]


# -- predictions and the decision rule -----------------------------------------------


def test_multilabel_scores_are_sigmoids_and_labels_follow_saved_thresholds(
    multilabel_client: TestClient,
):
    body = multilabel_client.post("/v1/predict", json={"text": "anything"}).json()
    assert body["model"] == "sha256:stub"
    assert body["task"] == "multilabel"
    (record,) = body["predictions"]
    scores = record["scores"]
    # Temperature 2: sigmoid(0/2) = 0.5, sigmoid(2/2) = 0.731, sigmoid(-6/2) = 0.047.
    assert scores == pytest.approx({"a": 0.5, "b": 0.731059, "c": 0.047426}, abs=1e-6)
    assert sum(scores.values()) != pytest.approx(1.0, abs=0.05)  # not a softmax
    # a: 0.5 >= 0.3; b: 0.73 < its 0.9; c: 0.05 < 0.5.
    assert record["labels"] == ["a"]
    assert "label" not in record


def test_threshold_override_applies_to_every_label(multilabel_client: TestClient):
    body = multilabel_client.post("/v1/predict", json={"text": "t", "threshold": 0.6}).json()
    assert body["predictions"][0]["labels"] == ["b"]


def test_binary_threshold_saved_and_overridden():
    with serve(StubModel(binary_info(), [0.0, 1.0])) as client:  # p(pos) = 0.731
        saved = client.post("/v1/predict", json={"text": "t"}).json()
        low = client.post("/v1/predict", json={"text": "t", "threshold": 0.5}).json()
    assert saved["predictions"][0]["label"] == "neg"  # below the saved 0.8
    assert low["predictions"][0]["label"] == "pos"


def test_multiclass_softmax_top_k_ids_text_and_abstention():
    with serve(StubModel(multiclass_info(), [2.0, 1.0, 0.0])) as client:
        body = client.post(
            "/v1/predict",
            json={"texts": ["p", "q"], "ids": ["A-1", 7], "top_k": 2, "return_text": True},
        ).json()
        abstain = client.post("/v1/predict", json={"text": "p", "threshold": 0.9}).json()
    first, second = body["predictions"]
    assert [first["row"], second["row"]] == [0, 1]
    assert [first["id"], second["id"]] == ["A-1", 7]
    assert [first["text"], second["text"]] == ["p", "q"]
    assert first["label"] == "x"
    assert sum(first["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert [t["label"] for t in first["top_k"]] == ["x", "y"]
    assert first["top_k"][0]["score"] == first["scores"]["x"]
    # Top probability 0.665 is below the 0.9 override: the model abstains.
    assert abstain["predictions"][0]["label"] is None


def test_records_are_the_prediction_record_schema(multilabel_client: TestClient):
    from textclf.inference.records import prediction_records

    body = multilabel_client.post("/v1/predict", json={"texts": ["a", "b"], "top_k": 1}).json()
    info = multilabel_info()
    proba = info.rule.probabilities(np.tile([0.0, 2.0, -6.0], (2, 1)))
    expected = prediction_records(proba, info.rule.decide(proba), info.space, top_k=1)
    assert body["predictions"] == expected


# -- limits ---------------------------------------------------------------------------


def test_too_many_texts_is_413():
    with serve(
        StubModel(multiclass_info(), [1, 0, 0]), max_texts_per_request=2, max_queue_texts=2
    ) as c:
        r = c.post("/v1/predict", json={"texts": ["a", "b", "c"]})
    assert r.status_code == 413
    assert r.json()["error_type"] == "payload_too_large"
    assert "at most 2" in r.json()["error"]


def test_too_many_bytes_is_413_declared_or_streamed():
    with serve(StubModel(multiclass_info(), [1, 0, 0]), max_request_bytes=100) as c:
        declared = c.post("/v1/predict", json={"text": "x" * 200})

        def chunks():
            yield b'{"text": "'
            yield b"x" * 200
            yield b'"}'

        streamed = c.post(
            "/v1/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        small = c.post("/v1/predict", json={"text": "fits"})
    assert declared.status_code == 413
    assert "100 bytes" in declared.json()["error"]
    assert streamed.status_code == 413
    assert streamed.json()["error_type"] == "payload_too_large"
    assert small.status_code == 200


def test_long_texts_are_cut_to_the_character_limit():
    model = StubModel(multiclass_info(), [1, 0, 0])
    with serve(model, max_chars=5) as c:
        wait_ready(c)
        body = c.post("/v1/predict", json={"texts": ["short", "much longer text"]}).json()
    assert body["truncated"] == [1]
    assert model.seen[-1] == ["short", "much "]


def test_full_queue_is_429_with_retry_after():
    model = StubModel(multiclass_info(), [1, 0, 0], gated=True)
    results: dict[str, int] = {}
    with serve(model, max_queue_texts=2, max_texts_per_request=2, max_wait_ms=0) as c:
        assert model.entered.wait(20)  # the warm-up holds the model
        model.entered.clear()
        state = c.app.state.textclf

        def post(name: str, texts: list[str]) -> None:
            results[name] = c.post("/v1/predict", json={"texts": texts}).status_code

        queued = threading.Thread(target=post, args=("queued", ["a", "b"]))
        queued.start()
        deadline = time.monotonic() + 20
        while state.batcher.queued_texts < 2:  # the queue is now full
            assert time.monotonic() < deadline, "request never queued"
            time.sleep(0.005)
        refused = c.post("/v1/predict", json={"text": "one more"})
        model.gate.set()
        queued.join(20)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error_type"] == "overloaded"
    assert results["queued"] == 200


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"texts": ["ok", 3]}, "Field 'texts[1]': input should be a valid string."),
        ({"texts": []}, "Field 'texts': list should have at least 1 item after validation, not 0."),
        ({"text": "a", "texts": ["b"]}, "Give either 'text' or 'texts'."),
        ({}, "Give either 'text' or 'texts'."),
        ({"text": "a", "top_k": 0}, "Field 'top_k': input should be greater than or equal to 1."),
        (
            {"text": "a", "threshold": 2},
            "Field 'threshold': input should be less than or equal to 1.",
        ),
        ({"text": "a", "ids": [1, 2]}, "'ids' has 2 values for 1 texts."),
        ({"text": "  "}, "The text in 'text' is empty or only whitespace; send text to classify."),
        (
            {"texts": ["ok", "", "\t"]},
            "The text in texts[1] (and 1 more) is empty or only whitespace; send text to classify.",
        ),
        (
            {"txt": "a"},
            "Unknown field 'txt'; the fields are text, texts, ids, top_k, threshold and return_text.",
        ),
        ([1, 2], "The request body must be a JSON object with 'text' or 'texts'."),
    ],
)
def test_malformed_requests_get_422_with_one_sentence(
    multilabel_client: TestClient, payload, message: str
):
    r = multilabel_client.post("/v1/predict", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["error_type"] == "validation"
    assert body["error"][0].isupper() or body["error"][0] == "'"
    assert body["error"] == message[0].upper() + message[1:]
    assert "\n" not in body["error"]
    assert body["request_id"] == r.headers["x-request-id"]


def test_invalid_json_and_missing_body_are_422(multilabel_client: TestClient):
    bad = multilabel_client.post(
        "/v1/predict", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    empty = multilabel_client.post("/v1/predict")
    assert bad.status_code == 422
    assert bad.json()["error"] == "The request body is not valid JSON."
    assert empty.status_code == 422
    assert empty.json()["error"] == "The request needs a JSON body with 'text' or 'texts'."


def test_unknown_paths_and_methods(multilabel_client: TestClient):
    assert multilabel_client.get("/v2/predict").json()["error_type"] == "not_found"
    r = multilabel_client.get("/v1/predict")
    assert r.status_code == 405
    assert r.json()["error"] == "GET is not allowed on /v1/predict; see /docs."


def test_a_model_failure_is_a_one_line_500_and_the_server_goes_on(caplog):
    model = StubModel(multiclass_info(), [1, 0, 0], fail=True)
    with serve(model) as c:
        wait_ready(c)
        with caplog.at_level(logging.ERROR, logger="textclf.serving"):
            r = c.post("/v1/predict", json={"text": "t"}, headers={"X-Request-ID": "req-42"})
        model.fail = False
        after = c.post("/v1/predict", json={"text": "t"})
    assert r.status_code == 500
    assert r.json() == {
        "error": "The model failed on this request (RuntimeError); the server log has the "
        "details under request id req-42.",
        "error_type": "backend",
        "request_id": "req-42",
    }
    assert any("req-42" in rec.getMessage() for rec in caplog.records)
    assert after.status_code == 200


# -- auth, CORS, request ids, access log ----------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    path.write_text("# rotated monthly\nold-key\nnew-key\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_api_key_required_except_for_probes_and_docs(key_file: Path):
    model = StubModel(multiclass_info(), [1, 0, 0])
    with serve(model, api_key_file=str(key_file)) as c:
        wait_ready(c)
        missing = c.post("/v1/predict", json={"text": "t"})
        wrong = c.post("/v1/predict", json={"text": "t"}, headers={"X-API-Key": "nope"})
        bearer = c.post(
            "/v1/predict", json={"text": "t"}, headers={"Authorization": "Bearer new-key"}
        )
        header = c.post("/v1/predict", json={"text": "t"}, headers={"X-API-Key": "old-key"})
        info = c.get("/info")
        metrics = c.get("/metrics", headers={"Authorization": "bearer old-key"})
        probes = [c.get(p).status_code for p in ("/health", "/ready", "/openapi.json")]
        summary = c.get("/openapi.json").json()["info"]["summary"]
    assert missing.status_code == wrong.status_code == info.status_code == 401
    # Open without a key, the schema names no label (security review).
    assert summary == "multiclass text classifier, 3 labels"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error_type"] == "unauthorized"
    assert bearer.status_code == header.status_code == metrics.status_code == 200
    assert probes == [200, 200, 200]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_server_and_need_no_key(key_file: Path, page: str):
    # Offline networks: FastAPI's own pages fetch their scripts from a CDN and stay blank.
    with serve(StubModel(multiclass_info(), [1, 0, 0]), api_key_file=str(key_file)) as c:
        html = c.get(page)
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html.text)
        urls = [u for pair in urls for u in pair if u]
        assets = {u: c.get(u) for u in urls if u.startswith("/docs/assets/")}
        metrics = c.get("/metrics", headers={"X-API-Key": "old-key"}).text
    assert html.status_code == 200
    assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
    assert assets and all(r.status_code == 200 and r.content for r in assets.values())
    assert all(r.headers["cache-control"] == "max-age=3600" for r in assets.values())
    assert html.headers["cache-control"] == "no-store"
    # Asset paths are one metrics label, not one per file.
    assert 'endpoint="/docs/assets"' in metrics


def test_cors_is_off_by_default_and_on_for_given_origins():
    origin = {"Origin": "https://example.org"}
    with serve(StubModel(multiclass_info(), [1, 0, 0])) as c:
        off = c.get("/health", headers=origin)
    with serve(StubModel(multiclass_info(), [1, 0, 0]), cors_origins=("https://example.org",)) as c:
        on = c.get("/health", headers=origin)
        preflight = c.options(
            "/v1/predict",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
    assert "access-control-allow-origin" not in off.headers
    assert on.headers["access-control-allow-origin"] == "https://example.org"
    assert preflight.status_code == 200


def test_request_ids_are_echoed_or_generated_and_logged(multilabel_client: TestClient, caplog):
    with caplog.at_level(logging.INFO, logger="textclf.serving.access"):
        given = multilabel_client.post(
            "/v1/predict", json={"texts": ["a", "b"]}, headers={"X-Request-ID": "abc-123"}
        )
        unsafe = multilabel_client.post(
            "/v1/predict", json={"text": "a"}, headers={"X-Request-ID": "bad id\nforged"}
        )
    assert given.headers["x-request-id"] == "abc-123"
    generated = unsafe.headers["x-request-id"]
    assert len(generated) == 32 and generated != "bad id\nforged"
    lines = [r.getMessage() for r in caplog.records if r.name == "textclf.serving.access"]
    assert any(line.startswith("abc-123 POST /v1/predict 200 texts=2 ") for line in lines)
    assert any(line.startswith(f"{generated} POST /v1/predict 200 texts=1 ") for line in lines)


def test_delay_fault_point_slows_every_forward_pass(monkeypatch):
    monkeypatch.setenv(DELAY_ENV, "50")
    with serve(StubModel(multiclass_info(), [1, 0, 0])) as c:
        wait_ready(c)
        started = time.perf_counter()
        assert c.post("/v1/predict", json={"text": "t"}).status_code == 200
        assert time.perf_counter() - started >= 0.05


def test_a_path_cannot_forge_an_access_log_line(multilabel_client: TestClient, caplog):
    """Security review: the URL-decoded path was logged as it came, so anyone, without a
    key, could write a line of their own into the log with an encoded newline."""
    with caplog.at_level(logging.INFO, logger="textclf.serving.access"):
        multilabel_client.get("/x%0aINFO:%20%20%20%20%20FORGED%20admin%20logged%20in")
    lines = [r.getMessage() for r in caplog.records if r.name == "textclf.serving.access"]
    assert lines and all("\n" not in line for line in lines)
    assert any("/x\\x0aINFO:" in line for line in lines)
    reply = multilabel_client.post("/v1/predict", json={"text": "a"})
    assert reply.headers["cache-control"] == "no-store"  # it may echo the texts
    assert reply.headers["x-content-type-options"] == "nosniff"
