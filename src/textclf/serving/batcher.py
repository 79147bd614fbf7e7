"""Dynamic micro-batching: concurrent requests share forward passes, by a token budget.

Requests queue their texts; one task on the event loop cuts the queue into batches and
hands each to a model thread (``parallel`` of them, one by default), so the loop never
blocks on the model. Each request gets its own rows back, in order.

A batch closes when the next request would overflow ``max_batch_tokens`` (as in TEI's
``core/src/queue.rs``), when its first text has waited ``max_wait_ms``, or as soon as no
other request is *arriving* (received by the server but not yet queued). TEI never waits;
a short wait lets requests that are still being parsed join the batch, and the arrival
count keeps a lone client from paying it.

While one batch runs, the next gathers; it goes to the model the moment the running one
returns, before that one's requests are answered, so the model does not idle while the
loop writes responses. At load the batch size grows with the queue. With ``parallel``
above 1, that many batches run at once, each in its own model thread.
Closing stops new work and drains what is queued: nothing accepted is dropped.

Example:
    >>> import asyncio, numpy as np
    >>> async def demo():
    ...     batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 2)), max_length=32)
    ...     batcher.start()
    ...     rows = await batcher.submit(["a", "b"])
    ...     await batcher.close()
    ...     return rows.shape
    >>> asyncio.run(demo())
    (2, 2)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from textclf.serving.settings import estimate_tokens

logger = logging.getLogger(__name__)


class QueueFullError(Exception):
    """The queue has no room for the request's texts; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


class ClosingError(Exception):
    """The server is shutting down and takes no new work."""


class BatchObserver(Protocol):
    """What the batcher reports (implemented by :class:`textclf.serving.metrics.ServeMetrics`)."""

    def queue_depth(self, texts: int) -> None: ...

    def batch_done(
        self, *, texts: int, tokens: int, seconds: float, waits: Sequence[float]
    ) -> None: ...


@dataclass
class _Entry:
    texts: list[str]
    tokens: int
    future: asyncio.Future[np.ndarray]
    queued_at: float
    request_id: str
    counted: bool = True  # in the metrics (the start-up warm-up batch is not)


@dataclass
class _Running:
    """A batch in the model thread: its requests, text count, pending rows, start time."""

    batch: list[_Entry]
    texts: int
    result: asyncio.Future[np.ndarray]
    started: float


@dataclass
class _Throughput:
    """Texts per second over the last ``window`` seconds (for Retry-After)."""

    window: float = 10.0
    done: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)

    def add(self, now: float, texts: int) -> None:
        self.done.append((now, texts))
        while self.done and self.done[0][0] < now - self.window:
            self.done.popleft()

    def rate(self, now: float) -> float:
        if not self.done:
            return 0.0
        # At least a second: one batch just after a quiet spell is not a rate.
        span = max(now - self.done[0][0], 1.0)
        return sum(n for _, n in self.done) / span


