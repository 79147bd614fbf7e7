"""The REST app: ``POST /v1/predict``, ``/health``, ``/ready``, ``/info``, ``/metrics``, docs.

Shaped after Hugging Face text-embeddings-inference's router (``router/src/http/server.rs``):
a token-budget batcher behind the handlers, 413 for oversized requests, 429 with
``Retry-After`` when the queue is full, errors as ``{"error", "error_type"}``. Unlike TEI's
``/predict``, a multi-label model gets independent sigmoids and its saved per-label
thresholds (:mod:`textclf.serving.predict`).

One ASGI middleware (the gateway) does what every request needs: the request id
(``X-Request-ID``, accepted or generated, echoed), the API key (401), the body-size limit
(413), metrics, one access-log line, and turning any unexpected exception into a one-line
500, so the server never dies on a request. The app is stateless: run several behind a
load balancer (``--workers N``, or :mod:`textclf.serving.ray`).

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> app = create_app(Predictor.from_folder("runs/demo"), model_dir="runs/demo")  # doctest: +SKIP
    >>> with TestClient(app) as client:  # doctest: +SKIP
    ...     client.post("/v1/predict", json={"text": "my card is lost"}).json()
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from textclf._version import __version__
from textclf.errors import missing_extra
from textclf.persistence import ModelInfo
from textclf.serving.batcher import ClosingError, MicroBatcher, QueueFullError
from textclf.serving.metrics import ServeMetrics
from textclf.serving.predict import TooManyTextsError, batch_scores, prepare_texts, respond
from textclf.serving.schemas import (
    ErrorResponse,
    PredictRequest,
    PredictResponse,
    validation_message,
)
from textclf.serving.settings import ServeSettings, read_api_keys

try:
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from fastapi_offline import FastAPIOffline
    from pydantic import ValidationError
    from starlette.exceptions import HTTPException
except ImportError as e:  # pragma: no cover - depends on the install
    raise missing_extra(getattr(e, "name", None) or "fastapi", "serve") from e

logger = logging.getLogger(__name__)
access_log = logging.getLogger("textclf.serving.access")

#: Environment of worker processes (``--workers N``): the model folder and the settings.
APP_ENV = "TEXTCLF_SERVE_APP"
#: Fault injection, as :mod:`textclf.faults` does for training: every forward pass first
#: sleeps this many milliseconds, so a test can hold requests in flight without timing races.
DELAY_ENV = "TEXTCLF_SERVE_DELAY_MS"

# Probes and scrapes come every few seconds; they are logged at DEBUG, the rest at INFO.
_QUIET = frozenset({"/health", "/ready", "/metrics"})
# No key needed: load-balancer probes, and the API's own description.
_OPEN = frozenset(
    {"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# The docs pages' scripts and styles, served from the installed package (no CDN): open too.
DOCS_ASSETS = "/docs/assets"
_ENDPOINTS = frozenset({"/v1/predict", "/info", DOCS_ASSETS, *_QUIET, *_OPEN})
# A client's request id is echoed into logs and headers: keep it to a safe alphabet.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_ERROR_TYPES = {
    400: "validation",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "validation",
    429: "overloaded",
    500: "backend",
    503: "unavailable",
}


class LogitsModel(Protocol):
    """What the server needs of a model: :class:`textclf.inference.pipeline.Predictor` has it."""

    @property
    def info(self) -> ModelInfo: ...

    def logits(self, texts: Sequence[str]) -> np.ndarray: ...


class ApiError(Exception):
    """An error answered as ``{"error", "error_type", "request_id"}`` with ``status``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class _State:
    model: LogitsModel
    settings: ServeSettings
    fingerprint: str
    batcher: MicroBatcher
    metrics: ServeMetrics
    api_keys: tuple[bytes, ...]
    max_chars: int
    device: str
    ready: bool = False
    draining: bool = False
    failure: str | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


def _error_body(status: int, message: str, request_id: str | None) -> dict[str, Any]:
    return {
        "error": message,
        "error_type": _ERROR_TYPES.get(status, "error"),
        "request_id": request_id,
    }


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _request_id(scope: MutableMapping[str, Any]) -> str:
    return str(scope.get("state", {}).get("request_id") or "-")


