"""The tracking health check: is the MLflow store reachable, is it MLflow, is the experiment there?

Run before training (and alone by ``textclf tracking check``), it takes seconds and names
exactly what failed: the host's name does not resolve (DNS), nothing listens on the port
(refused), no answer (timeout), the credentials were refused (auth), the server is not an
MLflow tracking server or runs another major version (version), or the experiment was
deleted and cannot be restored. A missing experiment is created; a deleted one restored.

MLflow's HTTP client retries 7 times with exponential back-off and waits up to 120 s per
request by default, so a dead server would cost minutes; :func:`mlflow_http_limits` bounds
both for textclf's own calls.

Example:
    >>> report = check_tracking("http://127.0.0.1:5000", "banking77")  # doctest: +SKIP
    >>> report.ok, report.message  # doctest: +SKIP
    (False, "nothing listens on 127.0.0.1:5000 (connection refused); start the ...")
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from textclf.config.secrets import use_credentials
from textclf.errors import TrackingError, missing_extra

logger = logging.getLogger(__name__)

DEFAULT_STORE_FILE = "mlflow.db"
"""The embedded store used when neither the config nor ``MLFLOW_TRACKING_URI`` names one."""

Problem = Literal[
    "dns", "refused", "timeout", "network", "tls", "auth", "not_mlflow", "version", "experiment",
    "store", "error",
]  # fmt: skip


@dataclass
class HealthReport:
    """The result of :func:`check_tracking`.

    Attributes:
        uri: The tracking URI checked.
        ok: Whether runs can be recorded there.
        problem: What failed, or ``None``.
        message: One sentence: what was checked and found, or what failed and the fix.
        server_version: The server's MLflow version (HTTP stores).
        experiment: The experiment name checked.
        experiment_id: Its id, once found, created or restored.
        experiment_action: ``"found"``, ``"created"`` or ``"restored"``.
        elapsed_s: How long the check took.
    """

    uri: str
    ok: bool
    problem: Problem | None
    message: str
    server_version: str | None = None
    experiment: str | None = None
    experiment_id: str | None = None
    experiment_action: Literal["found", "created", "restored"] | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_uri(uri: str | None) -> str:
    """The tracking URI to use: ``uri``, else ``MLFLOW_TRACKING_URI``, else the embedded store.

    The embedded store is ``sqlite:///<working directory>/mlflow.db`` (absolute, so the
    printed ``mlflow ui`` command works from anywhere). MLflow 3 itself defaults to the
    same file; SQLite rather than the ``./mlruns`` file store, which MLflow deprecates
    and which has no model registry.
    """
    if uri:
        return use_credentials(uri)
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return use_credentials(env)  # printed and journaled without its password
    return f"sqlite:///{(Path.cwd() / DEFAULT_STORE_FILE).as_posix()}"


def is_http(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https")


def ui_hint(uri: str) -> str:
    """How to look at runs recorded at ``uri``."""
    if is_http(uri):
        return f"open {uri} in a browser"
    if "://" not in uri:
        uri = Path(uri).resolve().as_uri()
    return f"mlflow ui --backend-store-uri {uri}"


@contextlib.contextmanager
def mlflow_http_limits(*, retries: int, timeout: float) -> Iterator[None]:
    """Bound MLflow's HTTP retries and timeout for the calls made inside the block.

    MLflow reads these settings from the environment on every request; values the user set
    are kept. The process environment is restored on exit.
    """
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(timeout))),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    saved = {k: os.environ.get(k) for k in settings}
    try:
        for key, value in settings.items():
            if saved[key] is None:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)


def _fail(uri: str, problem: Problem, message: str, started: float, **kw: Any) -> HealthReport:
    return HealthReport(
        uri=uri,
        ok=False,
        problem=problem,
        message=message,
        elapsed_s=time.perf_counter() - started,
        **kw,
    )


def _resolve_host(host: str, port: int, timeout: float) -> list[Any]:
    # getaddrinfo has no timeout and a broken resolver can block for minutes: wait in a
    # worker thread and give up after `timeout` (the thread ends on its own later).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        return future.result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)


def _network_problem(uri: str, timeout: float, started: float) -> HealthReport | None:
    """DNS, then a TCP connection: the failures that say the server is not there."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not host:
        return _fail(
            uri,
            "error",
            f"{uri}: no host in the tracking URI; write it as http://HOST:PORT.",
            started,
        )
    try:
        addresses = _resolve_host(host, port, timeout)
    except concurrent.futures.TimeoutError:
        return _fail(
            uri,
            "dns",
            f"DNS lookup of '{host}' (from {uri}) did not finish within {timeout:g} s; "
            "check your network, VPN or DNS server.",
            started,
        )
    except socket.gaierror as e:
        return _fail(
            uri,
            "dns",
            f"cannot resolve the host '{host}' of {uri} (DNS: {e.strerror}); check the "
            "spelling of the tracking URI, or your network and VPN.",
            started,
        )
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
    except ConnectionRefusedError:
        return _fail(
            uri,
            "refused",
            f"nothing listens on {host}:{port} (connection refused); start the MLflow server "
            f"(mlflow server --host {host} --port {port}) or fix the port in the tracking URI.",
            started,
        )
    except TimeoutError:
        return _fail(
            uri,
            "timeout",
            f"{host}:{port} did not answer within {timeout:g} s; check the host, the port "
            "and any firewall or VPN in between.",
            started,
        )
    except OSError as e:
        return _fail(
            uri,
            "network",
            f"cannot connect to {host}:{port} ({e.strerror or e}); check the network route "
            "to the tracking server.",
            started,
        )
    return None


