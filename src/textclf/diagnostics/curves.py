"""Learning curves from the Hugging Face Trainer's log history, and what they say.

The Trainer keeps one list of log entries (saved as ``DIR/eval/log_history.json``):

* training logs every ``logging_steps``: ``{"loss", "grad_norm", "learning_rate", "epoch", "step"}``;
* evaluations: ``{"eval_loss", "eval_<metric>", …, "eval_runtime", "epoch", "step"}``;
* one final summary: ``{"train_runtime", "train_loss", …, "epoch", "step"}``.

:func:`parse_log_history` turns it into arrays; :func:`diagnose` reads them and writes
plain-words notes for the report (overfitting, under-training, no validation, …), each
quoting the numbers it rests on. Numpy only, so a saved history is analysed without torch.

Example:
    >>> history = [
    ...     {"loss": 0.9, "epoch": 0.5, "step": 10},
    ...     {"eval_loss": 0.6, "eval_f1_macro": 0.7, "epoch": 1.0, "step": 20},
    ...     {"loss": 0.5, "epoch": 1.5, "step": 30},
    ...     {"eval_loss": 0.5, "eval_f1_macro": 0.8, "epoch": 2.0, "step": 40},
    ... ]
    >>> curves = parse_log_history(history)
    >>> curves.metric_name, curves.best_step, curves.best_value
    ('f1_macro', 40, 0.8)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textclf.evaluation.metrics import greater_is_better, headline_metric

logger = logging.getLogger(__name__)

#: Evaluation keys that time the evaluation rather than score the model.
_EVAL_TIMINGS = frozenset(
    {"runtime", "samples_per_second", "steps_per_second", "model_preparation_time"}
)

#: Fallbacks when the task's headline metric was not logged, in order of preference.
_METRIC_FALLBACKS = ("accuracy", "subset_accuracy", "f1_samples", "f1_weighted")

#: Metrics only the multi-label metric set has (see :mod:`textclf.evaluation.metrics`).
_MULTILABEL_ONLY = ("subset_accuracy", "hamming_loss")

# Thresholds of :func:`diagnose`.
#: Evaluations after the validation-loss minimum before a rise counts as overfitting: one
#: higher value is noise; two in a row is a trend (and the default early-stopping patience).
OVERFIT_MIN_EVALS = 2
#: Relative rise of validation loss above its minimum that counts as overfitting; smaller
#: wobbles are sampling noise on validation sets of a few hundred examples.
OVERFIT_MIN_RISE = 0.05
#: Metric gain over the last epoch (absolute, e.g. 0.005 F1) that still counts as
#: improving; below it, the change is within the noise of typical validation sets.
IMPROVING_MIN_GAIN = 0.005
#: Drop of the metric from its best value to the last evaluation that is worth a note.
METRIC_MIN_DROP = 0.01
#: Training loss that ends above this fraction of its starting value has barely moved:
#: fine-tuning a pretrained encoder normally cuts it by far more within one epoch.
STALL_RATIO = 0.9
#: Share of the training logs averaged for the "start" and "end" training loss, so that
#: one noisy batch does not decide the note.
_EDGE_SHARE = 0.1


@dataclass(frozen=True)
class LearningCurves:
    """Training and validation curves parsed from a Trainer log history.

    Attributes:
        train_step: ``(t,)`` int optimiser steps of the training-loss logs.
        train_epoch: ``(t,)`` float epochs of those logs.
        train_loss: ``(t,)`` training loss (mean over the logging interval; NaN kept).
        eval_step: ``(e,)`` int steps of the evaluations (empty without validation).
        eval_epoch: ``(e,)`` float epochs of the evaluations.
        eval_loss: ``(e,)`` validation loss (NaN where not logged).
        eval_metrics: Metric name (without ``eval_``) → ``(e,)`` values (NaN where missing).
        metric_name: The metric that chose the best checkpoint (``"loss"`` when only the
            validation loss was logged; ``None`` without evaluations and without a given
            metric).
        best_step: Step of the checkpoint that was kept — the one the Trainer reloads with
            ``load_best_model_at_end`` — or ``None`` without evaluations.
        best_value: The metric at ``best_step``, or ``None``.
        train_runtime_s: Training time from the final summary entry, if present.
        best_from_record: ``best_step`` is the training record's (the Trainer's own
            choice) rather than re-derived from the log.
    """

    train_step: np.ndarray
    train_epoch: np.ndarray
    train_loss: np.ndarray
    eval_step: np.ndarray
    eval_epoch: np.ndarray
    eval_loss: np.ndarray
    eval_metrics: dict[str, np.ndarray] = field(default_factory=dict)
    metric_name: str | None = None
    best_step: int | None = None
    best_value: float | None = None
    train_runtime_s: float | None = None
    best_from_record: bool = False

    @property
    def greater_is_better(self) -> bool:
        """Whether a higher :attr:`metric` is better (the one rule of
        :func:`textclf.evaluation.metrics.greater_is_better`; the loss is lower-is-better)."""
        return greater_is_better(self.metric_name or "loss")

    @property
    def has_validation(self) -> bool:
        """Whether at least one evaluation was logged."""
        return len(self.eval_step) > 0

    @property
    def metric(self) -> np.ndarray:
        """``(e,)`` values of :attr:`metric_name` (the validation loss for ``"loss"``)."""
        if self.metric_name == "loss":
            return self.eval_loss
        if self.metric_name is None or self.metric_name not in self.eval_metrics:
            return np.full(len(self.eval_step), np.nan)
        return self.eval_metrics[self.metric_name]


def _number(value: Any) -> float:
    """A float from a logged value; NaN for ``None``, strings and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _dedupe_by_step(entries: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One entry per step, the last logged one, sorted by step.

    A run resumed from a checkpoint replays the steps after that checkpoint, so the same
    step can be logged twice; the later entry is the one whose weights were kept.
    """
    by_step: dict[int, Mapping[str, Any]] = {}
    for entry in entries:
        by_step[int(entry["step"])] = entry
    return [by_step[s] for s in sorted(by_step)]


def _choose_metric(names: Sequence[str], metric: str | None) -> str | None:
    """The metric to follow: the given one if logged, else the Trainer's default rule."""
    if metric is not None:
        wanted = metric.removeprefix("eval_")
        if wanted in names or (wanted == "loss" and not names):
            return wanted
        logger.warning(
            "Metric %r is not in the evaluation log (logged: %s); choosing one automatically.",
            wanted,
            ", ".join(sorted(names)) or "none",
        )
    task = "multilabel" if any(n in names for n in _MULTILABEL_ONLY) else "multiclass"
    for candidate in (headline_metric(task), *_METRIC_FALLBACKS):
        if candidate in names:
            return candidate
    return sorted(names)[0] if names else None


def parse_log_history(
    log_history: Sequence[Mapping[str, Any]],
    *,
    metric: str | None = None,
    best_step: int | None = None,
) -> LearningCurves:
    """Arrays of training loss, validation loss and metrics from a Trainer log history.

    The metric that picks the best checkpoint is ``metric`` (``"f1_macro"`` or
    ``"eval_f1_macro"``) when it was logged. Otherwise (``None``, or a name not in the log,
    which is logged as a warning) it is the Trainer's default in textclf,
    :func:`textclf.evaluation.metrics.headline_metric`: ``f1_micro`` when multi-label
    metrics (``subset_accuracy``, ``hamming_loss``) were logged, else ``f1_macro``; if that
    is missing, the first logged of ``accuracy``, ``subset_accuracy``, ``f1_samples``,
    ``f1_weighted``; then the alphabetically first logged metric; and with no metric at all
    but a validation loss, ``"loss"``.

    The kept checkpoint is ``best_step`` — the training record's, which the report should
    pass — when it is one of the logged evaluations. Without it (older run folders) it is
    re-derived as the Trainer chooses: the first evaluation with the best metric value
    (NaN skipped), best meaning highest unless
    :func:`textclf.evaluation.metrics.greater_is_better` says lower (``loss``,
    ``log_loss``, ``ece``, …); the Trainer keeps the earlier of two equal values. Entries
    without a ``step`` are ignored; a step logged twice (a resumed run) keeps its last
    entry.

    Args:
        log_history: ``trainer.state.log_history`` or the parsed ``log_history.json``.
        metric: The Trainer's ``metric_for_best_model``, or ``None`` to apply the rule above.
        best_step: Step of the checkpoint the Trainer kept, from the training record.

    Returns:
        The curves (empty arrays where nothing was logged).

    Example:
        >>> c = parse_log_history([{"loss": 0.7, "epoch": 0.1, "step": 5}])
        >>> c.has_validation, c.train_loss.tolist()
        (False, [0.7])
    """
    train, evals, runtime = [], [], None
    for entry in log_history:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("step"), int | float):
            continue
        if "train_runtime" in entry or "train_loss" in entry:
            runtime = _number(entry.get("train_runtime"))
        elif any(str(k).startswith("eval_") for k in entry):
            evals.append(entry)
        elif "loss" in entry:
            train.append(entry)
    train, evals = _dedupe_by_step(train), _dedupe_by_step(evals)

    names: list[str] = []
    for entry in evals:
        for key in entry:
            name = str(key).removeprefix("eval_")
            if (
                str(key).startswith("eval_")
                and name != "loss"
                and name not in _EVAL_TIMINGS
                and name not in names
                and isinstance(entry[key], int | float)
            ):
                names.append(name)
    eval_metrics = {
        n: np.array([_number(e.get(f"eval_{n}")) for e in evals], dtype=np.float64) for n in names
    }
    eval_loss = np.array([_number(e.get("eval_loss")) for e in evals], dtype=np.float64)
    eval_step = np.array([int(e["step"]) for e in evals], dtype=np.int64)

    metric_name = _choose_metric(names, metric) if evals else metric
    if evals and metric_name is None and np.isfinite(eval_loss).any():
        metric_name = "loss"
    kept, best_value, from_record = None, None, False
    if evals and metric_name is not None:
        values = eval_loss if metric_name == "loss" else eval_metrics[metric_name]
        recorded = np.flatnonzero(eval_step == (-1 if best_step is None else best_step))
        if len(recorded):
            # The Trainer's own choice: never re-guess what the record states (issue 12).
            i = int(recorded[0])
            kept, from_record = int(eval_step[i]), True
            best_value = float(values[i]) if np.isfinite(values[i]) else None
        elif np.isfinite(values).any():
            if best_step is not None:
                logger.warning(
                    "The kept checkpoint (step %d) is not among the logged evaluations; "
                    "marking the best evaluation by %s instead.",
                    best_step,
                    metric_name,
                )
            # Sign so that the best is the largest; argmax keeps the first of equals.
            sign = 1.0 if greater_is_better(metric_name) else -1.0
            i = int(np.argmax(np.where(np.isfinite(values), sign * values, -np.inf)))
            kept, best_value = int(eval_step[i]), float(values[i])

    return LearningCurves(
        train_step=np.array([int(e["step"]) for e in train], dtype=np.int64),
        train_epoch=np.array([_number(e.get("epoch")) for e in train], dtype=np.float64),
        train_loss=np.array([_number(e.get("loss")) for e in train], dtype=np.float64),
        eval_step=eval_step,
        eval_epoch=np.array([_number(e.get("epoch")) for e in evals], dtype=np.float64),
        eval_loss=eval_loss,
        eval_metrics=eval_metrics,
        metric_name=metric_name,
        best_step=kept,
        best_value=best_value,
        train_runtime_s=None if runtime is None or math.isnan(runtime) else runtime,
        best_from_record=from_record,
    )


