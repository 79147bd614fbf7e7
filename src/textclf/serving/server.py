"""Run the REST app under uvicorn: one process, or ``workers`` processes on one port.

Shutdown is uvicorn's: on SIGTERM or SIGINT it stops accepting connections, waits up to
``graceful_timeout_s`` for the requests in flight, then runs the app's shutdown, which
drains the batcher (:meth:`MicroBatcher.close`). The process then exits with code 0.

Example:
    >>> run_server("runs/demo", ServeSettings(), port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from textclf.auth import open_to_network
from textclf.errors import ConfigError, missing_extra
from textclf.inference.onnx import env_threads
from textclf.ports import check_port_free
from textclf.serving.metrics import MULTIPROC_ENV
from textclf.serving.settings import ServeSettings

logger = logging.getLogger(__name__)


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus textclf's loggers (worker processes start unconfigured)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["textclf"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def default_threads(workers: int = 1) -> int:
    """Engine threads per worker: the usable cores split among workers, less one for each
    worker's event loop (at least 1).

    OpenMP's threads spin at every barrier, so one that loses its core to the event loop
    stalls the others: on a busy 2-core machine (load average 10), 2 engine threads served
    13 texts/s and 1 thread 86 texts/s (bench/serve_load.py).
    """
    return max(1, _cores() // workers - 1)


def default_parallel_batches(workers: int, threads: int) -> int:
    """Micro-batches at once per worker: as many as its cores hold engines of ``threads``.

    On 2 cores that is two single-threaded batches: a two-threaded batch waits at every
    barrier for the thread the event loop interrupted. At concurrency 32 (Banking77 model,
    bench/serve_load.py) one two-threaded batch at a time served 856 texts/s, two
    single-threaded ones 926 and 968.
    """
    return max(1, _cores() // workers // max(1, threads))


def _cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully
    # (Server.capture_signals), which would end the process with 128 + 15 after a clean
    # drain. This handler, which uvicorn restores before re-raising, ends it with 0.
    raise SystemExit(0)


def run_server(
    model_dir: str | os.PathLike[str],
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    graceful_timeout_s: float = 30.0,
    log_level: str = "info",
    threads: int | None = None,
) -> None:
    """Serve a model folder until SIGTERM/SIGINT; return after draining.

    Args:
        model_dir: A model folder from ``textclf train``.
        settings: Batching, limits, auth and CORS.
        host: Interface to bind (``0.0.0.0`` for every interface).
        port: TCP port.
        workers: Processes, each with its own copy of the model, sharing the port.
        graceful_timeout_s: Longest wait for requests in flight at shutdown.
        log_level: uvicorn's and textclf's log level.
        threads: Threads of the engine in each process (``OMP_NUM_THREADS``); default
            :func:`default_threads`.

    Raises:
        ConfigError: for bad settings or an unreadable API key file.
        ModelLoadError: for a folder that cannot be loaded.
        MissingExtraError: without the ``serve`` extra.
    """
    try:
        import uvicorn
    except ImportError as e:
        raise missing_extra("uvicorn", "serve") from e
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}.")
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, not {port}.")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, not {threads}.")
    check_port_free(host, port)
    if settings.api_key_file is None:
        warning = open_to_network(
            host, "classify texts and read /info and /metrics", "--api-key-file"
        )
        if warning:
            logger.warning("Serving: %s", warning)
    # Set before the engine is imported (it reads it once), unless the environment has.
    if threads is not None or "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(threads or default_threads(workers))
    if settings.parallel_batches is None:
        engine = env_threads() or default_threads(workers)
        settings = dataclasses.replace(
            settings, parallel_batches=default_parallel_batches(workers, engine)
        )
    signal.signal(signal.SIGTERM, _exit_quietly)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": _log_config(log_level.upper()),
        "log_level": log_level,
        # The gateway writes one access line per request, with its id and text count.
        "access_log": False,
        "timeout_graceful_shutdown": graceful_timeout_s,
        "server_header": False,
    }
    if workers == 1:
        from textclf.serving.app import create_app, load_predictor

        # Loaded before listening: a broken folder fails here, in one line, with exit 2.
        predictor = load_predictor(model_dir, settings)
        uvicorn.run(create_app(predictor, settings, model_dir=model_dir), **options)
        return
    import json

    from textclf.serving.app import APP_ENV, check_loadable

    check_loadable(model_dir, settings)  # before the workers, which uvicorn would respawn

    os.environ[APP_ENV] = json.dumps(
        {"model_dir": str(Path(model_dir).resolve()), "settings": settings.to_json()}
    )
    with tempfile.TemporaryDirectory(prefix="textclf-metrics-") as metrics_dir:
        os.environ.setdefault(MULTIPROC_ENV, metrics_dir)
        uvicorn.run("textclf.serving.app:app_from_env", factory=True, workers=workers, **options)
