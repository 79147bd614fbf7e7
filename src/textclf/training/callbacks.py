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

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

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
