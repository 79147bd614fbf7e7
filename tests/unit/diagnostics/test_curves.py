"""Learning curves: parsing Trainer log histories and the notes drawn from them."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest

from textclf.diagnostics.curves import LearningCurves, diagnose, parse_log_history


def history(
    eval_loss: list[float],
    metric: list[float],
    *,
    train_loss: list[float] | None = None,
    name: str = "f1_macro",
    steps_per_epoch: int = 100,
    log_every: int = 25,
    extra: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """A Trainer-like history: training logs every ``log_every`` steps, one eval per epoch.

    ``extra`` are further metrics logged with each evaluation (default: accuracy 0.5).
    """
    epochs = len(eval_loss) or 1
    n_logs = epochs * steps_per_epoch // log_every
    if train_loss is None:
        train_loss = list(np.linspace(1.0, 0.1, n_logs))
    out: list[dict[str, Any]] = []
    for i, loss in enumerate(train_loss):
        step = (i + 1) * log_every
        out.append(
            {
                "loss": loss,
                "grad_norm": 1.0,
                "learning_rate": 1e-5,
                "epoch": step / steps_per_epoch,
                "step": step,
            }
        )
        if step % steps_per_epoch == 0 and step // steps_per_epoch <= len(eval_loss):
            e = step // steps_per_epoch - 1
            out.append(
                {
                    "eval_loss": eval_loss[e],
                    f"eval_{name}": metric[e],
                    **{f"eval_{k}": v for k, v in (extra or {"accuracy": 0.5}).items()},
                    "eval_runtime": 1.5,
                    "eval_samples_per_second": 100.0,
                    "eval_steps_per_second": 3.0,
                    "epoch": float(e + 1),
                    "step": step,
                }
            )
    last = out[-1]
    out.append(
        {
            "train_runtime": 12.5,
            "train_samples_per_second": 9.0,
            "train_loss": 0.4,
            "epoch": last["epoch"],
            "step": last["step"],
        }
    )
    return out


def joined(curves: LearningCurves) -> str:
    return "\n".join(diagnose(curves))


def says(note: str, *phrases: str) -> None:
    """Every phrase is in the note; a failure names the missing ones and shows the note."""
    missing = [p for p in phrases if p not in note]
    assert not missing, f"{missing} not in: {note}"


def only_note(log: list[dict[str, Any]]) -> str:
    """The one note drawn from a log history (the test fails when there are more)."""
    (note,) = diagnose(parse_log_history(log))
    return note


def test_parse_arrays_metric_and_best_step() -> None:
    h = history([0.6, 0.5, 0.45], [0.70, 0.82, 0.82])
    c = parse_log_history(h)
    assert c.train_step.tolist() == [25 * i for i in range(1, 13)]
    assert c.train_epoch[3] == pytest.approx(1.0)
    assert c.eval_step.tolist() == [100, 200, 300]
    assert c.eval_epoch.tolist() == [1.0, 2.0, 3.0]
    assert c.eval_loss.tolist() == [0.6, 0.5, 0.45]
    # Timings are not metrics; every scored metric is kept.
    assert set(c.eval_metrics) == {"f1_macro", "accuracy"}
    assert c.metric_name == "f1_macro"
    # A tie keeps the earlier evaluation, as the Trainer's strict comparison does.
    assert (c.best_step, c.best_value) == (200, 0.82)
    assert c.train_runtime_s == 12.5
    assert c.has_validation


def test_multilabel_logs_choose_f1_micro() -> None:
    h = history(
        [0.3, 0.2], [0.4, 0.6], name="f1_micro", extra={"f1_macro": 0.9, "subset_accuracy": 0.1}
    )
    c = parse_log_history(h)
    assert c.metric_name == "f1_micro"
    assert c.best_step == 200


def test_explicit_metric_with_or_without_prefix() -> None:
    h = history([0.6, 0.5], [0.7, 0.6])
    for name in ("accuracy", "eval_accuracy"):
        c = parse_log_history(h, metric=name)
        assert c.metric_name == "accuracy"
        assert c.best_step == 100  # 0.5 twice: the first


def test_unknown_metric_falls_back_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="textclf.diagnostics.curves"):
        c = parse_log_history(history([0.6, 0.5], [0.7, 0.8]), metric="mcc")
    assert c.metric_name == "f1_macro"
    assert "mcc" in caplog.text


def test_resumed_run_keeps_the_last_entry_per_step() -> None:
    h: list[dict[str, Any]] = [
        {"loss": 0.9, "epoch": 0.5, "step": 50},
        {"eval_loss": 0.8, "eval_f1_macro": 0.5, "epoch": 1.0, "step": 100},
        {"loss": 0.7, "epoch": 1.5, "step": 150},
        {"eval_loss": 0.7, "eval_f1_macro": 0.6, "epoch": 2.0, "step": 200},
        # resumed from the checkpoint at step 100: steps 150 and 200 are logged again
        {"loss": 0.65, "epoch": 1.5, "step": 150},
        {"eval_loss": 0.66, "eval_f1_macro": 0.62, "epoch": 2.0, "step": 200},
        {"eval_loss": 0.6, "eval_f1_macro": 0.64, "epoch": 3.0, "step": 300},
        {"note": "an entry without a step is ignored"},
    ]
    c = parse_log_history(h)
    assert c.train_step.tolist() == [50, 150]
    assert c.train_loss.tolist() == [0.9, 0.65]
    assert c.eval_step.tolist() == [100, 200, 300]
    assert c.eval_metrics["f1_macro"].tolist() == [0.5, 0.62, 0.64]
    assert c.best_step == 300


def test_nan_is_kept_and_skipped_for_the_best_step() -> None:
    h = history([0.6, float("nan"), 0.5], [0.7, float("nan"), 0.65])
    c = parse_log_history(h)
    assert math.isnan(c.eval_metrics["f1_macro"][1])
    assert c.best_step == 100
    assert "NaN or infinite at step 200" in joined(c)


def test_loss_only_evaluations_pick_the_lowest_loss() -> None:
    h = [
        {"loss": 0.9, "epoch": 0.5, "step": 50},
        {"eval_loss": 0.8, "eval_runtime": 1.0, "epoch": 1.0, "step": 100},
        {"eval_loss": 0.7, "eval_runtime": 1.0, "epoch": 2.0, "step": 200},
    ]
    c = parse_log_history(h)
    assert c.eval_metrics == {}
    assert (c.metric_name, c.best_step, c.best_value) == ("loss", 200, 0.7)


def test_no_validation() -> None:
    h = [
        {"loss": 0.9, "epoch": 0.5, "step": 10},
        {"loss": 0.5, "epoch": 1.0, "step": 20},
        {"loss": 0.2, "epoch": 1.5, "step": 30},
        {"train_runtime": 3.0, "train_loss": 0.5, "epoch": 1.5, "step": 30},
    ]
    c = parse_log_history(h)
    assert not c.has_validation
    assert c.metric_name is None and c.best_step is None and c.best_value is None
    assert len(c.metric) == 0
    notes = diagnose(c)
    assert len(notes) == 1
    assert notes[0].startswith("No validation split")
    assert "0.900 at step 10" in notes[0] and "0.200 at step 30" in notes[0]


def test_empty_history() -> None:
    c = parse_log_history([])
    assert len(c.train_step) == 0 and not c.has_validation
    assert diagnose(c) == ["The training log is empty: there are no curves to judge."]


def test_single_evaluation() -> None:
    note = only_note(history([0.4], [0.874]))
    assert note.startswith("Only one evaluation (step 100, f1_macro 0.874)")


def test_overfitting_with_nothing_gained_after_the_loss_minimum() -> None:
    note = only_note(history([0.5, 0.4, 0.45, 0.55], [0.80, 0.87, 0.86, 0.85]))
    says(
        note,
        "minimum at step 200 (0.400)",
        "38 % higher (0.550)",
        "2 evaluations later",
        "best checkpoint (step 200, f1_macro 0.870) was kept",
        "a shorter run (about 2 epochs, --max-steps 200)",
        "would lose nothing",
    )


def test_overfitting_loss_while_the_metric_still_improves() -> None:
    # As on SST-2: validation loss climbs for 3 epochs but macro-F1 creeps up.
    note = only_note(
        history([0.298, 0.2975, 0.384, 0.432, 0.490], [0.873, 0.896, 0.903, 0.903, 0.904])
    )
    says(
        note,
        "minimum at step 200 (0.297)",
        "still rose by +0.008",
        "step 500, f1_macro 0.904",
        "over-confident",
    )


def test_under_training() -> None:
    note = only_note(history([0.9, 0.7, 0.6, 0.55], [0.60, 0.75, 0.84, 0.87]))
    assert note.startswith("Validation f1_macro was still improving at the last evaluation")
    says(
        note,
        "+0.030 over the last epoch: 0.840 → 0.870 at step 400",
        "validation loss was still falling (0.600 → 0.550)",
        "more optimizer steps (--epochs, or --max-steps where it ended the run)",
    )


def test_metric_that_peaked_early() -> None:
    ml = {"f1_macro": 0.3, "subset_accuracy": 0.2}
    note = only_note(history([0.231, 0.212], [0.577, 0.564], name="f1_micro", extra=ml))
    assert note.startswith("Validation f1_micro peaked at step 100 (0.577) and ended 0.013 lower")
    assert "validation loss still fell (0.231 → 0.212)" in note


def test_healthy_curves() -> None:
    note = only_note(history([0.6, 0.45, 0.42, 0.41], [0.70, 0.85, 0.860, 0.862]))
    assert note.startswith("The curves look healthy")
    says(note, "+0.002 over the last epoch", "step 400, f1_macro 0.862")


def test_training_loss_that_barely_moves() -> None:
    flat = [0.69, 0.69, 0.689, 0.688, 0.69, 0.687, 0.688, 0.686]
    c = parse_log_history(history([0.69, 0.69], [0.33, 0.33], train_loss=flat))
    notes = diagnose(c)
    assert notes[0].startswith("Training loss barely fell (0.690 → 0.686")
    assert len(notes) == 2  # plus the verdict on the validation curves


# --- the kept checkpoint: the record's, or the shared lower-is-better rule (issue 12) ---


def test_lower_is_better_metric_marks_its_lowest_evaluation() -> None:
    # log_loss is best where it is lowest (step 200); highest-is-best would mark step 400.
    c = parse_log_history(
        history([0.6, 0.5, 0.55, 0.7], [0.62, 0.48, 0.55, 0.71], name="log_loss"),
        metric="eval_log_loss",
    )
    assert (c.metric_name, c.best_step, c.best_value) == ("log_loss", 200, 0.48)
    assert not c.greater_is_better and not c.best_from_record
    (note,) = diagnose(c)
    assert "best checkpoint (step 200, log_loss 0.480) was kept" in note


def test_lower_is_better_metric_that_was_best_early_reads_the_right_way() -> None:
    ml = {"f1_macro": 0.3, "subset_accuracy": 0.2}
    c = parse_log_history(
        history([0.231, 0.212], [0.40, 0.42], name="hamming_loss", extra=ml), metric="hamming_loss"
    )
    (note,) = diagnose(c)
    assert c.best_step == 100
    assert note.startswith("Validation hamming_loss was lowest at step 100 (0.400)")
    assert "ended 0.020 higher (0.420 at step 200)" in note


def test_falling_log_loss_is_still_improving() -> None:
    c = parse_log_history(
        history([0.9, 0.7, 0.6, 0.55], [0.90, 0.72, 0.61, 0.57], name="log_loss"),
        metric="log_loss",
    )
    (note,) = diagnose(c)
    assert note.startswith("Validation log_loss was still improving at the last evaluation")
    assert "-0.040 over the last epoch: 0.610 → 0.570 at step 400" in note


def test_recorded_best_step_is_marked_instead_of_guessed() -> None:
    h = history([0.6, 0.5, 0.55], [0.70, 0.82, 0.85])
    guessed = parse_log_history(h, metric="f1_macro")
    assert guessed.best_step == 300 and not guessed.best_from_record
    # The Trainer kept step 200 (say, an older rule or early stopping): the record wins.
    kept = parse_log_history(h, metric="f1_macro", best_step=200)
    assert (kept.best_step, kept.best_value, kept.best_from_record) == (200, 0.82, True)
    assert "step 200, f1_macro 0.820" in joined(kept)


def test_recorded_step_missing_from_the_log_falls_back_with_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = history([0.6, 0.5], [0.70, 0.82])
    with caplog.at_level(logging.WARNING, logger="textclf.diagnostics.curves"):
        c = parse_log_history(h, metric="f1_macro", best_step=150)
    assert (c.best_step, c.best_from_record) == (200, False)
    assert "step 150" in caplog.text


def test_a_run_cut_mid_epoch_states_the_span_it_measured_over() -> None:
    log = history([0.9, 0.7, 0.6], [0.60, 0.75, 0.87])
    last_eval = [h for h in log if "eval_loss" in h][-1]
    last_eval["epoch"] = 2.5  # --max-steps ended the run half-way through the third epoch
    note = only_note(log)
    says(note, "+0.270 over the last 1.5 epochs: 0.600 → 0.870 at step 300")
