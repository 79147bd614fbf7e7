"""App settings from the environment, and finding model folders (one, several, nested)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from textclf.app.settings import AppSettings, discover_models, model_names
from textclf.auth import hash_password
from textclf.errors import ConfigError


def _model(folder: Path, *, sidecar: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"w")
    if sidecar:
        (folder / "textclf.json").write_text("{}")
    return folder


def test_a_model_folder_is_itself(tmp_path: Path):
    m = _model(tmp_path / "run")
    _model(m / "checkpoints" / "checkpoint-10", sidecar=False)
    assert discover_models([m]) == [m.resolve()]


def test_a_folder_of_runs_offers_each_finished_model(tmp_path: Path):
    a = _model(tmp_path / "runs" / "b-run")
    b = _model(tmp_path / "runs" / "a-run")
    nested = _model(tmp_path / "runs" / "group" / "c-run")
    _model(tmp_path / "runs" / "a-run" / "checkpoints" / "checkpoint-5", sidecar=False)
    _model(tmp_path / "runs" / "plain-hf", sidecar=False)  # not offered when searching
    found = discover_models([tmp_path / "runs"])
    assert found == [b.resolve(), a.resolve(), nested.resolve()]
    # A plain Hugging Face folder given directly is accepted.
    plain = (tmp_path / "runs" / "plain-hf").resolve()
    assert discover_models([tmp_path / "runs" / "plain-hf"]) == [plain]


def test_no_model_and_missing_folder_are_clear(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no model folder found in .*empty"):
        discover_models([tmp_path / "empty"])
    with pytest.raises(ConfigError, match="missing: model folder not found"):
        discover_models([tmp_path / "missing"])


def test_names_are_short_and_unique(tmp_path: Path):
    paths = [tmp_path / "x" / "model", tmp_path / "y" / "model", tmp_path / "z" / "other"]
    assert list(model_names(paths).values()) == ["x/model", "y/model", "other"]


def test_settings_from_env(tmp_path: Path):
    a, b = _model(tmp_path / "a"), _model(tmp_path / "b")
    env = {
        "TEXTCLF_APP_MODELS": os.pathsep.join([str(a), str(b)]),
        "TEXTCLF_FEEDBACK_DB": str(tmp_path / "fb.sqlite3"),
        "TEXTCLF_APP_MAX_UPLOAD_MB": "2.5",
        "TEXTCLF_APP_MAX_ROWS": "500",
        "TEXTCLF_APP_USERS": "ann:" + hash_password("pw", n=16),
    }
    cfg = AppSettings.from_env(env)
    assert cfg.models == (a.resolve(), b.resolve())
    assert cfg.feedback_db == tmp_path / "fb.sqlite3"
    assert (cfg.max_upload_bytes, cfg.max_rows) == (int(2.5 * 1024 * 1024), 500)
    assert cfg.login_required and list(cfg.users) == ["ann"]
    # With login, a user sees their own feedback; a reviewer, everyone's.
    assert cfg.reviewers == frozenset() and not cfg.sees_all_feedback("ann")
    reviewed = AppSettings.from_env({**env, "TEXTCLF_APP_REVIEWERS": "ann"})
    assert reviewed.sees_all_feedback("ann") and not reviewed.sees_all_feedback(None)
    plain = AppSettings.from_env({"TEXTCLF_APP_MODELS": str(a)})
    assert not plain.login_required and plain.max_rows == 100_000
    assert plain.sees_all_feedback(None)  # without login, one person uses the app


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TEXTCLF_APP_MODELS": ""}, "no model given"),
        ({"TEXTCLF_APP_MAX_ROWS": "many"}, "TEXTCLF_APP_MAX_ROWS='many' is not a number"),
        ({"TEXTCLF_APP_MAX_UPLOAD_MB": "-1"}, "must be positive"),
        ({"TEXTCLF_APP_USERS": "ann:plaintext"}, "password hash is invalid"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path: Path, extra: dict[str, str], message: str):
    env = {"TEXTCLF_APP_MODELS": str(_model(tmp_path / "m")), **extra}
    with pytest.raises(ConfigError, match=message):
        AppSettings.from_env(env)
