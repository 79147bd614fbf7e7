"""Trainer callbacks: how training reports to the outside without knowing who listens.

Training knows experiment tracking only through :class:`TrackingCallback` and the
``Tracker`` protocol; which backend records the run (MLflow, W&B, none) is decided by
the caller.

Example:
    >>> from textclf.tracking.base import NullTracker
    >>> callback = TrackingCallback(NullTracker())
    >>> trainer_metrics({"loss": 0.7, "eval_f1_macro": 0.8, "epoch": 1.0})
    {'train_loss': 0.7, 'val_f1_macro': 0.8, 'epoch': 1.0}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from transformers import (
    EarlyStoppingCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_callback import ExportableState

from textclf.progress import progress_bar
from textclf.tracking.base import Tracker, finite_metrics

logger = logging.getLogger(__name__)


def trainer_metrics(logs: Mapping[str, Any]) -> dict[str, float]:
    """The Trainer's log entries under names that say which split they come from.

    ``eval_*`` (computed on the validation split during training) becomes ``val_*``,
    ``epoch`` stays, the final summary's ``train_loss`` (a mean over training) becomes
    ``train_loss_mean``, everything else (``loss``, ``learning_rate``, ``grad_norm``,
    ``total_flos``) gets a ``train_`` prefix unless it has one. Non-numbers are dropped.
    """
    out: dict[str, float] = {}
    for key, value in finite_metrics(logs).items():
        if key == "train_loss":
            # The end-of-training summary's mean loss: not the last step's ``loss``.
            name = "train_loss_mean"
        elif key.startswith("eval_"):
            name = "val_" + key[len("eval_") :]
        elif key == "epoch" or key.startswith("train_"):
            name = key
        else:
            name = "train_" + key
        out[name] = value
    return out


class TrackingCallback(TrainerCallback):
    """Sends every Trainer log (per logging step and per evaluation) to a ``Tracker``.

    Args:
        tracker: A tracker with an open run.
    """

    def __init__(self, tracker: Tracker):
        self.tracker = tracker
        self._warned = False

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or not state.is_world_process_zero:
            return
        metrics = trainer_metrics(logs)
        if not metrics:
            return
        try:
            self.tracker.log_metrics(metrics, step=state.global_step)
        except Exception as e:  # trackers should not raise; if one does, training goes on
            if not self._warned:
                self._warned = True
                logger.warning("Experiment tracking failed (%s); training goes on.", e)


def _short(name: str) -> str:
    return name.removeprefix("eval_")


class ProgressCallback(TrainerCallback):
    """One progress bar for training and one short line per evaluation; raw logs at DEBUG.

    Replaces the Trainer's own progress and printer callbacks, which print every log as a
    20-key dictionary. Says when early stopping ends the run and which checkpoint is kept.
    Silent when the ``textclf`` logger is above INFO (``-q``), and on ranks other than 0.

    Args:
        metric: The metric that chooses the best checkpoint (``f1_macro``, ``log_loss``…).
        show: Headline metrics shown per evaluation besides ``metric`` and the loss.
    """

    def __init__(
        self,
        metric: str,
        show: tuple[str, ...] = ("accuracy",),
        *,
        guard: DegenerationGuard | None = None,
    ) -> None:
        self.metric = metric
        self.guard = guard  # when it stopped the run, that is the reason said, not patience
        self.show = tuple(m for m in show if m != metric)
        self._bar: Any = None
        # The best value so far, kept here: the Trainer updates state.best_metric only
        # after on_evaluate, so comparing with it marked ties with the old best instead.
        self._best: float | None = None

    def _enabled(self, state: TrainerState) -> bool:
        return state.is_world_process_zero and logging.getLogger("textclf").isEnabledFor(
            logging.INFO
        )

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._best = state.best_metric  # a resumed run's best so far, from its checkpoint
        if not self._enabled(state):
            return
        self._bar = progress_bar(
            total=state.max_steps, initial=state.global_step, desc="Training", unit="step"
        )

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        logger.debug("step %d: %s", state.global_step, logs)
        if self._bar is not None and logs and "loss" in logs:
            self._bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._enabled(state) or not metrics:
            return
        key = f"eval_{self.metric}"
        parts = [f"epoch {state.epoch or 0:.1f}", f"step {state.global_step}/{state.max_steps}"]
        if key in metrics:
            parts.append(f"val {self.metric} {metrics[key]:.4f}")
        parts += [f"{m} {metrics[f'eval_{m}']:.4f}" for m in self.show if f"eval_{m}" in metrics]
        if "eval_loss" in metrics:
            parts.append(f"loss {metrics['eval_loss']:.4f}")
        value = metrics.get(key)
        # Strictly better, as the Trainer picks the checkpoint it keeps.
        best = value is not None and (
            self._best is None
            or (value > self._best if args.greater_is_better is not False else value < self._best)
        )
        if best:
            self._best = value
        line = " · ".join(parts) + ("  (best so far)" if best else "")
        if self._bar is not None:
            self._bar.write(line)
        else:
            logger.info(line)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self._enabled(state):
            return
        kept = ""
        if state.best_model_checkpoint and state.best_metric is not None:
            step = state.best_model_checkpoint.rstrip("/").rpartition("-")[2]
            kept = f"; keeping the best checkpoint, step {step} ({self.metric} {state.best_metric:.4f})"
        if state.global_step < state.max_steps and self.guard is not None and self.guard.stopped:
            logger.info(
                "Stopped at step %d of %d: %s%s.",
                state.global_step,
                state.max_steps,
                self.guard.reason,
                kept,
            )
        elif state.global_step < state.max_steps:
            logger.info(
                "Early stopping at step %d of %d: validation %s stopped improving%s.",
                state.global_step,
                state.max_steps,
                self.metric,
                kept,
            )
        elif kept:
            logger.info("Training finished%s.", kept)


def prediction_collapse(task: str, y_true: Any, proba: Any) -> dict[str, float]:
    """How concentrated the predictions are, beside how concentrated the truth is.

    ``pred_mode_share``: the share of examples given the single most common prediction (a
    class, or a label set for multi-label); ``true_mode_share``: the same for the truth.
    A model stuck at the class prior predicts one class for (nearly) everything.
    """
    import numpy as np

    proba = np.asarray(proba)
    y = np.asarray(y_true)
    if task == "multilabel":
        pred_keys = [row.tobytes() for row in (proba >= 0.5).astype(np.int8)]
        true_keys = [row.tobytes() for row in y.astype(np.int8)]
    else:
        pred_keys = proba.argmax(axis=1).tolist()
        true_keys = y.reshape(-1).tolist()

    def mode_share(keys: list[Any]) -> float:
        if not keys:
            return 0.0
        _, counts = np.unique(np.asarray(keys, dtype=object).astype(str), return_counts=True)
        return float(counts.max() / len(keys))

    return {"pred_mode_share": mode_share(pred_keys), "true_mode_share": mode_share(true_keys)}


class DegenerationGuard(TrainerCallback, ExportableState):
    """Stops a run that is stuck, so training can restart it with a remedy.

    Few-sample fine-tuning often fails outright: the model sits at the class prior and
    predicts one class for everything (Mosbach et al., ICLR 2021; measured here on the
    demo's reports). Early in training nearly every run predicts the majority class for a
    while, so a run is judged only once it has had its chance: from ``judge_after`` of the
    planned steps on, ``patience`` evaluations in a row where the validation predictions
    have collapsed onto one class (or one label set) that the truth does not collapse onto
    stop it, and :attr:`reason` says why. A run that ends sooner (early stopping) with
    that many collapsed evaluations last is judged at its end. On fewer than
    ``min_examples`` validation examples a collapse is as likely chance as failure, and
    nothing is judged.

    Args:
        patience: Consecutive collapsed evaluations that make a run degenerate.
        collapsed: Share of validation examples given the same prediction that counts as
            collapse (only when the truth's most common value is clearly rarer).
        judge_after: Share of the planned optimizer steps before a run can be stopped.
        n_validation: Validation examples behind each evaluation (``None``: unknown).
        min_examples: Fewest validation examples to judge a run on.

    Its streak is saved with each checkpoint (:meth:`state`), so ``--resume`` judges the run
    as the uninterrupted one would have.
    """

    def __init__(
        self,
        patience: int = 2,
        collapsed: float = 0.95,
        judge_after: float = 0.5,
        *,
        n_validation: int | None = None,
        min_examples: int = 20,
    ) -> None:
        self.n_validation = n_validation
        self.min_examples = min_examples
        self.enabled = n_validation is None or n_validation >= min_examples
        self.patience = patience
        self.collapsed = collapsed
        self.judge_after = judge_after
        self._streak = 0
        self._last: tuple[float, float, int] | None = None
        self.reason: str | None = None
        self.stopped = False  # it ended the run (not only judged it at the end)

    def state(self) -> dict[str, Any]:
        """HF's stateful-callback record: the Trainer saves it in each checkpoint and, on
        resume, rebuilds the guard from it (a new object: see ``_ClassifierTrainer``)."""
        return {
            "args": {
                "patience": self.patience,
                "collapsed": self.collapsed,
                "judge_after": self.judge_after,
                "n_validation": self.n_validation,
                "min_examples": self.min_examples,
            },
            "attributes": {
                "_streak": self._streak,
                "_last": None if self._last is None else list(self._last),
                "reason": self.reason,
                "stopped": self.stopped,
            },
        }

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.enabled or not metrics or "eval_pred_mode_share" not in metrics:
            return
        pred, true = metrics["eval_pred_mode_share"], metrics["eval_true_mode_share"]
        if pred >= self.collapsed and true < min(self.collapsed, pred) - 0.05:
            self._streak += 1
        else:
            self._streak = 0
        self._last = (pred, true, state.global_step)
        if self._streak >= self.patience and state.global_step >= self.judge_after * (
            state.max_steps or 0
        ):
            self._judge()
            self.stopped = True
            control.should_training_stop = True

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.reason is None and self._streak >= self.patience:
            self._judge()

    def _judge(self) -> None:
        assert self._last is not None
        pred, true, step = self._last
        self.reason = (
            f"the validation predictions collapsed onto one value for {pred:.0%} of the "
            f"examples at {self._streak} evaluations in a row (step {step}), "
            f"where the most common true value covers {true:.0%}"
        )


class FloorEarlyStopping(EarlyStoppingCallback):
    """Hugging Face's early stopping that waits for ``train.min_steps``.

    The step floor exists because small data needs the updates (Mosbach et al., ICLR
    2021), and its validation split is small and noisy: on the demo at seed 1 (403
    training reports, 45 for validation) macro-F1 dipped in epochs 2-3 while the
    learning rate was high, patience 2 stopped the run at step 153 of 400 and test
    macro-F1 was 0.669, level with TF-IDF. Evaluations before the floor still choose the
    best checkpoint; patience counts only those from the floor on.

    Args:
        early_stopping_patience: Evaluations without improvement before stopping.
        early_stopping_threshold: Smallest change that counts as an improvement.
        min_steps: No stop before this optimizer step (``0``: none).
    """

    def __init__(
        self,
        early_stopping_patience: int = 1,
        early_stopping_threshold: float | None = 0.0,
        min_steps: int = 0,
    ) -> None:
        super().__init__(early_stopping_patience, early_stopping_threshold)
        self.min_steps = min_steps

    def state(self) -> dict[str, Any]:
        """HF's stateful-callback record, with the floor: a restored copy keeps it."""
        out = super().state()
        out["args"]["min_steps"] = self.min_steps
        return out

    # EarlyStoppingCallback adds ``metrics`` to TrainerCallback's signature: mypy sees both.
    def on_evaluate(  # type: ignore[override]
        self, args: Any, state: Any, control: Any, metrics: Any, **kwargs: Any
    ) -> Any:
        # Skipped, not overridden: another callback (the degeneration guard) may stop.
        if state.global_step >= self.min_steps:
            super().on_evaluate(args, state, control, metrics, **kwargs)