_AUTH_FIX = (
    "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) "
    "to credentials the server accepts"
)


def _server_version(uri: str, timeout: float, started: float) -> str | HealthReport:
    """GET /version: MLflow servers answer with their version; anything else is not MLflow."""
    import requests
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        with mlflow_http_limits(retries=0, timeout=timeout):
            response = http_request(get_default_host_creds(uri), "/version", "GET", timeout=timeout)
    except MlflowException as e:
        cause = e.__cause__ or e.__context__
        if isinstance(cause, requests.exceptions.SSLError | ssl.SSLError):
            return _fail(
                uri,
                "tls",
                f"TLS handshake with {uri} failed ({cause}); check the certificate, or set "
                "MLFLOW_TRACKING_SERVER_CERT_PATH to the server's CA bundle.",
                started,
            )
        if isinstance(cause, requests.exceptions.Timeout):
            return _fail(
                uri,
                "timeout",
                f"{uri} accepted the connection but did not answer within {timeout:g} s; the "
                "server may be overloaded or hung.",
                started,
            )
        return _fail(uri, "error", f"{uri} did not answer GET /version ({e.message}).", started)
    status = response.status_code
    if status in (401, 403):
        return _fail(
            uri,
            "auth",
            f"{uri} refused the credentials (HTTP {status}); {_AUTH_FIX}.",
            started,
        )
    text = response.text.strip()
    if status != 200 or not re.fullmatch(r"\d+\.\d+[\w.+-]*", text):
        return _fail(
            uri,
            "not_mlflow",
            f"{uri} answers HTTP but is not an MLflow tracking server (GET /version gave "
            f"HTTP {status}); check the host, port and path prefix of the tracking URI.",
            started,
        )
    return text


def _check_version(uri: str, server: str, started: float) -> HealthReport | None:
    import mlflow

    client = mlflow.__version__
    if server.split(".")[0] != client.split(".")[0]:
        return _fail(
            uri,
            "version",
            f"{uri} runs MLflow {server} but this client is MLflow {client}; the major "
            f"versions differ and their APIs do not match: install mlflow=={server.split('.')[0]}.* "
            "here, or upgrade the server.",
            started,
            server_version=server,
        )
    return None


def _store_problem(uri: str, started: float) -> HealthReport | None:
    """Local stores: the folder of a SQLite file (or a file store) must exist."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        path = _sqlite_path(uri)
        if path is None:
            return None
        folder = path.parent
    elif parts.scheme in ("", "file"):
        folder = Path(unquote(parts.path) if parts.scheme else uri).parent
    else:
        return None
    if not folder.is_dir():
        return _fail(
            uri,
            "store",
            f"{folder}: the folder of the local tracking store {uri} does not exist; create "
            "it or fix the tracking URI.",
            started,
        )
    return None


def _api_problem(uri: str, e: Exception, started: float) -> HealthReport:
    code = getattr(e, "error_code", "")
    text = getattr(e, "message", str(e))
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return _fail(uri, "auth", f"{uri} refused the credentials ({code}); {_AUTH_FIX}.", started)
    if code == "ENDPOINT_NOT_FOUND":
        return _fail(
            uri,
            "not_mlflow",
            f"{uri} has no MLflow tracking API ({code}); check the path prefix of the "
            "tracking URI, or the server's MLflow version.",
            started,
        )
    kind: Problem = "error" if is_http(uri) else "store"
    # MLflow answers an unknown scheme with three sentences and a link; one is enough.
    schemes = re.search(r"schemes are: \[([^\]]*)\]", text)
    if schemes:
        known = [s.strip(" '\"") for s in schemes.group(1).split(",")]
        return _fail(
            uri,
            "store",
            f"the tracking URI {uri} has a scheme MLflow cannot store runs in "
            f"({urlsplit(uri).scheme or 'none'}); use a folder or a URI of scheme "
            f"{', '.join(k for k in known if k)} (e.g. sqlite:///mlflow.db).",
            started,
        )
    return _fail(uri, kind, f"the tracking store {uri} failed ({text}).", started)


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for in-memory or other stores)."""
    if urlsplit(uri).scheme != "sqlite":
        return None
    # sqlite:///relative.db and sqlite:////absolute.db (SQLAlchemy's URL form).
    raw = unquote(uri[len("sqlite:///") :]).split("?", 1)[0]
    return None if raw in ("", ":memory:") else Path(raw)