def _fmt(x: float) -> str:
    """Three significant decimals, the precision the notes quote."""
    return f"{x:.3f}"


def _train_loss_between(curves: LearningCurves, lo: float, hi: float) -> np.ndarray:
    """Finite training losses logged at steps in ``(lo, hi]``."""
    keep = (curves.train_step > lo) & (curves.train_step <= hi) & np.isfinite(curves.train_loss)
    return curves.train_loss[keep]


def _nan_notes(curves: LearningCurves) -> list[str]:
    notes = []
    for what, steps, values in (
        ("training", curves.train_step, curves.train_loss),
        ("validation", curves.eval_step, curves.eval_loss),
    ):
        bad = np.flatnonzero(np.isnan(values) | np.isinf(values))
        if len(bad):
            notes.append(
                f"The {what} loss became NaN or infinite at step {int(steps[bad[0]])} "
                f"({len(bad)} of {len(values)} logs): training diverged there; lower "
                "train.learning_rate or use train.precision=fp32."
            )
    return notes


def _stall_note(curves: LearningCurves) -> str | None:
    loss = curves.train_loss[np.isfinite(curves.train_loss)]
    steps = curves.train_step[np.isfinite(curves.train_loss)]
    if len(loss) < 3:
        return None
    edge = max(1, round(_EDGE_SHARE * len(loss)))
    start, end = float(loss[:edge].mean()), float(loss[-edge:].mean())
    if start <= 0 or end <= STALL_RATIO * start:
        return None
    return (
        f"Training loss barely fell ({_fmt(start)} → {_fmt(end)} from step {int(steps[0])} to "
        f"{int(steps[-1])}, {100 * (1 - end / start):.0f} % lower): the model may not be "
        "learning — try a larger train.learning_rate, train longer, or check that the labels "
        "match the texts."
    )


