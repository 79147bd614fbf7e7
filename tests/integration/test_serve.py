"""``textclf serve`` as a real process, and the Ray Serve deployment on a local Ray.

The uvicorn test holds a request in flight with the server's delay fault point
(``TEXTCLF_SERVE_DELAY_MS``: every forward pass sleeps first), sends SIGTERM while the
server reports it in flight, and checks that it is still answered, that the drain comes
after the shutdown began, and that the process exits with 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests_support import free_port, start_module, wait_until_up

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

TEXT = "apple and apricot with almond number 1"


def http(url: str, payload: dict[str, Any] | None = None, timeout: float = 30) -> tuple[int, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            return r.status, json.loads(body) if body.startswith(b"{") else body.decode()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_ready(base: str, proc: subprocess.Popen, deadline_s: float = 180) -> None:
    if not wait_until_up(f"{base}/ready", proc, deadline_s):
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        raise AssertionError(f"server not ready after {deadline_s} s")


def in_flight(base: str) -> float:
    _, text = http(f"{base}/metrics")
    match = re.search(r"^textclf_requests_in_flight (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.slow
def test_textclf_serve_answers_then_drains_on_sigterm_and_exits_0(trained_run, tmp_path: Path):
    model = trained_run("multiclass")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TEXTCLF_SERVE_DELAY_MS": "3000", "PYTHONUNBUFFERED": "1"}
    stderr = tmp_path / "server.log"
    args = ["textclf.cli", "serve", "--model", str(model), "--port", str(port), "--device", "cpu"]
    proc = start_module(args, stderr, env=env)
    try:
        wait_ready(base, proc)
        answer: dict[str, Any] = {}

        def predict() -> None:
            answer["status"], answer["body"] = http(
                f"{base}/v1/predict", {"text": TEXT}, timeout=60
            )

        client = threading.Thread(target=predict)
        client.start()
        deadline = time.monotonic() + 30
        while in_flight(base) < 2:  # the scrape itself and the held predict
            assert time.monotonic() < deadline, "the predict request never arrived"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        client.join(60)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = stderr.read_text()
    assert code == 0, output[-3000:]
    assert answer["status"] == 200, answer
    (record,) = answer["body"]["predictions"]
    assert record["label"] in ("alpha", "beta", "gamma")
    # The request was answered after the shutdown began: it was drained, not dropped.
    shutdown = output.index("Shutting down")
    access = re.search(r"\S+ POST /v1/predict 200 texts=1 ", output)
    assert access is not None, output[-3000:]
    assert access.start() > shutdown, output[-3000:]
    assert "Drained; stopped." in output


@pytest.mark.slow
def test_textclf_serve_refuses_a_missing_model_in_one_line(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "textclf.cli",
            "serve",
            "--model",
            str(tmp_path / "nope"),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "model folder not found" in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray's own pydantic v1-style fields
def test_ray_serve_deployment_answers_like_the_server(trained_run):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from ray import serve

    from textclf.inference.pipeline import Predictor
    from textclf.serving.ray import build_app

    model = trained_run("multilabel")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as e:  # pragma: no cover - depends on the sandbox
        pytest.skip(f"Ray cannot start here: {type(e).__name__}: {e}")
    try:
        serve.start(proxy_location="Disabled")
        handle = serve.run(build_app({"model_dir": str(model), "replicas": 1}), route_prefix=None)
        status, body = handle.predict.remote({"texts": [TEXT, "banana"], "top_k": 2}).result(
            timeout_s=120
        )
        bad_status, bad = handle.predict.remote({"texts": [1]}).result(timeout_s=60)
    finally:
        serve.shutdown()
        ray.shutdown()
    predictor = Predictor.from_folder(model, device="cpu")
    assert status == 200
    assert [r["labels"] for r in body["predictions"]] == predictor.predict([TEXT, "banana"])
    scores = [r["scores"][lab] for r in body["predictions"] for lab in predictor.info.labels]
    assert scores == pytest.approx(predictor.predict_proba([TEXT, "banana"]).ravel(), abs=1e-5)
    assert bad_status == 422
    assert bad["error"] == "Field 'texts[0]': input should be a valid string."