def local_artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a new experiment in a SQLite store: beside the database file.

    MLflow's default is ``./mlruns`` under whatever the working directory is when the
    experiment is created, which scatters one store's artifacts over every folder it was
    used from; ``<database folder>/mlruns/<experiment>`` keeps the store in one place.
    Other stores (servers, other databases) choose their own location: ``None``.
    """
    path = _sqlite_path(uri)
    if path is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", experiment).strip("._") or "experiment"
    return (path.resolve().parent / "mlruns" / safe).as_uri()


def ensure_experiment(
    client: Any, name: str
) -> tuple[str, Literal["found", "created", "restored"]]:
    """Find the experiment ``name``; create it when missing, restore it when deleted.

    Args:
        client: An ``mlflow.MlflowClient``.
        name: The experiment name.

    Returns:
        ``(experiment id, what was done)``.

    Raises:
        TrackingError: when the experiment is deleted and cannot be restored.
        MlflowException: from the store (the caller classifies it).
    """
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = local_artifact_location(client.tracking_uri, name)
        return str(client.create_experiment(name, artifact_location=location)), "created"
    if experiment.lifecycle_stage == "deleted":
        try:
            client.restore_experiment(experiment.experiment_id)
        except MlflowException as e:
            raise TrackingError(
                f"experiment '{name}' is deleted in {client.tracking_uri} and could not be "
                f"restored ({e.message}); restore it in the MLflow UI (or run 'mlflow "
                f"experiments restore --experiment-id {experiment.experiment_id}'), or choose "
                "another name with --experiment."
            ) from e
        logger.info("Experiment '%s' was deleted; restored it.", name)
        return str(experiment.experiment_id), "restored"
    return str(experiment.experiment_id), "found"


def check_tracking(
    uri: str,
    experiment: str | None,
    *,
    timeout: float = 5.0,
    create: bool = True,
) -> HealthReport:
    """Check that runs can be recorded at ``uri`` in ``experiment``; never raises for a bad server.

    Args:
        uri: The MLflow tracking URI (``http(s)://``, ``sqlite:///``, a folder, …).
        experiment: The experiment name; created when missing and restored when deleted
            (with ``create``). ``None`` checks the store only.
        timeout: Seconds allowed for each step (DNS, connect, each request).
        create: Create or restore the experiment; otherwise only look it up.

    Returns:
        The report; ``report.ok`` is whether runs can be recorded.

    Raises:
        MissingExtraError: when MLflow is not installed.
    """
    try:
        import mlflow
    except ImportError as e:
        raise missing_extra("mlflow", "tracking") from e
    started = time.perf_counter()
    version: str | None = None
    if is_http(uri):
        problem = _network_problem(uri, timeout, started)
        if problem:
            return problem
        answer = _server_version(uri, timeout, started)
        if isinstance(answer, HealthReport):
            return answer
        version = answer
        problem = _check_version(uri, version, started)
        if problem:
            return problem
    else:
        problem = _store_problem(uri, started)
        if problem:
            return problem
    where = f"MLflow {version} at {uri}" if version else f"the MLflow store {uri}"
    if experiment is None:
        return HealthReport(
            uri, True, None, f"{where} answers.", version, elapsed_s=time.perf_counter() - started
        )
    try:
        with mlflow_http_limits(retries=0, timeout=timeout):
            client = mlflow.MlflowClient(tracking_uri=uri)
            if create:
                experiment_id, action = ensure_experiment(client, experiment)
            else:
                found = client.get_experiment_by_name(experiment)
                if found is None or found.lifecycle_stage == "deleted":
                    state = "does not exist" if found is None else "is deleted"
                    return _fail(
                        uri,
                        "experiment",
                        f"experiment '{experiment}' {state} in {uri}; it is created (or "
                        "restored) when a run starts.",
                        started,
                        server_version=version,
                        experiment=experiment,
                    )
                experiment_id, action = str(found.experiment_id), "found"
    except TrackingError as e:
        return _fail(
            uri, "experiment", str(e), started, server_version=version, experiment=experiment
        )
    except Exception as e:  # a store can fail in many ways (SQLAlchemy, OS, requests)
        return _api_problem(uri, e, started)
    elapsed = time.perf_counter() - started
    return HealthReport(
        uri=uri,
        ok=True,
        problem=None,
        message=f"{where} answered in {elapsed:.1f} s; experiment '{experiment}' {action} "
        f"(id {experiment_id}).",
        server_version=version,
        experiment=experiment,
        experiment_id=experiment_id,
        experiment_action=action,
        elapsed_s=elapsed,
    )
