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
