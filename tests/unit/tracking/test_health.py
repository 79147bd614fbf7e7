"""The tracking health check: each failure is named, with its fix, within seconds."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")

from mlflow import MlflowClient

from tests_support import free_port
from textclf.tracking.health import (
    check_tracking,
    mlflow_http_limits,
    resolve_uri,
    ui_hint,
)


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 404
    body = b"<html><body>Not Found</body></html>"
    content_type = "text/html"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """An HTTP server that answers every GET with ``request.param = (status, body)``."""
    status, body = request.param
    handler = type("H", (_Handler,), {"status": status, "body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def test_unresolvable_host_is_a_dns_problem() -> None:
    report = check_tracking("http://nonexistent.invalid:5000", "e", timeout=3)
    assert not report.ok
    assert report.problem == "dns"
    assert "'nonexistent.invalid'" in report.message
    assert "DNS" in report.message


def test_closed_port_is_refused() -> None:
    port = free_port()
    report = check_tracking(f"http://127.0.0.1:{port}", "e", timeout=3)
    assert (report.ok, report.problem) == (False, "refused")
    assert f"nothing listens on 127.0.0.1:{port} (connection refused)" in report.message
    assert "start the MLflow server" in report.message


@pytest.mark.parametrize(
    ("fake_server", "problem", "phrases"),
    [
        pytest.param(
            (404, b"<html>Not Found</html>"),
            "not_mlflow",
            ["is not an MLflow tracking server", "HTTP 404"],
            id="not_mlflow",
        ),
        pytest.param(
            (401, b"Unauthorized"),
            "auth",
            ["refused the credentials (HTTP 401)", "MLFLOW_TRACKING_USERNAME"],
            id="refused_credentials",
        ),
    ],
    indirect=["fake_server"],
)
def test_a_server_that_answers_wrongly_is_named(
    fake_server: str, problem: str, phrases: list[str]
) -> None:
    report = check_tracking(fake_server, "e", timeout=3)
    assert (report.ok, report.problem) == (False, problem)
    for phrase in phrases:
        assert phrase in report.message


@pytest.mark.parametrize("fake_server", [(200, b"2.9.4")], indirect=True)
def test_another_major_version_is_a_version_mismatch(fake_server: str) -> None:
    report = check_tracking(fake_server, "e", timeout=3)
    assert (report.ok, report.problem) == (False, "version")
    assert report.server_version == "2.9.4"
    assert "runs MLflow 2.9.4" in report.message
    assert "major versions differ" in report.message


def test_missing_experiment_is_created_then_found(sqlite_uri: str) -> None:
    report = check_tracking(sqlite_uri, "created-by-check")
    assert report.ok, report.message
    assert report.experiment_action == "created"
    assert "experiment 'created-by-check' created" in report.message
    experiment = MlflowClient(sqlite_uri).get_experiment_by_name("created-by-check")
    assert experiment is not None and experiment.experiment_id == report.experiment_id
    again = check_tracking(sqlite_uri, "created-by-check")
    assert (again.experiment_action, again.experiment_id) == ("found", report.experiment_id)


def test_deleted_experiment_is_restored(sqlite_uri: str) -> None:
    client = MlflowClient(sqlite_uri)
    experiment_id = client.create_experiment("deleted-then-restored")
    client.delete_experiment(experiment_id)
    report = check_tracking(sqlite_uri, "deleted-then-restored")
    assert report.ok, report.message
    assert (report.experiment_action, report.experiment_id) == ("restored", experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_without_create_a_missing_experiment_is_reported(sqlite_uri: str) -> None:
    report = check_tracking(sqlite_uri, "never-created", create=False)
    assert (report.ok, report.problem) == (False, "experiment")
    assert "'never-created' does not exist" in report.message
    assert MlflowClient(sqlite_uri).get_experiment_by_name("never-created") is None


def test_missing_store_folder_is_named(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'no-such-folder' / 'mlflow.db'}"
    report = check_tracking(uri, "e")
    assert (report.ok, report.problem) == (False, "store")
    assert str(tmp_path / "no-such-folder") in report.message
    assert not (tmp_path / "no-such-folder").exists()


def test_an_unknown_scheme_is_one_sentence_with_the_known_ones() -> None:
    report = check_tracking("bogus://x", "e")
    assert (report.ok, report.problem) == (False, "store")
    assert report.message.startswith("the tracking URI bogus://x has a scheme MLflow cannot")
    assert "sqlite" in report.message and "http" in report.message
    assert "Supported URI schemes" not in report.message and "mlflow.org" not in report.message


def test_resolve_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri(None) == f"sqlite:///{tmp_path.as_posix()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team:5000")
    assert resolve_uri(None) == "http://team:5000"
    assert resolve_uri("http://mine:5000") == "http://mine:5000"


def test_ui_hint() -> None:
    assert (
        ui_hint("sqlite:////x/mlflow.db") == "mlflow ui --backend-store-uri sqlite:////x/mlflow.db"
    )
    assert ui_hint("http://h:5000") == "open http://h:5000 in a browser"


def test_http_limits_are_scoped_and_keep_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")
    with mlflow_http_limits(retries=0, timeout=3):
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