# ---------------------------------------------------------------------------------------
# The gateway: ids, auth, body limit, metrics, access log, last-resort 500
# ---------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Gateway:
    """Pure ASGI middleware (no per-request task, unlike Starlette's BaseHTTPMiddleware)."""

    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: _State
    ) -> None:
        self.app = app
        self.state = state

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if given is None:
            return False
        # hmac.compare_digest takes the same time wherever the strings differ; every key is
        # compared (no early exit), so the time does not say which key came close.
        ok = False
        for key in self.state.api_keys:
            ok |= hmac.compare_digest(given, key)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given_id = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given_id if _REQUEST_ID.match(given_id) else uuid.uuid4().hex
        local = scope.setdefault("state", {})
        local["request_id"] = request_id
        path: str = scope["path"]
        asset = path.startswith(DOCS_ASSETS + "/")
        endpoint = DOCS_ASSETS if asset else path if path in _ENDPOINTS else "other"
        status = 500
        response_started = False
        is_predict = path == "/v1/predict" and scope["method"] == "POST"
        state = self.state
        limit = state.settings.max_request_bytes

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                    # Predictions may echo the texts: never cached, never sniffed as HTML.
                    # The docs' scripts (2.8 MB, the same for everyone) may be cached.
                    (b"cache-control", b"max-age=3600" if asset else b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        async def reply(code: int, message: str, extra: dict[str, str] | None = None) -> None:
            body = json.dumps(_error_body(code, message, request_id)).encode("utf-8")
            head = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            head += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
            await send_with_id({"type": "http.response.start", "status": code, "headers": head})
            await send_with_id({"type": "http.response.body", "body": body})

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        state.metrics.in_flight.inc()
        if is_predict:
            state.batcher.arriving(+1)
            local["arrived"] = True
        try:
            if state.api_keys and not (path in _OPEN or asset) and not self._authorized(headers):
                await reply(
                    401,
                    "A valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await reply(413, _too_large(limit))
                return
            await self.app(scope, receive_limited, send_with_id)
        except Exception as e:
            logger.exception("Request %s failed: %s", request_id, _one_line(e))
            if not response_started:
                await reply(500, f"The server failed on this request ({_one_line(e)}).")
        finally:
            if is_predict and local.pop("arrived", False):
                state.batcher.arriving(-1)
            seconds = time.perf_counter() - started
            state.metrics.in_flight.dec()
            state.metrics.request(endpoint, status, seconds)
            access_log.log(
                logging.DEBUG if path in _QUIET else logging.INFO,
                "%s %s %s %d texts=%d %.1fms",
                request_id,
                scope["method"],
                _printable(path),
                status,
                local.get("texts", 0),
                seconds * 1000,
            )


def _printable(path: str) -> str:
    r"""The request path with control characters escaped: the path is logged before the key
    is checked, and a decoded ``%0a`` in it would otherwise forge a log line (security
    review).

    Example:
        >>> _printable("/x\nINFO: forged")
        '/x\\x0aINFO: forged'
    """
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", path)


def _too_large(limit: int) -> str:
    return f"The request body is larger than this server's limit of {limit} bytes; split it."


# ---------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------


def load_predictor(model_dir: str | os.PathLike[str], settings: ServeSettings) -> LogitsModel:
    """Load a model folder with the server's device and batch size.

    Raises:
        ModelLoadError: for a folder that cannot be loaded.
    """
    from textclf.inference.pipeline import Predictor

    # Only a batch size the user chose: otherwise the engine picks its own.
    extra: dict[str, Any] = {"batch_size": settings.batch_size} if settings.batch_size else {}
    return Predictor.from_folder(
        model_dir, backend=settings.backend, device=settings.device, **extra
    )


def check_loadable(model_dir: str | os.PathLike[str], settings: ServeSettings) -> None:
    """Load the model once and release it: for a process that starts others to serve it.

    uvicorn's supervisor respawns a worker that dies at start-up forever, and Ray reports a
    replica that cannot load only after its own start-up; a folder no worker can load
    (damaged weights, no ONNX export for ``--backend onnx``) must fail here, in one line.

    Raises:
        ModelLoadError: for a folder that cannot be loaded.
    """
    import gc

    predictor = load_predictor(model_dir, settings)
    del predictor
    gc.collect()


def _delayed(
    infer: Callable[[list[str]], np.ndarray], ms: float
) -> Callable[[list[str]], np.ndarray]:
    def slow(texts: list[str]) -> np.ndarray:
        time.sleep(ms / 1000.0)
        return infer(texts)

    return slow


def create_app(
    model: LogitsModel,
    settings: ServeSettings | None = None,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    fingerprint: str | None = None,
) -> FastAPI:
    """The FastAPI app serving ``model``.

    The model is warmed with one dummy batch after start-up; ``/ready`` answers 200 from
    then until shutdown begins. Shutdown drains: every queued text is still answered.

    Args:
        model: A loaded predictor (anything with ``info`` and ``logits(texts)``).
        settings: Batching, limits, auth and CORS (defaults: :class:`ServeSettings`).
        model_dir: The model folder, for its fingerprint.
        fingerprint: The fingerprint, when there is no folder (default ``"unknown"``).

    Returns:
        The app, for uvicorn or FastAPI's TestClient.

    Raises:
        ConfigError: for an unreadable API key file.
    """
    settings = settings or ServeSettings()
    info = model.info
    if fingerprint is None:
        from textclf.feedback import model_fingerprint

        fingerprint = model_fingerprint(model_dir) if model_dir is not None else "unknown"
    metrics = ServeMetrics()
    metrics.model_info.labels(info.task, fingerprint, __version__).set(1)

    def scores(texts: list[str]) -> np.ndarray:
        # In the model's thread, once per micro-batch (see textclf.serving.predict).
        return batch_scores(info, model.logits(texts))

    infer: Callable[[list[str]], np.ndarray] = scores
    delay = float(os.environ.get(DELAY_ENV) or 0)
    if delay > 0:
        logger.warning("%s=%g: every forward pass is delayed (fault injection).", DELAY_ENV, delay)
        infer = _delayed(scores, delay)
    batcher = MicroBatcher(
        infer,
        max_length=info.max_length,
        max_batch_tokens=settings.max_batch_tokens,
        max_queue_texts=settings.max_queue_texts,
        max_wait_ms=settings.max_wait_ms,
        parallel=settings.parallel_batches or 1,
        observer=metrics,
    )
    keys = read_api_keys(settings.api_key_file) if settings.api_key_file else ()
    state = _State(
        model=model,
        settings=settings,
        fingerprint=fingerprint,
        batcher=batcher,
        metrics=metrics,
        api_keys=tuple(k.encode("utf-8") for k in keys),
        max_chars=settings.chars_limit(info.max_length),
        # runs_on: a Predictor's device without loading torch beside an ONNX session.
        device=str(getattr(model, "runs_on", None) or getattr(model, "device", "unknown")),
    )

    async def warm_up() -> None:
        try:
            await batcher.submit(["warm-up"], request_id="warm-up", counted=False)
        except Exception as e:
            state.failure = f"the model failed its warm-up batch ({_one_line(e)})"
            logger.error("Not ready: %s.", state.failure)
            return
        state.ready = True
        logger.info("Model %s warmed up; ready.", fingerprint[:19])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        batcher.start()
        task = asyncio.get_running_loop().create_task(warm_up())
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)
        yield
        # uvicorn has stopped accepting connections and waited for open requests; anything
        # still queued is answered before the model thread stops.
        state.draining = True
        state.ready = False
        await batcher.close()
        metrics.close()
        logger.info("Drained; stopped.")

    # FastAPI's own /docs and /redoc fetch their scripts from a CDN, so they are blank on
    # the disconnected networks this server is often run on; these serve them locally.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="textclf",
        version=__version__,
        # /docs and /openapi.json stay open with keys set (a browser fetches them without
        # one): they name the task and the number of labels, not the labels (/info does,
        # behind the key).
        summary=f"{info.task} text classifier, {len(info.labels)} labels",
        lifespan=lifespan,
    )
    app.state.textclf = state
    _add_handlers(app)
    _add_routes(app, state)
    app.add_middleware(_Gateway, state=state)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        # Outermost: a browser's preflight carries no key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


