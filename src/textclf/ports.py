"""Whether a TCP port is free, checked before a server spends seconds loading a model.

Shared by ``textclf serve`` (uvicorn and Ray) and ``textclf app`` (Streamlit), which
otherwise announce an address and then fail with the server's own message.
"""

from __future__ import annotations

import socket

from textclf.errors import ConfigError


def check_port_free(host: str, port: int, *, host_flag: str = "--host") -> None:
    """Refuse a port another process listens on, before seconds go into loading the model.

    Binds and releases it as uvicorn will (``SO_REUSEADDR``), so a port left in TIME_WAIT by
    a server that just stopped still counts as free.

    Raises:
        ConfigError: naming the address, when it cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({e.strerror}); stop what "
                f"uses it, or choose another --port or {host_flag}."
            ) from None
