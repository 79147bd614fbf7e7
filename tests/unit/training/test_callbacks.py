"""TrackingCallback: the Trainer's logs reach the tracker under split-named keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import TrainerControl, TrainerState, TrainingArguments

from textclf.tracking.base import NullTracker
from textclf.training.callbacks import TrackingCallback, trainer_metrics


class Recorder(NullTracker):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.calls: list[tuple[dict[str, float], int | None]] = []
        self.fail = fail

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        if self.fail:
            raise ConnectionError("server gone")
        self.calls.append((dict(metrics), step))


def test_trainer_metrics_names_the_split() -> None:
    logs: dict[str, Any] = {
        "loss": 0.7,
        "grad_norm": 1.5,
        "learning_rate": 1e-4,
        "epoch": 0.5,
        "eval_loss": 0.6,
        "eval_f1_macro": 0.8,
        "eval_runtime": 0.1,
        "train_runtime": 9.0,
        "train_loss": 0.65,
        "total_flos": 12.0,
        "note": "text is dropped",
    }
    assert trainer_metrics(logs) == {
        "train_loss": 0.7,
        "train_grad_norm": 1.5,
        "train_learning_rate": 1e-4,
        "epoch": 0.5,
        "val_loss": 0.6,
        "val_f1_macro": 0.8,
        "val_runtime": 0.1,
        "train_runtime": 9.0,
        "train_loss_mean": 0.65,
        "train_total_flos": 12.0,
    }


def _on_log(callback: TrackingCallback, logs: dict[str, Any], step: int) -> None:
    state = TrainerState()
    state.global_step = step
    args = TrainingArguments(output_dir="unused", report_to="none", use_cpu=True)
    callback.on_log(args, state, TrainerControl(), logs=logs)


def test_callback_sends_logs_at_the_global_step() -> None:
    tracker = Recorder()
    callback = TrackingCallback(tracker)
    _on_log(callback, {"loss": 0.9, "epoch": 0.2}, step=5)
    _on_log(callback, {"eval_accuracy": 0.75, "epoch": 1.0}, step=25)
    _on_log(callback, {"note": "nothing numeric"}, step=26)
    assert tracker.calls == [
        ({"train_loss": 0.9, "epoch": 0.2}, 5),
        ({"val_accuracy": 0.75, "epoch": 1.0}, 25),
    ]


def test_a_failing_tracker_does_not_stop_training(caplog: Any) -> None:
    callback = TrackingCallback(Recorder(fail=True))
    _on_log(callback, {"loss": 0.9}, step=5)
    _on_log(callback, {"loss": 0.8}, step=10)
    warnings = [r for r in caplog.records if "tracking failed" in r.getMessage()]
    assert len(warnings) == 1


def _early_stop_after(step: int, *, min_steps: int, already_stopping: bool = False) -> bool:
    from types import SimpleNamespace

    from transformers import TrainerControl, TrainerState

    from textclf.training.callbacks import FloorEarlyStopping

    cb = FloorEarlyStopping(1, min_steps=min_steps)
    args = SimpleNamespace(metric_for_best_model="f1_macro", greater_is_better=True)
    state = TrainerState(global_step=step, best_metric=0.9)
    control = TrainerControl(should_training_stop=already_stopping)
    cb.on_evaluate(args, state, control, {"eval_f1_macro": 0.5})  # worse than the best
    return control.should_training_stop


def test_early_stopping_waits_for_the_step_floor() -> None:
    assert not _early_stop_after(153, min_steps=400)
    assert _early_stop_after(400, min_steps=400)
    assert _early_stop_after(153, min_steps=0)


def test_early_stopping_floor_leaves_another_callbacks_stop_alone() -> None:
    # the degeneration guard stops a collapsed run to restart it, floor or not
    assert _early_stop_after(51, min_steps=400, already_stopping=True)


def test_early_stopping_floor_survives_a_callback_state_round_trip() -> None:
    # the Trainer rebuilds a stateful callback as type(cb)(**state["args"])
    from textclf.training.callbacks import FloorEarlyStopping

    cb = FloorEarlyStopping(3, min_steps=400)
    copy = FloorEarlyStopping(**cb.state()["args"])
    assert (copy.early_stopping_patience, copy.min_steps) == (3, 400)


def test_best_so_far_marks_each_strict_improvement_as_the_trainer_keeps_it(caplog) -> None:
    from types import SimpleNamespace

    from textclf.training.callbacks import ProgressCallback

    # The Trainer updates state.best_metric only after on_evaluate: the marker must not
    # wait for it (it used to mark ties with the previous best, never a new one).
    state = SimpleNamespace(
        is_world_process_zero=True, best_metric=None, epoch=1.0, global_step=1, max_steps=6
    )
    for greater, values, marked in (
        (True, [0.955, 0.980, 0.980, 1.0, 1.0], [True, True, False, True, False]),
        (False, [0.5, 0.4, 0.45, 0.3], [True, True, False, True]),
    ):
        callback = ProgressCallback("f1_macro")
        args = SimpleNamespace(greater_is_better=greater)
        got = []
        for value in values:
            caplog.clear()
            with caplog.at_level("INFO", logger="textclf"):
                callback.on_evaluate(args, state, None, metrics={"eval_f1_macro": value})
            got.append("(best so far)" in caplog.text)
        assert got == marked, greater


def test_a_stop_by_the_collapse_guard_is_not_called_early_stopping(caplog) -> None:
    from types import SimpleNamespace

    from textclf.training.callbacks import DegenerationGuard, ProgressCallback

    state = SimpleNamespace(
        is_world_process_zero=True,
        best_model_checkpoint="run/checkpoint-20",
        best_metric=0.3548,
        global_step=40,
        max_steps=80,
    )
    guard = DegenerationGuard(patience=1, judge_after=0.0)
    control = SimpleNamespace(should_training_stop=False)
    collapsed = {"eval_pred_mode_share": 1.0, "eval_true_mode_share": 0.5}
    guard.on_evaluate(None, state, control, metrics=collapsed)  # type: ignore[arg-type]
    assert guard.stopped and control.should_training_stop
    with caplog.at_level("INFO", logger="textclf"):
        ProgressCallback("f1_macro", guard=guard).on_train_end(None, state, None)  # type: ignore[arg-type]
    assert (
        "Stopped at step 40 of 80: the validation predictions collapsed onto one value"
        in caplog.text
    )
    assert "Early stopping" not in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="textclf"):
        ProgressCallback("f1_macro", guard=DegenerationGuard()).on_train_end(None, state, None)  # type: ignore[arg-type]
    assert "Early stopping at step 40 of 80: validation f1_macro stopped improving" in caplog.text