def _add_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        body = _error_body(exc.status, exc.message, _request_id(request.scope))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        message = validation_message(exc.errors())
        return JSONResponse(_error_body(422, message, _request_id(request.scope)), status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = f"No endpoint {request.url.path}; see /docs for the API."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs."
        else:
            message = str(exc.detail).rstrip(".") + "."
        body = _error_body(exc.status_code, message, _request_id(request.scope))
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 413, 422, 429, 500, 503)
}


# The body is read and validated by the handler (pydantic-core parses the JSON bytes in one
# pass; FastAPI's dependency machinery took about a tenth of a request's time on the event
# loop, bench/serve_load.py), so the OpenAPI schema names it here, as FastAPI's docs show
# for a body the handler parses itself.
_PREDICT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
}


def _predict_request(raw: bytes) -> PredictRequest:
    """The request body, validated; 422 with one sentence otherwise."""
    if not raw.strip():
        raise ApiError(422, "The request needs a JSON body with 'text' or 'texts'.")
    try:
        return PredictRequest.model_validate_json(raw)
    except ValidationError as e:
        raise ApiError(422, validation_message(e.errors())) from e


def _add_routes(app: FastAPI, state: _State) -> None:
    settings = state.settings
    info = state.model.info

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        responses=_ERRORS,
        summary="Labels and every label's score for one or more texts",
        openapi_extra=_PREDICT_BODY,
    )
    async def predict(request: Request) -> Response:
        """Scores follow the saved temperature; labels follow the saved decision rule
        (per-label thresholds and sigmoids for multi-label), or ``threshold`` when given."""
        local = request.scope.setdefault("state", {})
        request_id = _request_id(request.scope)
        body = _predict_request(await request.body())
        try:
            prepared = prepare_texts(
                body, max_texts=settings.max_texts_per_request, max_chars=state.max_chars
            )
        except TooManyTextsError as e:
            raise ApiError(413, str(e)) from e
        local["texts"] = len(prepared.texts)
        try:
            future = state.batcher.submit(
                prepared.texts, request_id=request_id, arrived=local.pop("arrived", False)
            )
        except QueueFullError as e:
            raise ApiError(
                429,
                f"The server is overloaded ({state.batcher.queued_texts} texts queued); "
                f"retry in {e.retry_after} s.",
                headers={"Retry-After": str(e.retry_after)},
            ) from e
        except ClosingError as e:
            raise ApiError(
                503,
                "The server is shutting down; retry on another instance.",
                headers={"Retry-After": "1"},
            ) from e
        try:
            scores = await future
        except ClosingError as e:
            raise ApiError(503, "The server shut down before this request ran; retry it.") from e
        except Exception as e:
            logger.error("Request %s: the model failed: %s", request_id, _one_line(e))
            raise ApiError(
                500,
                f"The model failed on this request ({type(e).__name__}); the server log has "
                f"the details under request id {request_id}.",
            ) from e
        if prepared.truncated:
            state.metrics.truncated.inc(len(prepared.truncated))
        content = respond(
            scores,
            body,
            info,
            model=state.fingerprint,
            texts=prepared.texts,
            truncated=prepared.truncated,
        )
        # Returning a Response skips FastAPI's re-validation of the body it just built;
        # orjson writes the scores' floats several times faster than json.
        return Response(orjson.dumps(content), media_type="application/json")

    @app.get("/health", summary="Liveness: the process answers and its batcher runs")
    async def health() -> Response:
        if state.failure or (not state.batcher.alive and not state.draining):
            reason = state.failure or "the batching task stopped"
            return JSONResponse({"status": "error", "error": reason}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/ready", summary="Readiness: the model is loaded and warmed, and not draining")
    async def ready() -> Response:
        if state.ready:
            return JSONResponse({"status": "ready"})
        status = "draining" if state.draining else ("failed" if state.failure else "warming")
        return JSONResponse({"status": status}, status_code=503)

    @app.get("/info", summary="The model, its decision rule and the server's limits")
    async def model_info() -> dict[str, Any]:
        rule = info.rule
        per_label = rule.per_label_thresholds(len(info.labels))
        if per_label is None:
            thresholds = None
        elif info.task == "binary":
            thresholds = {info.labels[1]: per_label[0]}
        else:
            thresholds = dict(zip(info.labels, per_label, strict=True))
        return {
            "task": info.task,
            "labels": list(info.labels),
            "scores": "sigmoid" if info.task == "multilabel" else "softmax",
            "temperature": rule.temperature,
            "thresholds": thresholds,
            "reject_below": rule.reject_below,
            "decision_rule": rule.to_dict(),
            "max_length": info.max_length,
            "backbone": info.served_backbone,
            "model_fingerprint": state.fingerprint,
            "model_created": info.created,
            "metrics": info.metrics,
            "model_versions": info.versions,
            "textclf_version": __version__,
            "device": state.device,
            "backend": str(getattr(state.model, "backend", "unknown")),
            "precision": str(getattr(state.model, "precision", "unknown")),
            "limits": settings.limits(info.max_length),
            "parallel_batches": settings.parallel_batches or 1,
        }

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        payload, content_type = state.metrics.render()
        return Response(payload, media_type=content_type)


def app_from_env() -> FastAPI:
    """The app a uvicorn worker builds (``--workers N``): model folder and settings from
    :data:`APP_ENV`, which :func:`textclf.serving.server.run_server` sets."""
    spec = json.loads(os.environ[APP_ENV])
    settings = ServeSettings.from_json(spec["settings"])
    model_dir = Path(spec["model_dir"])
    return create_app(load_predictor(model_dir, settings), settings, model_dir=model_dir)