class MicroBatcher:
    """Queue texts from concurrent requests and run them through ``infer`` in batches.

    Args:
        infer: ``texts -> (n, k)`` array, rows in input order (the server passes the
            model's scores, :func:`textclf.serving.predict.batch_scores`).
        max_length: The model's truncation length in tokens (caps each text's estimate).
        max_batch_tokens: Token budget of one batch.
        max_wait_ms: Longest the first text of a batch waits for company.
        max_queue_texts: Texts allowed to wait; more raises :class:`QueueFullError`.
        parallel: Batches that run at once, each in its own model thread (``infer`` must
            then be thread-safe, as the engines are). On a CPU, two single-threaded batches
            keep both cores busy where one two-threaded batch waits at every barrier for
            the thread the event loop interrupted.
        observer: Receives queue depths and batch sizes (metrics).
    """

    def __init__(
        self,
        infer: Callable[[list[str]], np.ndarray],
        *,
        max_length: int,
        max_batch_tokens: int = 16384,
        max_wait_ms: float = 2.0,
        max_queue_texts: int = 4096,
        parallel: int = 1,
        observer: BatchObserver | None = None,
    ) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self._infer = infer
        self._parallel = parallel
        self._answered = False  # whether a batch has come back from the model
        self._max_length = max_length
        self._budget = max_batch_tokens
        self._max_wait = max_wait_ms / 1000.0
        self._capacity = max_queue_texts
        self._observer = observer
        self._queue: collections.deque[_Entry] = collections.deque()
        self._queued_texts = 0
        self._queued_tokens = 0
        self._arriving = 0
        self._closing = False
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._throughput = _Throughput()

    # -- requests' side ------------------------------------------------------------------

    @property
    def queued_texts(self) -> int:
        """Texts waiting for the model (not counting the batch that is running)."""
        return self._queued_texts

    @property
    def alive(self) -> bool:
        """Whether the batching task is running (false after a crash or close)."""
        return self._task is not None and not self._task.done()

    def arriving(self, delta: int) -> None:
        """Count a request that was received but has not queued its texts yet (+1 / -1)."""
        self._arriving = max(0, self._arriving + delta)

    def submit(
        self,
        texts: Sequence[str],
        *,
        request_id: str = "-",
        arrived: bool = False,
        counted: bool = True,
    ) -> asyncio.Future[np.ndarray]:
        """Queue ``texts``; the future gives their ``(n, k)`` rows in order.

        Args:
            texts: The request's texts (already length-capped).
            request_id: Named in the log if the model fails.
            arrived: The request was counted by :meth:`arriving`; queueing ends that.
            counted: Report the texts to the observer (``False`` for the warm-up batch,
                which no client sent).

        Raises:
            ClosingError: the batcher is closing.
            QueueFullError: the texts do not fit in the queue.
        """
        if arrived:
            self.arriving(-1)
        if self._closing or self._task is None:
            raise ClosingError("the server is shutting down")
        if self._queued_texts + len(texts) > self._capacity:
            raise QueueFullError(self._retry_after())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        tokens = sum(estimate_tokens(t, self._max_length) for t in texts)
        self._queue.append(_Entry(list(texts), tokens, future, loop.time(), request_id, counted))
        self._queued_texts += len(texts)
        self._queued_tokens += tokens
        self._report_depth()
        self._wakeup.set()
        return future

    def _retry_after(self) -> int:
        # Seconds to work through the queue at the recent rate; 1 s before there is a rate.
        rate = self._throughput.rate(time.monotonic())
        if rate <= 0:
            return 1
        return int(min(60, max(1, math.ceil(self._queued_texts / rate))))

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the batching task and the model thread (call inside the event loop)."""
        if self._task is not None:
            return
        # One thread per batch in flight; the engine's own threads work inside each.
        self._executor = ThreadPoolExecutor(
            max_workers=self._parallel, thread_name_prefix="textclf-model"
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="textclf-batcher")

    async def close(self, timeout: float | None = None) -> None:
        """Stop taking texts, finish every queued one, then stop the model thread.

        Args:
            timeout: Seconds to wait for the drain; what is left then fails with
                :class:`ClosingError`.
        """
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                logger.error("Drain timed out with %d texts queued.", self._queued_texts)
                self._task.cancel()
                self._fail_queued(ClosingError("the server shut down before this request ran"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # -- the batching task ---------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        running: list[_Running] = []
        try:
            while True:
                self._wakeup.clear()
                finished = [r for r in running if r.result.done()]
                running = [r for r in running if not r.result.done()]
                # Fill the free model threads *before* answering what finished: answering
                # (JSON, logs, sockets) takes the loop for milliseconds, and a model thread
                # would idle meanwhile.
                # The first batch runs alone: engines build lazily on their first call.
                slots = self._parallel if self._answered else 1
                while len(running) < slots and self._queue:
                    if not running and not finished:
                        await self._gather(loop)  # the model is idle: wait for company
                    started = self._start(loop, self._take())
                    if started is not None:
                        running.append(started)
                for done in finished:
                    self._answer(done, loop.time())
                if finished:
                    continue  # a batch may have finished meanwhile
                if not running and not self._queue and self._closing:
                    return
                await self._wakeup.wait()  # a request, or a batch finishing, sets it
        except asyncio.CancelledError:  # close() timed out: these requests get an answer
            for r in running:
                _fail(r.batch, ClosingError("the server shut down"))
            raise

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for company until the budget fills, the wait ends, or nobody is arriving."""
        deadline = self._queue[0].queued_at + self._max_wait
        while self._queued_tokens < self._budget and self._arriving > 0 and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Entry]:
        batch: list[_Entry] = []
        tokens = 0
        while self._queue:
            entry = self._queue[0]
            if batch and tokens + entry.tokens > self._budget:
                break
            self._queue.popleft()
            self._queued_texts -= len(entry.texts)
            self._queued_tokens -= entry.tokens
            # A request whose client went away (its handler was cancelled) is not run,
            # as TEI drops entries whose receiver is closed.
            if entry.future.done():
                continue
            batch.append(entry)
            tokens += entry.tokens
        self._report_depth()
        return batch

    def _start(self, loop: asyncio.AbstractEventLoop, batch: list[_Entry]) -> _Running | None:
        """Send ``batch`` to the model thread; ``None`` when every request in it went away."""
        if not batch:
            return None
        texts = [t for entry in batch for t in entry.texts]
        result = loop.run_in_executor(self._executor, self._infer, texts)
        result.add_done_callback(lambda _: self._wakeup.set())
        return _Running(batch, len(texts), result, loop.time())

    def _answer(self, done: _Running, finished: float) -> None:
        """Give each request of a finished batch its rows, or the model's error."""
        batch = done.batch
        try:
            rows = np.asarray(done.result.result())
            if rows.shape[0] != done.texts:
                raise RuntimeError(
                    f"the model returned {rows.shape[0]} rows for {done.texts} texts"
                )
        except Exception as e:
            ids = ", ".join(entry.request_id for entry in batch)
            logger.exception("Model failed on a batch of %d texts (requests %s).", done.texts, ids)
            _fail(batch, e)
            return
        try:
            offset = 0
            for entry in batch:
                n = len(entry.texts)
                if not entry.future.done():
                    entry.future.set_result(rows[offset : offset + n])
                offset += n
            self._answered = True
            self._throughput.add(time.monotonic(), done.texts)
            counted = [entry for entry in batch if entry.counted]
            if self._observer is not None and counted:
                self._observer.batch_done(
                    texts=sum(len(entry.texts) for entry in counted),
                    tokens=sum(entry.tokens for entry in counted),
                    seconds=finished - done.started,
                    waits=[done.started - entry.queued_at for entry in counted],
                )
        except Exception as e:  # never let one batch end the loop
            logger.exception("Batch failed outside the model.")
            _fail(batch, e)

    def _fail_queued(self, error: Exception) -> None:
        while self._queue:
            entry = self._queue.popleft()
            if not entry.future.done():
                entry.future.set_exception(error)
        self._queued_texts = self._queued_tokens = 0
        self._report_depth()

    def _report_depth(self) -> None:
        if self._observer is not None:
            self._observer.queue_depth(self._queued_texts)


def _fail(batch: list[_Entry], error: BaseException) -> None:
    """Fail every request of ``batch`` still waiting for its rows."""
    for entry in batch:
        if not entry.future.done():
            entry.future.set_exception(error)
