"""serve refuses a port in use before it loads the model."""

from __future__ import annotations

import socket

import pytest

from textclf.errors import ConfigError
from textclf.serving.server import check_port_free, run_server
from textclf.serving.settings import ServeSettings


def test_a_port_in_use_is_one_line_and_a_free_one_passes() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^--port {port}: cannot listen on 127\.0\.0\.1:"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # released: free again


def test_run_server_checks_the_port_before_the_model_folder(tmp_path) -> None:
    pytest.importorskip("uvicorn")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # the folder does not exist: had the model been loaded first, that error would win
        with pytest.raises(ConfigError, match="cannot listen"):
            run_server(tmp_path / "no-model", ServeSettings(), port=port)


def _damaged_copy(tiny_model_dir, tmp_path):
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a copy cut short
    return folder


def test_damaged_weights_are_one_line_not_a_bug(tiny_model_dir, tmp_path) -> None:
    from textclf.errors import ModelLoadError
    from textclf.modeling import load_classifier

    with pytest.raises(ModelLoadError, match=r"model\.safetensors\) is damaged"):
        load_classifier(_damaged_copy(tiny_model_dir, tmp_path))


def test_several_workers_load_the_model_once_before_uvicorn_respawns_them(
    tiny_model_dir, tmp_path, monkeypatch
) -> None:
    # uvicorn's supervisor respawns a worker that dies at start-up forever; the parent must
    # fail first, in one line.
    uvicorn = pytest.importorskip("uvicorn")
    import os
    import signal

    from textclf.errors import ModelLoadError

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(a))
    # run_server sets these for the process it becomes; keep this one's as they are.
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(signal, "signal", lambda *a: handler)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = _damaged_copy(tiny_model_dir, tmp_path)
    with pytest.raises(ModelLoadError, match="damaged"):
        run_server(folder, ServeSettings(), port=port, workers=2)
    assert not started


def test_ray_refuses_settings_its_proxy_would_ignore(tmp_path) -> None:
    pytest.importorskip("ray")
    from textclf.serving.ray import run_ray

    keys = tmp_path / "keys.txt"
    keys.write_text("k1\n")
    for settings, flag in (
        (ServeSettings(api_key_file=str(keys)), "--api-key-file"),
        (ServeSettings(cors_origins=("https://a.example",)), "--cors-origin"),
    ):
        # Refused before Ray starts and before the (missing) folder is read.
        with pytest.raises(ConfigError, match=rf"^{flag}: Ray Serve's proxy does not apply"):
            run_ray(tmp_path / "no-model", settings, port=0)
