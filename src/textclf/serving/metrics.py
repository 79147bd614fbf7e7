"""Prometheus metrics of the server: requests, latency, batches, queue and throughput.

Each app has its own registry, so several apps in one process (tests) do not collide.
With ``--workers N`` every worker is its own process; when ``PROMETHEUS_MULTIPROC_DIR`` is
set (``textclf serve`` sets it for N > 1) the values live in files there and ``/metrics``
sums all workers, as prometheus_client's multiprocess mode does.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms); TEI's
equivalents are ``te_request_count``, ``te_request_duration``, ``te_batch_next_size``,
``te_batch_next_tokens`` and ``te_queue_size``.

Example:
    >>> metrics = ServeMetrics()
    >>> metrics.request("/v1/predict", 200, 0.004, texts=1)
    >>> b"textclf_requests_total" in metrics.render()[0]
    True
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Sequence

from textclf.errors import missing_extra

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
except ImportError as e:  # pragma: no cover - depends on the install
    raise missing_extra("prometheus_client", "serve") from e

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class ServeMetrics:
    """The server's metrics, in their own registry.

    Args:
        window_s: Seconds over which ``textclf_texts_per_second`` is averaged.
    """

    def __init__(self, *, window_s: float = 10.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        if not self._multiprocess:
            from prometheus_client import PlatformCollector, ProcessCollector

            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self.requests = self._counter(
            "textclf_requests", "HTTP requests by endpoint and status code.", "endpoint", "status"
        )
        self.latency = self._histogram(
            "textclf_request_duration_seconds",
            "Time from receiving a request to sending its response.",
            _LATENCY_BUCKETS,
            "endpoint",
        )
        self.in_flight = self._gauge("textclf_requests_in_flight", "Requests being handled now.")
        self.texts = self._counter("textclf_texts", "Texts classified (rate() gives texts/s).")
        self.truncated = self._counter(
            "textclf_truncated_texts", "Texts cut to the character limit."
        )
        self.texts_per_second = self._gauge(
            "textclf_texts_per_second",
            f"Texts classified per second over the last {window_s:g} s.",
        )
        self.queue = self._gauge("textclf_queue_depth_texts", "Texts waiting for the model.")
        self.batch_size = self._histogram(
            "textclf_batch_size_texts",
            "Texts per forward pass (dynamic micro-batches).",
            _SIZE_BUCKETS,
        )
        self.batch_tokens = self._histogram(
            "textclf_batch_tokens", "Estimated tokens per forward pass.", _TOKEN_BUCKETS
        )
        self.batch_seconds = self._histogram(
            "textclf_batch_duration_seconds",
            "Time of one forward pass, tokenisation included.",
            _LATENCY_BUCKETS,
        )
        self.queue_wait = self._histogram(
            "textclf_queue_wait_seconds",
            "Time a request's texts waited before their forward pass.",
            _LATENCY_BUCKETS,
        )
        self.model_info = self._gauge(
            "textclf_model_info",
            "The served model (value 1).",
            "task",
            "fingerprint",
            "textclf_version",
            mode="max",
        )
        self._window = window_s
        self._recent: collections.deque[tuple[float, int]] = collections.deque()
        if not self._multiprocess:
            # Computed when scraped, so the gauge falls to 0 when traffic stops.
            self.texts_per_second.set_function(self._rate)

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str, buckets: Sequence[float], *labels: str) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def _gauge(self, name: str, doc: str, *labels: str, mode: str = "livesum") -> Gauge:
        # ``mode`` says how the workers' values add up in multiprocess mode.
        return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode=mode)  # type: ignore[arg-type]

    def request(self, endpoint: str, status: int, seconds: float, *, texts: int = 0) -> None:
        """Count one finished request."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def queue_depth(self, texts: int) -> None:
        self.queue.set(texts)

    def batch_done(
        self, *, texts: int, tokens: int, seconds: float, waits: Sequence[float]
    ) -> None:
        """Record one forward pass and update the texts/s gauge."""
        self.texts.inc(texts)
        self.batch_size.observe(texts)
        self.batch_tokens.observe(tokens)
        self.batch_seconds.observe(seconds)
        for wait in waits:
            self.queue_wait.observe(max(0.0, wait))
        self._recent.append((time.monotonic(), texts))
        if self._multiprocess:
            self.texts_per_second.set(self._rate())

    def _rate(self) -> float:
        now = time.monotonic()
        while self._recent and self._recent[0][0] < now - self._window:
            self._recent.popleft()
        return sum(n for _, n in self._recent) / self._window

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type (all workers in multiprocess mode)."""
        if not self._multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """Mark this worker dead so its live gauges leave the sums (multiprocess mode)."""
        if self._multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
