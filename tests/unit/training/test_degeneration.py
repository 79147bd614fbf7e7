"""A run stuck at the class prior is detected and restarted with a remedy."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from textclf.training.callbacks import DegenerationGuard, prediction_collapse


def test_prediction_collapse_measures_the_most_common_prediction_and_truth():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.4, 0.6]])
    out = prediction_collapse("binary", np.array([0, 1, 1, 0]), proba)
    assert out == {"pred_mode_share": 0.75, "true_mode_share": 0.5}
    ml = prediction_collapse("multilabel", np.array([[1, 0], [0, 1]]), np.array([[0.1, 0.2]] * 2))
    assert ml == {"pred_mode_share": 1.0, "true_mode_share": 0.5}


def _evaluate(guard: DegenerationGuard, pred: float, true: float, step: int, max_steps: int = 40):
    control = SimpleNamespace(should_training_stop=False)
    guard.on_evaluate(
        None,  # type: ignore[arg-type]
        SimpleNamespace(global_step=step, max_steps=max_steps),  # type: ignore[arg-type]
        control,  # type: ignore[arg-type]
        metrics={"eval_pred_mode_share": pred, "eval_true_mode_share": true},
    )
    return control.should_training_stop


def test_two_collapsed_evaluations_in_a_row_stop_the_run():
    guard = DegenerationGuard(patience=2)
    assert not _evaluate(guard, 1.0, 0.25, 10)
    assert _evaluate(guard, 0.98, 0.25, 20)
    assert guard.reason is not None and "collapsed" in guard.reason and "step 20" in guard.reason


def test_a_run_that_recovers_or_whose_truth_is_skewed_goes_on():
    guard = DegenerationGuard(patience=2)
    assert not _evaluate(guard, 1.0, 0.25, 10)
    assert not _evaluate(guard, 0.40, 0.25, 20)  # left the prior: the streak resets
    assert not _evaluate(guard, 1.0, 0.25, 30)
    skewed = DegenerationGuard(patience=1)
    assert not _evaluate(skewed, 0.97, 0.96, 10)  # the truth is that skewed: not a failure
    assert skewed.reason is None


def test_a_collapse_early_in_training_is_given_its_chance():
    guard = DegenerationGuard(patience=2)  # judged from half of the 100 planned steps
    assert not _evaluate(guard, 1.0, 0.25, 10, max_steps=100)
    assert not _evaluate(guard, 1.0, 0.25, 20, max_steps=100)  # the usual start at the prior
    assert not _evaluate(guard, 0.5, 0.25, 30, max_steps=100)
    assert guard.reason is None
    assert not _evaluate(guard, 1.0, 0.25, 40, max_steps=100)
    assert _evaluate(guard, 1.0, 0.25, 50, max_steps=100)
    assert guard.reason is not None and "step 50" in guard.reason


def test_a_run_that_ends_early_while_collapsed_is_judged_at_its_end():
    guard = DegenerationGuard(patience=2)
    _evaluate(guard, 1.0, 0.25, 10, max_steps=100)
    _evaluate(guard, 1.0, 0.25, 20, max_steps=100)  # then early stopping ends the run
    assert guard.reason is None
    guard.on_train_end(None, None, None)  # type: ignore[arg-type]
    assert guard.reason is not None and "step 20" in guard.reason


def test_a_tiny_validation_set_is_not_judged():
    guard = DegenerationGuard(patience=1, n_validation=3)  # 3 alike is as likely chance
    assert not _evaluate(guard, 1.0, 0.34, 30)
    guard.on_train_end(None, None, None)  # type: ignore[arg-type]
    assert guard.reason is None


def test_a_degenerate_run_is_restarted_with_seed_probe_and_lower_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import textclf.modeling
    import textclf.training.trainer as trainer
    from textclf.config import ModelConfig, TrainConfig
    from textclf.data.labels import LabelSpace
    from textclf.training.fit import TrainingJob, _train_with_restarts
    from textclf.training.resources import Resources

    calls: list[tuple[int, float, str]] = []

    def fake_train(net, tok, space, tr, va, cfg, *, output_dir, seed, resume, callbacks):
        calls.append((seed, cfg.learning_rate, cfg.head_init))
        return trainer.TrainResult(
            log_history=[],
            best_checkpoint=None,
            best_metric=None,
            metric_name="f1_macro",
            global_step=10,
            train_runtime_s=1.0,
            train_samples_per_second=1.0,
            resources=Resources("cpu", "fp32"),
            batch_size=8,
            gradient_accumulation_steps=1,
            degenerate="stuck" if len(calls) == 1 else None,
        )

    monkeypatch.setattr(trainer, "train_model", fake_train)
    monkeypatch.setattr(textclf.modeling, "build_model", lambda *a, **k: object())
    job = TrainingJob(
        backbone="default",
        seed=7,
        space=LabelSpace("binary", ("a", "b")),
        tokenizer=None,
        train=["a text"] * 10,  # the training rows (only counted here)
        validation=None,
        train_config=TrainConfig(learning_rate=1e-4, max_restarts=2, head_init="random"),
        model_config=ModelConfig(),
    )
    (tmp_path / "checkpoint-5").mkdir()
    _, result = _train_with_restarts(job, ckpt_dir=tmp_path, resume=False, callbacks=(), main=True)
    assert calls == [(7, 1e-4, "random"), (8, 5e-5, "probe")]
    assert result.degenerate is None
    assert "run 1 degenerated (stuck); restarted with seed 8" in result.notes[0]
    assert not (tmp_path / "checkpoint-5").exists()  # the failed run's checkpoints are gone
    assert (tmp_path / "attempt.json").is_file()  # so --resume continues this attempt


def test_the_guard_streak_survives_a_checkpoint_and_resume():
    """Crash review: the streak was not saved, so a run interrupted after one collapsed
    evaluation was judged afresh on resume and could go on where the straight run stopped."""
    from transformers.trainer_callback import TrainerState

    from textclf.training.callbacks import DegenerationGuard

    guard = DegenerationGuard(patience=2, n_validation=40)
    guard._streak, guard._last = 1, (0.97, 0.5, 10)
    saved = json.loads(json.dumps(TrainerState(stateful_callbacks=[guard]).stateful_callbacks))
    record = saved["DegenerationGuard"]
    # What the Trainer does on resume (Trainer._load_callback_state).
    restored = DegenerationGuard(**record["args"])
    for name, value in record["attributes"].items():
        setattr(restored, name, value)
    assert (restored._streak, restored.n_validation, restored.enabled) == (1, 40, True)
    restored._judge()
    assert "at 1 evaluations in a row (step 10)" in (restored.reason or "")
