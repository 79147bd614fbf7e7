"""The micro-batcher: batches across requests, by budget, in order; full queue; failures; drain.

The model is a stub that can be held on a threading.Event, so "while the model is busy"
is a state the test waits for, never a sleep that hopes to be long enough.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests_support import GatedCalls
from textclf.serving.batcher import ClosingError, MicroBatcher, QueueFullError
from textclf.serving.settings import estimate_tokens


class GatedModel(GatedCalls):
    """Returns each text's length as its row; blocks in ``logits`` while the gate is shut."""

    def __init__(self, *, gated: bool = False, fail_on: str | None = None) -> None:
        super().__init__(gated=gated)
        self.fail_on = fail_on

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.pass_gate(texts, timeout=10)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("boom")
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)


async def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll a condition on the event loop (a deadline, not a guess at timing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def model_entered(model: GatedModel) -> None:
    await asyncio.get_running_loop().run_in_executor(None, model.entered.wait, 10)
    model.entered.clear()


def gated_batcher(**limits: int) -> tuple[GatedModel, MicroBatcher]:
    """A started batcher (no waiting for company) over a model shut behind its gate."""
    model = GatedModel(gated=True)
    batcher = MicroBatcher(model, max_length=32, max_wait_ms=0, **limits)
    batcher.start()
    return model, batcher


def test_estimate_tokens_caps_at_max_length():
    assert estimate_tokens("", 32) == 2
    assert estimate_tokens("abcd", 32) == 3
    assert estimate_tokens("abcde", 32) == 4
    assert estimate_tokens("x" * 10_000, 32) == 32


def test_requests_queued_while_the_model_runs_share_one_batch_in_order():
    async def scenario():
        model, batcher = gated_batcher()
        first = batcher.submit(["a"])
        await model_entered(model)  # the model is busy with ["a"]
        second = batcher.submit(["bb", "ccc"])
        third = batcher.submit(["dddd"])
        model.gate.set()
        rows = await asyncio.gather(first, second, third)
        await batcher.close()
        return model.seen, rows

    batches, (first, second, third) = asyncio.run(scenario())
    assert batches == [["a"], ["bb", "ccc", "dddd"]]
    assert first[:, 0].tolist() == [1]
    assert second[:, 0].tolist() == [2, 3]  # each request gets its own rows, in order
    assert third[:, 0].tolist() == [4]


def test_batches_respect_the_token_budget():
    async def scenario():
        # Each 8-character text is estimated at 4 tokens; a budget of 8 holds two.
        model, batcher = gated_batcher(max_batch_tokens=8)
        futures = [batcher.submit(["warm"])]
        await model_entered(model)
        futures += [batcher.submit([f"text-{i:03d}"]) for i in range(5)]
        model.gate.set()
        await asyncio.gather(*futures)
        await batcher.close()
        return model.seen

    batches = asyncio.run(scenario())
    assert [len(b) for b in batches] == [1, 2, 2, 1]


def test_a_request_larger_than_the_budget_runs_alone():
    async def scenario():
        model = GatedModel()
        batcher = MicroBatcher(model, max_length=32, max_batch_tokens=4, max_wait_ms=0)
        batcher.start()
        rows = await batcher.submit(["x" * 100, "y" * 100])
        await batcher.close()
        return rows

    assert asyncio.run(scenario()).shape == (2, 2)


def test_full_queue_raises_with_retry_after():
    async def scenario():
        model, batcher = gated_batcher(max_queue_texts=3)
        running = batcher.submit(["a", "b", "c"])
        await model_entered(model)  # taken off the queue: the queue is empty again
        queued = batcher.submit(["d", "e"])
        with pytest.raises(QueueFullError) as info:
            batcher.submit(["f", "g"])
        fits = batcher.submit(["h"])  # exactly fills the queue
        model.gate.set()
        await asyncio.gather(running, queued, fits)
        await batcher.close()
        return info.value.retry_after

    assert asyncio.run(scenario()) >= 1


def test_a_model_failure_fails_its_batch_only_and_the_batcher_goes_on():
    async def scenario():
        model = GatedModel(fail_on="bad")
        batcher = MicroBatcher(model, max_length=32, max_wait_ms=0)
        batcher.start()
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(["bad"], request_id="r-1")
        rows = await batcher.submit(["good"])
        alive = batcher.alive
        await batcher.close()
        return rows, alive

    rows, alive = asyncio.run(scenario())
    assert rows[:, 0].tolist() == [4]
    assert alive


def test_a_wrong_number_of_rows_is_an_error_not_a_misrouted_answer():
    async def scenario():
        batcher = MicroBatcher(lambda texts: np.zeros((1, 2)), max_length=32)
        batcher.start()
        with pytest.raises(RuntimeError, match="1 rows for 2 texts"):
            await batcher.submit(["a", "b"])
        await batcher.close()

    asyncio.run(scenario())


def test_close_drains_everything_queued_then_refuses_new_work():
    async def scenario():
        model, batcher = gated_batcher(max_batch_tokens=3)
        futures = [batcher.submit([f"t{i}"]) for i in range(4)]
        await model_entered(model)
        closing = asyncio.ensure_future(batcher.close())
        await wait_until(lambda: batcher._closing)
        with pytest.raises(ClosingError):
            batcher.submit(["late"])
        model.gate.set()
        rows = await asyncio.gather(*futures)
        await closing
        return rows, batcher.alive

    rows, alive = asyncio.run(scenario())
    assert [r[0, 0] for r in rows] == [2, 2, 2, 2]
    assert not alive


def test_a_lone_request_does_not_wait_but_an_arriving_one_is_waited_for():
    async def scenario():
        model = GatedModel()
        # A wait far longer than the test: if it were spent, the test would time out.
        batcher = MicroBatcher(model, max_length=32, max_wait_ms=60_000)
        batcher.start()
        await asyncio.wait_for(batcher.submit(["alone"]), 30)
        batcher.arriving(+1)  # a second request is being received
        first = batcher.submit(["first"])
        await asyncio.sleep(0.05)
        waited = len(model.seen) == 1  # "first" is held for the arriving request
        second = batcher.submit(["second"], arrived=True)  # nobody else is arriving now
        await asyncio.wait_for(asyncio.gather(first, second), 30)
        await batcher.close()
        return waited, model.seen

    waited, batches = asyncio.run(scenario())
    assert waited
    assert batches == [["alone"], ["first", "second"]]


def test_a_cancelled_request_is_not_run():
    async def scenario():
        model, batcher = gated_batcher()
        running = batcher.submit(["a"])
        await model_entered(model)
        gone = batcher.submit(["client went away"])
        kept = batcher.submit(["kept"])
        gone.cancel()
        model.gate.set()
        await asyncio.gather(running, kept)
        await batcher.close()
        return model.seen

    assert asyncio.run(scenario()) == [["a"], ["kept"]]


def test_parallel_batches_run_at_once_and_each_request_gets_its_rows():
    import threading

    # Each call waits at a two-party barrier: it passes only if two batches run at once
    # (with one model thread the barrier would time out and fail the requests).
    barrier = threading.Barrier(2, timeout=10)

    def model(texts: list[str]) -> np.ndarray:
        barrier.wait()
        return np.array([[len(t)] for t in texts], dtype=np.float32)

    warm = True

    def engine(texts: list[str]) -> np.ndarray:
        nonlocal warm
        if warm:  # the first batch runs alone (engines build on their first call)
            warm = False
            return np.array([[len(t)] for t in texts], dtype=np.float32)
        return model(texts)

    async def scenario():
        batcher = MicroBatcher(engine, max_length=32, max_wait_ms=0, parallel=2)
        batcher.start()
        await batcher.submit(["warm-up"])
        first = batcher.submit(["a"])
        await asyncio.sleep(0)  # the first batch starts alone
        second = batcher.submit(["bb", "ccc"])
        rows = await asyncio.gather(first, second)
        await batcher.close()
        return rows

    first, second = asyncio.run(scenario())
    assert first[:, 0].tolist() == [1]
    assert second[:, 0].tolist() == [2, 3]


def test_parallel_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        MicroBatcher(lambda texts: np.zeros((len(texts), 1)), max_length=8, parallel=0)
