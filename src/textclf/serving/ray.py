"""Scale-out on Ray Serve: replicas of the same predictor behind Ray's HTTP proxy.

Each replica loads the model folder once and batches concurrent texts with
``@serve.batch``; requests and responses are the REST server's (:mod:`.schemas`,
:mod:`.predict`): ``POST /v1/predict``, ``GET /info``, ``GET /health``. Ray batches by a
count of texts (``batch_size``, default 64), not tokens: its ``batch_size_fn`` re-sums the whole batch
for every arrival, which costs more than it saves for short texts, and the engine
cuts its own sub-batches anyway.

Run it from the command line::

    textclf serve --model runs/demo --ray --replicas 2 --port 8000
    serve run textclf.serving.ray:build_app model_dir=runs/demo replicas=2

or from Python::

    from ray import serve
    handle = serve.run(build_app({"model_dir": "runs/demo"}))
    handle.predict.remote({"text": "my card is lost"}).result()
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from textclf.errors import ConfigError, missing_extra
from textclf.serving.predict import TooManyTextsError, batch_scores, prepare_texts, respond
from textclf.serving.schemas import PredictRequest, validation_message
from textclf.serving.settings import ServeSettings

try:
    import ray
    from ray import serve
    from ray.serve import Application
except ImportError as e:  # pragma: no cover - depends on the install
    raise missing_extra("ray", "ray") from e

logger = logging.getLogger(__name__)


def _error(status: int, message: str, error_type: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": message, "error_type": error_type, "request_id": None}


@serve.deployment(name="textclf")
class TextclfDeployment:
    """One replica: a predictor and a ``@serve.batch`` queue in front of it.

    Args:
        model_dir: A model folder from ``textclf train``.
        settings_json: :meth:`ServeSettings.to_json` (batch size and wait, limits, device).
    """

    def __init__(self, model_dir: str, settings_json: str | None = None) -> None:
        from textclf.feedback import model_fingerprint
        from textclf.serving.app import load_predictor

        self.settings = ServeSettings.from_json(settings_json) if settings_json else ServeSettings()
        self.predictor: Any = load_predictor(model_dir, self.settings)
        self.info = self.predictor.info
        self.fingerprint = model_fingerprint(model_dir)
        self.max_chars = self.settings.chars_limit(self.info.max_length)
        batched: Any = self._scores  # serve.batch's wrapper carries the setters
        batched.set_max_batch_size(self.settings.batch_size or 64)
        batched.set_batch_wait_timeout_s(self.settings.max_wait_ms / 1000.0)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002)
    async def _scores(self, texts: list[str]) -> list[np.ndarray]:
        # Off the replica's event loop, so it keeps accepting requests during a forward pass.
        rows = await asyncio.to_thread(self._batch, texts)
        return list(rows)

    def _batch(self, texts: list[str]) -> np.ndarray:
        return batch_scores(self.info, self.predictor.logits(texts))

    async def predict(self, payload: Any) -> tuple[int, dict[str, Any]]:
        """Status and body for a ``/v1/predict`` payload (a JSON object)."""
        try:
            request = PredictRequest.model_validate(payload)
        except ValidationError as e:
            return _error(422, validation_message(e.errors()), "validation")
        try:
            prepared = prepare_texts(
                request, max_texts=self.settings.max_texts_per_request, max_chars=self.max_chars
            )
        except TooManyTextsError as e:
            return _error(413, str(e), "payload_too_large")
        try:
            rows = await asyncio.gather(*(self._scores(t) for t in prepared.texts))
        except Exception as e:
            logger.exception("The model failed on a request.")
            return _error(500, f"The model failed on this request ({type(e).__name__}).", "backend")
        body = respond(
            np.stack(rows),
            request,
            self.info,
            model=self.fingerprint,
            texts=prepared.texts,
            truncated=prepared.truncated,
        )
        return 200, body

    def model_info(self) -> dict[str, Any]:
        """What ``GET /info`` returns (the REST server's keys that apply here)."""
        from textclf._version import __version__

        return {
            "task": self.info.task,
            "labels": list(self.info.labels),
            "decision_rule": self.info.rule.to_dict(),
            "max_length": self.info.max_length,
            "backbone": self.info.served_backbone,
            "model_fingerprint": self.fingerprint,
            "textclf_version": __version__,
            "limits": self.settings.limits(self.info.max_length),
        }

    async def __call__(self, http: Any) -> Any:
        """HTTP entry (a Starlette request from Ray's proxy)."""
        from starlette.responses import JSONResponse

        path = http.url.path.rstrip("/")
        if http.method == "POST" and path.endswith("/v1/predict"):
            if int(http.headers.get("content-length") or 0) > self.settings.max_request_bytes:
                status, body = _error(
                    413, "The request body is too large; split it.", "payload_too_large"
                )
                return JSONResponse(body, status_code=status)
            try:
                payload = await http.json()
            except ValueError:
                status, body = _error(422, "The request body is not valid JSON.", "validation")
                return JSONResponse(body, status_code=status)
            status, body = await self.predict(payload)
            return JSONResponse(body, status_code=status)
        if http.method == "GET" and path.endswith("/info"):
            return JSONResponse(self.model_info())
        if http.method == "GET" and (path.endswith("/health") or path.endswith("/ready")):
            return JSONResponse({"status": "ok"})
        status, body = _error(404, f"No endpoint {http.url.path}.", "not_found")
        return JSONResponse(body, status_code=status)


def build_app(args: dict[str, Any]) -> Application:
    """The application for ``serve run textclf.serving.ray:build_app model_dir=DIR [replicas=N]``.

    Args:
        args: ``model_dir`` (required), ``replicas`` (default 1), ``num_cpus`` per replica
            (default 1), ``settings`` (:meth:`ServeSettings.to_json`, optional).

    Raises:
        ConfigError: without ``model_dir``, or for fewer than one replica.
    """
    if not args.get("model_dir"):
        raise ConfigError(
            "give the model folder: serve run textclf.serving.ray:build_app model_dir=DIR"
        )
    replicas = int(args.get("replicas", 1))
    if replicas < 1:
        raise ConfigError(f"replicas must be at least 1, not {replicas}.")
    settings = args.get("settings") or ServeSettings().to_json()
    batch = ServeSettings.from_json(settings).batch_size or 64
    deployment = TextclfDeployment.options(  # type: ignore[attr-defined]
        num_replicas=replicas,
        # @serve.batch only fills a batch from requests the replica has accepted.
        max_ongoing_requests=max(64, 2 * batch),
        ray_actor_options={"num_cpus": float(args.get("num_cpus", 1))},
    )
    return deployment.bind(str(Path(args["model_dir"]).resolve()), settings)


def run_ray(
    model_dir: str | os.PathLike[str],
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    replicas: int = 1,
) -> None:
    """Start a local Ray, serve ``replicas`` copies of the model on ``host:port`` until
    SIGTERM/SIGINT, then shut Serve down (it drains replicas) and stop Ray.

    Raises:
        ModelLoadError: for a folder that is not a model folder.
        ConfigError: for fewer than one replica.
    """
    from textclf.auth import open_to_network
    from textclf.ports import check_port_free
    from textclf.serving.app import check_loadable

    # Security and browser settings the replicas do not apply are refused, not ignored: a
    # key file taken in silence would leave the model open to anyone who can reach it.
    for name, value, flag in (
        ("API keys", settings.api_key_file, "--api-key-file"),
        ("CORS", settings.cors_origins, "--cors-origin"),
    ):
        if value:
            raise ConfigError(
                f"{flag}: Ray Serve's proxy does not apply {name}; serve without --ray (uvicorn "
                f"applies them), or drop {flag} and put a gateway in front of Ray."
            )
    if replicas < 1:
        raise ConfigError(f"--replicas must be at least 1, not {replicas}.")
    check_port_free(host, port)
    warning = open_to_network(host, "classify texts", "a gateway in front of Ray")
    if warning:
        logger.warning("Ray Serve: %s", warning)
    check_loadable(model_dir, settings)  # not in Ray's deployment error after its start-up
    stop = threading.Event()
    ray.init(include_dashboard=False)
    # After ray.init, whose core installs a SIGTERM handler that dumps a stack and dies.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(
            build_app(
                {"model_dir": str(model_dir), "replicas": replicas, "settings": settings.to_json()}
            ),
            name="textclf",
            route_prefix="/",
        )
        logger.info("Ray Serve: %d replica(s) on http://%s:%d/v1/predict.", replicas, host, port)
        stop.wait()
        logger.info("Shutting down Ray Serve (draining replicas).")
        serve.shutdown()
    finally:
        ray.shutdown()
