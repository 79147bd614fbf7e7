"""Server settings: checked once, one-line errors; API key files; the JSON hand-over to workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from textclf.errors import ConfigError
from textclf.serving.settings import ServeSettings, read_api_keys


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch_tokens": 0}, "--max-batch-tokens must be at least 1, not 0."),
        ({"max_wait_ms": -1}, "--max-wait-ms must be 0 or more, not -1."),
        ({"max_chars": 0}, "--max-chars must be at least 1, not 0."),
        ({"parallel_batches": 0}, "--parallel-batches must be at least 1, not 0."),
        ({"backend": "tensorrt"}, "--backend tensorrt: unknown backend (use auto, torch or onnx)."),
        ({"backend": "onx"}, "--backend onx: unknown backend; did you mean 'onnx'?"),
        ({"device": "cdua"}, "--device cdua: unknown device; did you mean 'cuda'?"),
        ({"max_queue_texts": 10, "max_texts_per_request": 20}, "could never be queued"),
    ],
)
def test_bad_settings_fail_in_one_line(kwargs, message: str):
    with pytest.raises(ConfigError) as info:
        ServeSettings(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_character_limit_defaults_to_eight_per_token():
    assert ServeSettings().chars_limit(128) == 1024
    assert ServeSettings(max_chars=50).chars_limit(128) == 50


def test_settings_survive_the_json_hand_over():
    settings = ServeSettings(
        cors_origins=("https://a.example",), max_chars=99, api_key_file="/k", parallel_batches=2
    )
    assert ServeSettings.from_json(settings.to_json()) == settings


def test_limits_never_show_keys(tmp_path: Path):
    limits = ServeSettings(api_key_file=str(tmp_path / "keys")).limits(64)
    assert limits["auth"] is True
    assert str(tmp_path) not in str(limits)


def test_api_key_file_reads_keys_skips_comments_and_refuses_empty(tmp_path: Path, caplog):
    good = tmp_path / "keys"
    good.write_text("# comment\n\n  key-one  \nkey-two\n", encoding="utf-8")
    good.chmod(0o644)
    assert read_api_keys(good) == ("key-one", "key-two")
    assert "readable by other users" in caplog.text
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no key"):
        read_api_keys(empty)
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        read_api_keys(tmp_path / "missing")


def test_default_engines_fill_the_cores_and_leave_a_core_to_the_loop(monkeypatch):
    from textclf.serving import server

    monkeypatch.setattr(server, "_cores", lambda: 2)
    assert server.default_threads() == 1
    assert server.default_parallel_batches(1, 1) == 2  # two one-thread batches on 2 cores
    assert server.default_parallel_batches(1, 2) == 1
    monkeypatch.setattr(server, "_cores", lambda: 16)
    assert server.default_threads(2) == 7
    assert server.default_parallel_batches(2, 7) == 1


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (" 2 ", 2), ("0", None), ("abc", None)])
def test_engine_threads_from_the_environment_ignore_what_is_not_a_count(
    monkeypatch, value: str, expected
):
    from textclf.inference.onnx import env_threads

    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert env_threads() == expected