def _reference_index(curves: LearningCurves) -> tuple[int, str]:
    """The evaluation about one epoch before the last, and how to describe the span."""
    epochs = curves.eval_epoch
    last = len(epochs) - 1
    if np.isfinite(epochs[last]):
        earlier = np.flatnonzero(epochs[:last] <= epochs[last] - 1 + 1e-6)
        if len(earlier):
            ref = int(earlier[-1])
            span = float(epochs[last] - epochs[ref])
            # A run cut mid-epoch (max_steps) spans more than one epoch since then: say so.
            return ref, (
                "over the last epoch" if span < 1.05 else f"over the last {span:.1f} epochs"
            )
    return 0, f"since the first evaluation (step {int(curves.eval_step[0])})"


def diagnose(curves: LearningCurves) -> list[str]:
    """Plain-words notes on the learning curves, each quoting the numbers behind it.

    Checks, in order: NaN losses; a training loss that barely fell (ends above
    ``STALL_RATIO`` of its start); no validation; a single evaluation; overfitting
    (validation loss ``OVERFIT_MIN_RISE`` above its minimum after at least
    ``OVERFIT_MIN_EVALS`` evaluations while training loss kept falling); a metric that
    peaked before the end (more than ``METRIC_MIN_DROP`` below its best at the last
    evaluation); under-training (the metric best at the last evaluation and up at least
    ``IMPROVING_MIN_GAIN`` over the last epoch). Without any of the last three, the curves
    are called healthy. "Better" follows the metric's direction
    (:attr:`LearningCurves.greater_is_better`), so a lower-is-better metric such as
    ``log_loss`` improves as it falls.

    Args:
        curves: From :func:`parse_log_history`.

    Returns:
        Notes, most important first; never empty.

    Example:
        >>> c = parse_log_history([{"loss": 0.7, "epoch": 1.0, "step": 5}])
        >>> diagnose(c)[0].startswith("No validation split")
        True
    """
    if len(curves.train_step) == 0 and not curves.has_validation:
        return ["The training log is empty: there are no curves to judge."]
    notes = _nan_notes(curves)
    stall = _stall_note(curves)
    if stall:
        notes.append(stall)

    if not curves.has_validation:
        finite = np.isfinite(curves.train_loss)
        span = ""
        if finite.any():
            first, last = np.flatnonzero(finite)[[0, -1]]
            span = (
                f" ({_fmt(curves.train_loss[first])} at step {int(curves.train_step[first])} → "
                f"{_fmt(curves.train_loss[last])} at step {int(curves.train_step[last])})"
            )
        notes.append(
            f"No validation split: the curves show training loss only{span}, so overfitting "
            "cannot be seen and the weights of the last step were kept rather than the best "
            "checkpoint. Give a validation set (data.validation or split.validation_size) to "
            "get best-checkpoint selection and early stopping."
        )
        return notes

    name = curves.metric_name or "loss"
    values = curves.metric
    # Signed so that a positive change is an improvement, whichever way the metric points.
    sign = 1.0 if curves.greater_is_better else -1.0
    rose, peaked, worse = (
        ("rose by +", "peaked", "lower")
        if curves.greater_is_better
        else ("fell by ", "was lowest", "higher")
    )
    steps = curves.eval_step
    last = len(steps) - 1
    if last == 0:
        shown = f"{name} {_fmt(values[0])}" if np.isfinite(values[0]) else "no finite metric"
        notes.append(
            f"Only one evaluation (step {int(steps[0])}, {shown}): there is no validation trend "
            "to judge. Evaluate more often (train.eval_strategy=steps with train.eval_steps) or "
            "train for more epochs to see one."
        )
        return notes

    best_i = (
        int(np.flatnonzero(steps == curves.best_step)[0]) if curves.best_step is not None else None
    )
    best_txt = (
        f"the best checkpoint (step {curves.best_step}, {name} {_fmt(curves.best_value)})"
        if best_i is not None and curves.best_value is not None
        else "the best checkpoint"
    )
    loss = curves.eval_loss
    trend_notes: list[str] = []

    # Overfitting: validation loss climbs away from its minimum while training loss falls.
    if np.isfinite(loss).sum() >= 2:
        i_min = int(np.nanargmin(loss))
        n_after = last - i_min
        rise = loss[last] / loss[i_min] - 1 if loss[i_min] > 0 else 0.0
        at_min = _train_loss_between(curves, -np.inf, float(steps[i_min]))
        after = _train_loss_between(curves, float(steps[i_min]), float(steps[last]))
        train_fell = len(at_min) > 0 and len(after) > 0 and after[-1] < at_min[-1]
        if n_after >= OVERFIT_MIN_EVALS and rise >= OVERFIT_MIN_RISE and train_fell:
            head = (
                f"Validation loss reached its minimum at step {int(steps[i_min])} "
                f"({_fmt(loss[i_min])}) and was {100 * rise:.0f} % higher ({_fmt(loss[last])}) "
                f"at the last evaluation, {n_after} evaluations later, while training loss kept "
                f"falling ({_fmt(at_min[-1])} → {_fmt(after[-1])}): the model is overfitting"
            )
            gain = (
                float(sign * (values[best_i] - values[i_min]))
                if best_i is not None and np.isfinite(values[i_min])
                else 0.0
            )
            if name == "loss" or best_i is None or best_i <= i_min or gain < IMPROVING_MIN_GAIN:
                at = best_i if best_i is not None else i_min
                epoch_at = curves.eval_epoch[at]
                n_epochs = max(1, math.ceil(epoch_at - 1e-6)) if np.isfinite(epoch_at) else None
                # --max-steps, not --epochs: the train.min_steps floor can hold a run past
                # the epochs asked for, and max_steps overrides it.
                about = (
                    f"about {n_epochs} epoch{'s' if n_epochs != 1 else ''}, "
                    if n_epochs is not None
                    else ""
                )
                trend_notes.append(
                    f"{head}. {best_txt[0].upper()}{best_txt[1:]} was kept, so a shorter run "
                    f"({about}--max-steps {int(steps[at])}) or more regularisation "
                    "(train.weight_decay) would lose nothing."
                )
            else:
                trend_notes.append(
                    f"{head}. Yet {name} still {rose}{_fmt(gain)} after the loss minimum, to "
                    f"{best_txt}, which was kept: the rising loss mostly reflects over-confident "
                    "mistakes rather than worse decisions, which the temperature fitted on "
                    "validation (eval.calibrate) corrects."
                )

    finite = np.isfinite(values)
    if name != "loss" and not trend_notes and best_i is not None and finite[last]:
        drop = float(sign * (values[best_i] - values[last]))
        ref, span = _reference_index(curves)
        gain = float(sign * (values[last] - values[ref])) if finite[ref] else math.nan
        if best_i < last and drop >= METRIC_MIN_DROP:
            loss_note = ""
            if np.isfinite(loss[best_i]) and np.isfinite(loss[last]) and loss[last] < loss[best_i]:
                loss_note = (
                    f" while validation loss still fell ({_fmt(loss[best_i])} → "
                    f"{_fmt(loss[last])}), so the probabilities kept improving but the decisions "
                    "at the default threshold did not"
                )
            trend_notes.append(
                f"Validation {name} {peaked} at step {curves.best_step} "
                f"({_fmt(values[best_i])}) and ended {_fmt(drop)} {worse} "
                f"({_fmt(values[last])} at step {int(steps[last])}){loss_note}. "
                f"{best_txt[0].upper()}{best_txt[1:]} was kept, so the later training cost "
                "only time."
            )
        elif best_i == last and gain >= IMPROVING_MIN_GAIN:
            loss_note = ""
            if np.isfinite(loss[ref]) and np.isfinite(loss[last]) and loss[last] < loss[ref]:
                loss_note = (
                    f" and validation loss was still falling ({_fmt(loss[ref])} → "
                    f"{_fmt(loss[last])})"
                )
            trend_notes.append(
                f"Validation {name} was still improving at the last evaluation "
                f"({values[last] - values[ref]:+.3f} {span}: {_fmt(values[ref])} → "
                f"{_fmt(values[last])} at step {int(steps[last])}){loss_note}: more optimizer "
                "steps (--epochs, or --max-steps where it ended the run) would likely help."
            )
        else:
            change = values[last] - values[ref] if finite[ref] else math.nan
            trend_notes.append(
                f"The curves look healthy: validation {name} levelled off "
                f"({change:+.3f} {span}) and {best_txt} was kept."
            )
    elif not trend_notes:
        i_min = int(np.nanargmin(loss)) if np.isfinite(loss).any() else last
        trend_notes.append(
            f"The curves look healthy: validation loss was lowest at step {int(steps[i_min])} "
            f"({_fmt(loss[i_min])}) without rising much afterwards, and {best_txt} was kept."
        )
    return notes + trend_notes
