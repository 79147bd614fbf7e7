"""``textclf serve`` hands its options to ``python -m textclf.serving`` as one JSON spec."""

from __future__ import annotations

import json
import sys

import pytest

from textclf.cli import serve as serve_cli
from textclf.serving.__main__ import main


def test_server_command_is_this_python_running_the_serving_package():
    spec = {"model_dir": "/m", "settings": {"max_wait_ms": 1.0}}
    command = serve_cli.server_command(spec)
    assert command[:3] == [sys.executable, "-m", "textclf.serving"]
    assert json.loads(command[3]) == spec


def test_the_cli_passes_every_option_through(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from textclf.cli import app

    seen: list[dict] = []
    monkeypatch.setattr(serve_cli, "_exec_server", seen.append)
    keys = tmp_path / "keys"
    result = CliRunner().invoke(
        app,
        [
            "serve", "--model", str(tmp_path), "--port", "9001", "--workers", "3",
            "--api-key-file", str(keys), "--cors-origin", "https://a", "--cors-origin", "https://b",
            "--max-texts-per-request", "7", "--max-chars", "500", "--max-wait-ms", "0",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (spec,) = seen
    assert spec["port"] == 9001 and spec["workers"] == 3 and spec["ray"] is False
    assert spec["settings"]["api_key_file"] == str(keys.resolve())
    assert spec["settings"]["cors_origins"] == ["https://a", "https://b"]
    assert spec["settings"]["max_texts_per_request"] == 7
    assert spec["settings"]["max_chars"] == 500
    assert spec["settings"]["max_wait_ms"] == 0.0


def test_the_server_entry_turns_user_errors_into_one_line_and_code_2(tmp_path, capsys):
    spec = {"model_dir": str(tmp_path / "missing"), "settings": {"max_batch_tokens": 0}}
    assert main(["textclf.serving", json.dumps(spec)]) == 2
    err = capsys.readouterr().err
    assert err == "error: --max-batch-tokens must be at least 1, not 0.\n"


@pytest.mark.parametrize("ray", [False, True], ids=["uvicorn", "ray"])
def test_the_server_entry_gives_either_server_the_address(monkeypatch, ray: bool):
    from textclf.serving import ray as ray_serving
    from textclf.serving import server

    calls: list[tuple[str, dict]] = []

    def record(model_dir: str, settings: object, **kwargs: object) -> None:
        calls.append((model_dir, kwargs))

    monkeypatch.setattr(server, "run_server", record)
    monkeypatch.setattr(ray_serving, "run_ray", record)
    spec = {"model_dir": "/m", "host": "0.0.0.0", "port": "9001", "ray": ray}
    assert main(["textclf.serving", json.dumps(spec)]) == 0
    ((model_dir, kwargs),) = calls
    assert model_dir == "/m"
    assert (kwargs["host"], kwargs["port"]) == ("0.0.0.0", 9001)
    assert ("replicas" in kwargs) == ray and ("workers" in kwargs) != ray
