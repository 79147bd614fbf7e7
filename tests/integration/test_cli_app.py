"""`textclf app` (starts Streamlit with the right script, options and environment),
`textclf app hash-password`, and `textclf feedback export | stats`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

import textclf.app
from textclf.app import settings as app_settings
from textclf.app.settings import AppSettings
from textclf.auth import verify_password
from textclf.cli import _APP_ENV, app
from textclf.data.io import ColumnSpec, read_split
from textclf.feedback import FeedbackRecord, FeedbackStore

pytestmark = pytest.mark.usefixtures("restore_cli_state")


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"w")
    (folder / "textclf.json").write_text(
        json.dumps({"task": "multiclass", "labels": ["alpha", "beta", "gamma"]})
    )
    return folder


class _FakeProcess:
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        _FakeProcess.calls.append({"cmd": cmd, "env": env})

    def wait(self) -> int:
        return 0


def test_env_names_match_what_the_app_reads():
    assert _APP_ENV == {
        "models": app_settings.MODELS_ENV,
        "max_upload_mb": app_settings.MAX_UPLOAD_MB_ENV,
        "max_rows": app_settings.MAX_ROWS_ENV,
        "examples": app_settings.EXAMPLES_ENV,
    }


def test_app_starts_streamlit_with_the_options(runner, tmp_path: Path, monkeypatch):
    model = _model(tmp_path / "run")
    users = tmp_path / "users.toml"
    users.write_text('[users]\nann = "scrypt$16$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA"\n')
    db = tmp_path / "fb" / "feedback.sqlite3"
    _FakeProcess.calls = []
    monkeypatch.setattr(subprocess, "Popen", _FakeProcess)
    result = runner.invoke(
        app,
        ["app", "--model", str(model), "--port", "8765", "--headless", "--max-upload-mb", "2.5",
         "--max-rows", "500", "--auth", str(users), "--feedback-db", str(db), "--theme", "dark"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [call] = _FakeProcess.calls
    cmd, env = call["cmd"], call["env"]
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    assert Path(cmd[4]) == Path(textclf.app.__file__).with_name("main.py")
    opts = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert opts["--server.port"] == "8765" and opts["--server.headless"] == "true"
    assert opts["--server.maxUploadSize"] == "3" and opts["--theme.base"] == "dark"
    assert opts["--client.showErrorDetails"] == "none"
    assert db.is_file()  # the store is created before the server starts
    # What the app reads back from that environment.
    cfg = AppSettings.from_env(env)
    assert cfg.models == (model.resolve(),)
    assert cfg.feedback_db == db.resolve()
    assert (cfg.max_upload_mb, cfg.max_rows) == (2.5, 500)
    assert list(cfg.users) == ["ann"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no model given"),
        (["--model", "missing-folder"], "missing-folder: model folder not found"),
        (["--model", "empty"], "no model folder found in empty"),
        (["--port", "99999"], "--port 99999: must be between 1 and 65535"),
        (["--theme", "pink"], "--theme pink"),
        (["--auth", "users.toml"], "password hash is invalid"),
        (["--model", "broken"], "textclf.json line 1: not valid JSON"),
    ],
)
def test_app_errors_stop_before_the_server(runner, tmp_path: Path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    model = _model(tmp_path / "run")
    (tmp_path / "users.toml").write_text('[users]\nann = "plain"\n')
    (tmp_path / "empty").mkdir()
    broken = _model(tmp_path / "broken")
    (broken / "textclf.json").write_text('{"task":')
    if args and args[0] != "--model":
        args = ["--model", str(model), *args]
    _FakeProcess.calls = []
    monkeypatch.setattr(subprocess, "Popen", _FakeProcess)
    result = runner.invoke(app, ["app", *args, "--feedback-db", str(tmp_path / "f.db")])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.startswith("error:")
    assert _FakeProcess.calls == []


def test_app_on_a_port_in_use_stops_before_the_banner(runner, tmp_path: Path, monkeypatch):
    import socket

    model = _model(tmp_path / "run")
    _FakeProcess.calls = []
    monkeypatch.setattr(subprocess, "Popen", _FakeProcess)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["app", "--model", str(model), "--port", str(port), "--address", "127.0.0.1"]
        result = runner.invoke(app, [*args, "--feedback-db", str(tmp_path / "f.db")])
    assert result.exit_code == 2
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--address" in result.stderr and "textclf app on" not in result.stdout
    assert _FakeProcess.calls == []


def test_hash_password_from_stdin(runner):
    result = runner.invoke(app, ["app", "hash-password", "--password-stdin"], input="s3cret\n")
    assert result.exit_code == 0, result.output
    encoded = result.stdout.strip()
    assert verify_password("s3cret", encoded) and not verify_password("other", encoded)
    toml = runner.invoke(
        app, ["app", "hash-password", "--password-stdin", "--user", "ann"], input="pw\n"
    )
    assert toml.stdout.startswith('[users]\nann = "scrypt$')


def _store_with_feedback(path: Path) -> FeedbackStore:
    store = FeedbackStore(path)
    labels = ["alpha", "beta", "gamma"]
    for i, (pred, right) in enumerate([("alpha", "alpha"), ("alpha", "beta"), ("gamma", "beta")]):
        store.add(
            FeedbackRecord(
                text=f"text {i}",
                task="multiclass",
                model_labels=labels,
                predicted=[pred],
                scores=dict.fromkeys(labels, 1 / 3),
                labels=[right],
                model_fingerprint="sha256:" + "0" * 64,
                user="ann" if i == 2 else None,
            )
        )
    store.add(
        FeedbackRecord(
            text="other model",
            task="binary",
            model_labels=["neg", "pos"],
            predicted=["pos"],
            scores={"neg": 0.2, "pos": 0.8},
            labels=["neg"],
            model_fingerprint="sha256:" + "1" * 64,
        )
    )
    return store


def test_feedback_export_writes_a_training_file(runner, tmp_path: Path):
    db = tmp_path / "feedback.sqlite3"
    _store_with_feedback(db)
    out = tmp_path / "fb.csv"
    mixed = runner.invoke(app, ["feedback", "export", "--db", str(db), "--output", str(out)])
    assert mixed.exit_code == 2 and "different label sets" in mixed.stderr
    assert not out.exists()
    model = _model(tmp_path / "run")
    result = runner.invoke(
        app, ["feedback", "export", "--db", str(db), "--model", str(model), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 3 examples" in result.stdout and "1 confirmed, 2 corrected" in result.stdout
    assert f"textclf train --train {out}" in result.stdout
    split = read_split(out, ColumnSpec(), name="train")
    assert split.dataset["labels"] == [["alpha"], ["beta"], ["beta"]]
    only = runner.invoke(
        app,
        ["feedback", "export", "--db", str(db), "--fingerprint", "sha256:1", "-o", str(tmp_path / "b.jsonl")],
    )  # fmt: skip
    assert only.exit_code == 0 and "Wrote 1 examples" in only.stdout
    ann = runner.invoke(
        app,
        ["feedback", "export", "--db", str(db), "--user", "ann", "-o", str(tmp_path / "a.csv")],
    )
    assert ann.exit_code == 0 and "Wrote 1 examples" in ann.stdout
    assert pd.read_csv(tmp_path / "a.csv")["text"].tolist() == ["text 2"]
    bob = runner.invoke(
        app,
        ["feedback", "export", "--db", str(db), "--user", "bob", "-o", str(tmp_path / "b.csv")],
    )
    assert bob.exit_code == 2 and "user=bob" in bob.stderr and not (tmp_path / "b.csv").exists()


def test_feedback_export_without_a_database(runner, tmp_path: Path):
    result = runner.invoke(
        app,
        ["feedback", "export", "--db", str(tmp_path / "none.db"), "-o", str(tmp_path / "x.csv")],
    )
    assert result.exit_code == 2
    assert "none.db: no feedback database here" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_feedback_stats(runner, tmp_path: Path):
    db = tmp_path / "feedback.sqlite3"
    _store_with_feedback(db)
    model = _model(tmp_path / "run")
    result = runner.invoke(app, ["feedback", "stats", "--db", str(db), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "3 verdicts: 1 confirmed, 2 corrected" in result.stdout
    assert "beta" in result.stdout and "Labels most often corrected" in result.stdout


def test_app_without_a_terminal_is_headless_and_never_prompts(runner, tmp_path: Path, monkeypatch):
    # A service manager or a container starts the app with no terminal: Streamlit's
    # first-run e-mail prompt would wait on stdin forever, and no browser can open.
    model = _model(tmp_path / "run")
    _FakeProcess.calls = []
    monkeypatch.setattr(subprocess, "Popen", _FakeProcess)
    result = runner.invoke(
        app, ["app", "--model", str(model), "--feedback-db", str(tmp_path / "f.sqlite3")]
    )
    assert result.exit_code == 0, result.output
    [call] = _FakeProcess.calls
    opts = dict(zip(call["cmd"][5::2], call["cmd"][6::2], strict=True))
    assert opts["--server.headless"] == "true"
    assert opts["--server.showEmailPrompt"] == "false"


def test_a_missing_database_says_where_its_path_came_from(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TEXTCLF_FEEDBACK_DB", str(tmp_path / "env.db"))
    result = runner.invoke(app, ["feedback", "stats"])
    assert result.exit_code == 2
    assert "env.db: no feedback database here (named by TEXTCLF_FEEDBACK_DB)" in result.stderr
    given = runner.invoke(app, ["feedback", "stats", "--db", str(tmp_path / "given.db")])
    assert "(given with --db)" in given.stderr
