"""``textclf serve``: a REST server for a model folder (FastAPI on uvicorn, or Ray Serve)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from textclf.cli._common import STATE, Backend, Device, TrainedModel, run


def serve(
    model: TrainedModel,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            help="File of accepted API keys, one per line; clients send 'Authorization: "
            "Bearer <key>' or 'X-API-Key: <key>'. Without it there is no authentication.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes, each with its own copy of the model.")
    ] = 1,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="Allow this browser origin (repeatable); CORS is off without it."
        ),
    ] = None,
    max_batch_tokens: Annotated[
        int, typer.Option("--max-batch-tokens", help="Token budget of one forward pass.")
    ] = 16384,
    max_wait_ms: Annotated[
        float,
        typer.Option("--max-wait-ms", help="Longest a request waits for others to share a batch."),
    ] = 2.0,
    max_queue_texts: Annotated[
        int, typer.Option("--max-queue-texts", help="Texts allowed to wait; beyond it 429.")
    ] = 4096,
    max_texts_per_request: Annotated[
        int, typer.Option("--max-texts-per-request", help="Texts in one request; beyond it 413.")
    ] = 128,
    max_request_bytes: Annotated[
        int, typer.Option("--max-request-bytes", help="Bytes of one request body; beyond it 413.")
    ] = 2_000_000,
    max_chars: Annotated[
        int | None,
        typer.Option("--max-chars", help="Characters kept of each text (default: 8 × max_length)."),
    ] = None,
    backend: Backend = "auto",
    device: Device = "auto",
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            help="Engine threads of each batch (default: cores / workers - 1, at least 1: one core is left to each event loop).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="Texts per forward pass (default: the engine's choice)."),
    ] = None,
    parallel_batches: Annotated[
        int | None,
        typer.Option(
            "--parallel-batches",
            help="Micro-batches run at once per worker, each in its own thread (default: "
            "cores / workers / --threads, at least 1).",
        ),
    ] = None,
    graceful_timeout: Annotated[
        float,
        typer.Option(
            "--graceful-timeout", help="Seconds to wait for requests in flight at shutdown."
        ),
    ] = 30.0,
    use_ray: Annotated[
        bool, typer.Option("--ray", help="Serve with Ray Serve (local Ray) instead of uvicorn.")
    ] = False,
    replicas: Annotated[
        int, typer.Option("--replicas", help="Ray Serve replicas (with --ray).")
    ] = 1,
) -> None:
    """Serve a model over HTTP: POST /v1/predict, /health, /ready, /info, /metrics, /docs.

    Runs until SIGTERM or Ctrl-C, then drains the requests in flight and exits with 0.
    """
    settings = {
        "max_batch_tokens": max_batch_tokens,
        "max_wait_ms": max_wait_ms,
        "max_queue_texts": max_queue_texts,
        "max_texts_per_request": max_texts_per_request,
        "max_request_bytes": max_request_bytes,
        "max_chars": max_chars,
        "api_key_file": str(api_key_file.expanduser().resolve()) if api_key_file else None,
        "cors_origins": list(cors_origin or ()),
        "backend": backend,
        "device": device,
        "batch_size": batch_size,
        "parallel_batches": parallel_batches,
    }
    spec = {
        "model_dir": str(model.expanduser().resolve()),
        "host": host,
        "port": port,
        "workers": workers,
        "graceful_timeout_s": graceful_timeout,
        "threads": threads,
        "ray": use_ray,
        "replicas": replicas,
        "log_level": "debug" if STATE["debug"] else "info",
        "debug": STATE["debug"],
        "settings": settings,
    }
    run(lambda: _exec_server(spec))


def server_command(spec: dict[str, Any]) -> list[str]:
    """The command line of the server process for a spec (see ``textclf.serving.__main__``)."""
    return [sys.executable, "-m", "textclf.serving", json.dumps(spec)]


def _exec_server(spec: dict[str, Any]) -> None:
    import importlib.util

    from textclf.errors import missing_extra

    for package in ("fastapi", "uvicorn", "prometheus_client"):
        if importlib.util.find_spec(package) is None:
            raise missing_extra(package, "serve")
    if spec["ray"] and importlib.util.find_spec("ray") is None:
        raise missing_extra("ray", "ray")
    # The CLI and the server are both edges and never import each other: this process
    # becomes the server, so signals reach uvicorn directly and its exit code is ours.
    sys.stdout.flush()
    sys.stderr.flush()
    command = server_command(spec)
    os.execv(command[0], command)
