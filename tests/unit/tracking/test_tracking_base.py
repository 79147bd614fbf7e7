"""The Tracker protocol, NullTracker, run contexts and parameter/metric helpers."""

from __future__ import annotations

import contextlib
import math

import pytest

from textclf.tracking.base import (
    MAX_PARAM_VALUE_LENGTH,
    NullTracker,
    RunContext,
    RunStatus,
    Tracker,
    TrackingInfo,
    finite_metrics,
    flatten_params,
    metric_key,
    status_for,
)


class RecordingTracker(NullTracker):
    """A NullTracker that remembers how its runs ended."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: list[str] = []

    def end_run(self, status: RunStatus = "FINISHED") -> TrackingInfo:
        self.ended.append(status)
        return super().end_run(status)


def test_null_tracker_satisfies_the_protocol() -> None:
    assert isinstance(NullTracker(), Tracker)
    assert NullTracker().info().backend == "none"


@pytest.mark.parametrize(
    ("error", "status"),
    [(None, "FINISHED"), (ValueError("x"), "FAILED"), (KeyboardInterrupt(), "KILLED")],
)
def test_run_context_ends_with_the_status_of_the_exit(
    error: BaseException | None, status: str
) -> None:
    tracker = RecordingTracker()
    expect = pytest.raises(type(error)) if error else contextlib.nullcontext()
    with expect, tracker.start_run("r"):
        if error:
            raise error
    assert tracker.ended == [status]
    assert status_for(error) == status


def test_nested_runs_need_nested_true() -> None:
    tracker = RecordingTracker()
    outer = tracker.start_run("search")
    assert isinstance(outer, RunContext)
    with pytest.raises(RuntimeError, match="nested=True"):
        tracker.start_run("trial")
    with tracker.start_run("trial", nested=True):
        pass
    tracker.end_run()
    assert tracker.ended == ["FINISHED", "FINISHED"]


def test_flatten_params_known_answer() -> None:
    config = {
        "seed": 42,
        "data": {"train": "a.csv", "label_columns": None, "tags": ["x", "y"]},
        "train": {"learning_rate": 3e-5, "keep": False, "extra": {}},
    }
    assert flatten_params(config) == {
        "seed": "42",
        "data.train": "a.csv",
        "data.label_columns": "None",
        "data.tags": '["x", "y"]',
        "train.learning_rate": "3e-05",
        "train.keep": "False",
        "train.extra": "{}",
    }


def test_flatten_params_cuts_values_mlflow_would_reject() -> None:
    long = flatten_params({"text": "x" * (MAX_PARAM_VALUE_LENGTH + 50)})["text"]
    assert len(long) == MAX_PARAM_VALUE_LENGTH
    assert long.endswith("…")


def test_metric_key_replaces_what_mlflow_rejects() -> None:
    assert metric_key("test_f1/Her2+ (3+)") == "test_f1/Her2_ _3__"
    assert metric_key("val_f1_macro") == "val_f1_macro"
    assert len(metric_key("k" * 400)) == 250


def test_finite_metrics_drops_what_is_not_a_number() -> None:
    got = finite_metrics(
        {"a": 1, "b": 0.5, "c": None, "d": math.nan, "e": "x", "f": True, "g": math.inf}
    )
    assert got == {"a": 1.0, "b": 0.5}
