"""The decision rule: how a model's logits become labels — one type, used everywhere.

A :class:`DecisionRule` is a temperature (calibration), then threshold(s): one for the
positive label of a binary model, one per label of a multi-label model, or none (argmax)
for a multi-class model, which may instead abstain below a confidence (``reject_below``).
It is fitted on validation data by :func:`fit_decision_rule`, owned by the model
(``TextClassifier.rule_``), stored once in ``textclf.json`` and applied by the
``Predictor``, evaluation, the app and the server through :meth:`DecisionRule.decide`.

Fitting never makes a model worse than the plain rule (argmax / 0.5, temperature 1) by
more than noise: a temperature that runs to the search bound is not kept, and tuned
thresholds are kept only when, cross-fitted on held-out folds of the validation split,
they beat the plain rule with a one-sided 95 % paired-bootstrap bound above zero. The
rule records which parts it kept and why (``notes``).

Example:
    >>> import numpy as np
    >>> decide(np.array([[0.3, 0.7], [0.8, 0.2]]), "binary", threshold=0.75).tolist()
    [0, 0]
    >>> rule = DecisionRule("multiclass", reject_below=0.6)
    >>> rule.decide(np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1]])).tolist()
    [-1, 1]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from textclf.errors import ModelOutputError
from textclf.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    mean_nll,
)

if TYPE_CHECKING:
    from textclf.config import EvalConfig

#: Id given to a single-label prediction that abstains (top probability below ``reject_below``).
ABSTAIN = -1

# fit_temperature searches T in [1/20, 20]; an optimum at either end is not a calibration.
_T_BOUNDS = (0.05, 20.0)


def decide(
    proba: np.ndarray,
    task: str,
    *,
    threshold: float | Sequence[float] | np.ndarray | None = None,
    at_least_one: bool = False,
    reject_below: float | None = None,
) -> np.ndarray:
    """Predicted labels from probabilities.

    Args:
        proba: ``(n, k)`` probabilities; softmax rows for single-label, independent
            sigmoids for multi-label.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        threshold: Binary: the probability of the second (positive) label at or above which
            it is predicted (default 0.5). Multi-label: one threshold for all labels or one
            per label (default 0.5). Not used for multi-class (argmax).
        at_least_one: Multi-label only: predict the top label when none passes its threshold.
        reject_below: Multi-class only: abstain (:data:`ABSTAIN`) when the top probability
            is below this.

    Returns:
        ``(n,)`` int ids for single-label tasks, ``(n, k)`` 0/1 ints for multi-label.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if task == "multilabel":
        t = 0.5 if threshold is None else np.asarray(threshold, dtype=np.float64)
        pred = (proba >= t).astype(np.int64)
        if at_least_one and len(pred):
            empty = pred.sum(axis=1) == 0
            pred[empty, proba[empty].argmax(axis=1)] = 1
        return pred
    if task == "binary":
        t = 0.5 if threshold is None else float(np.asarray(threshold).reshape(-1)[0])
        return (proba[:, 1] >= t).astype(np.int64)
    pred = proba.argmax(axis=1).astype(np.int64)
    if reject_below is not None and len(pred):
        pred[proba.max(axis=1) < reject_below] = ABSTAIN
    return pred


def check_finite(logits: np.ndarray) -> None:
    """Refuse NaN or infinite logits: no label can be decided from them.

    A NaN row would otherwise be decided as the first label and counted in every metric
    (statistics review D8), and a temperature fitted on it would be arbitrary.

    Raises:
        ModelOutputError: naming how many rows and the likely causes.
    """
    arr = np.asarray(logits)
    if arr.size and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr.reshape(len(arr), -1))).any(axis=1).sum())
        raise ModelOutputError(
            f"the model gave non-finite scores (NaN or infinity) for {bad} of {len(arr)} "
            "texts: its weights are broken (a training run that diverged) or its precision "
            "overflows; predict with --precision fp32, or train it again."
        )


@dataclass
class DecisionRule:
    """How logits become labels (see the module docstring).

    Attributes:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        temperature: Divides the logits (1.0 = uncalibrated).
        thresholds: ``None`` (argmax / 0.5), one float (binary) or one per label.
        at_least_one: Multi-label: always predict the top label when none passes.
        reject_below: Multi-class: abstain below this top probability (``None``: never).
        fitted_on: Where the rule was fitted (``"validation split"``, a file name).
        ece_before: Validation ECE at temperature 1.
        ece_after: Validation ECE at the kept temperature.
        tuning: What threshold tuning found on validation (metric before/after, per label).
        notes: Plain-words account of what was kept and why.
    """

    task: str = "multiclass"
    temperature: float = 1.0
    thresholds: float | list[float] | None = None
    at_least_one: bool = False
    reject_below: float | None = None
    fitted_on: str | None = None
    ece_before: float | None = None
    ece_after: float | None = None
    tuning: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """``(n, k)`` probabilities: softmax (or per-label sigmoid) of ``logits / temperature``.

        Raises:
            ModelOutputError: for non-finite logits (see :func:`check_finite`).
        """
        check_finite(logits)
        return apply_temperature(logits, self.temperature, multilabel=self.multilabel)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Ids (:data:`ABSTAIN` for an abstention) or 0/1 rows, under this rule."""
        return decide(
            proba,
            self.task,
            threshold=self.thresholds,
            at_least_one=self.at_least_one,
            reject_below=self.reject_below,
        )

    def margins(self, proba: np.ndarray) -> np.ndarray:
        """``(n,)`` how far each row's probabilities are from changing its decision.

        Multi-class: the top probability minus the second (and, with ``reject_below``, no
        more than the top's distance to it); binary: the positive label's distance to its
        threshold; multi-label: the smallest distance of any label to its threshold.
        ``textclf export --quantize int8`` re-checks the closest calls in fp32 with it.
        """
        proba = np.asarray(proba, dtype=np.float64)
        if len(proba) == 0:
            return np.zeros(0)
        k = proba.shape[1]
        if self.task == "multiclass":
            top2 = np.sort(proba, axis=1)[:, -2:] if k > 1 else np.hstack([0 * proba, proba])
            margin = top2[:, 1] - top2[:, 0]
            if self.reject_below is not None:
                margin = np.minimum(margin, np.abs(top2[:, 1] - self.reject_below))
            return margin
        t = np.asarray(self.per_label_thresholds(k), dtype=np.float64)
        if self.task == "binary":
            return np.abs(proba[:, 1] - t[0])
        return np.abs(proba - t).min(axis=1)

    def with_threshold(self, value: float | None) -> DecisionRule:
        """This rule with a user's threshold: the positive label's (binary), every label's
        (multi-label), or the confidence below which a multi-class model abstains.

        Raises:
            ValueError: for a value outside [0, 1].
        """
        if value is None:
            return self
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"threshold {value} must be between 0 and 1")
        if self.task == "multiclass":
            return dataclasses.replace(self, reject_below=float(value))
        return dataclasses.replace(self, thresholds=float(value))

    def per_label_thresholds(self, k: int) -> list[float] | None:
        """Thresholds as one value per label (multi-label) or for the positive label (binary);
        ``None`` for multi-class (argmax: nothing to adjust). Missing values are 0.5."""
        t = self.thresholds
        if self.task == "multilabel":
            if t is None:
                return [0.5] * k
            if isinstance(t, int | float):
                return [float(t)] * k
            return [float(x) for x in t]
        if self.task == "binary":
            return [0.5 if t is None else float(t if isinstance(t, int | float) else t[0])]
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``textclf.json`` (``decision_rule``) and ``metrics.json``."""
        return {
            "task": self.task,
            "temperature": self.temperature,
            "thresholds": self.thresholds,
            "at_least_one": self.at_least_one,
            "reject_below": self.reject_below,
            "fitted_on": self.fitted_on,
            "validation_ece_before": self.ece_before,
            "validation_ece_after": self.ece_after,
            "threshold_tuning": self.tuning,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, task: str | None = None) -> DecisionRule:
        """Inverse of :meth:`to_dict`; ``task`` fills in records written without one."""
        return cls(
            task=data.get("task") or task or "multiclass",
            temperature=float(data.get("temperature", 1.0)),
            thresholds=data.get("thresholds"),
            at_least_one=bool(data.get("at_least_one", False)),
            reject_below=data.get("reject_below"),
            fitted_on=data.get("fitted_on"),
            ece_before=data.get("validation_ece_before"),
            ece_after=data.get("validation_ece_after"),
            tuning=data.get("threshold_tuning"),
            notes=list(data.get("notes") or []),
        )

    @classmethod
    def from_sidecar(cls, data: dict[str, Any]) -> DecisionRule:
        """The rule of a ``textclf.json`` of any version (format 1 kept it in flat keys)."""
        task = data.get("task")
        if "decision_rule" in data:
            return cls.from_dict(data["decision_rule"], task=task)
        flat = ("temperature", "thresholds", "at_least_one")
        return cls.from_dict({k: data[k] for k in flat if k in data}, task=task)


def _counts(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-example (tp, fp, fn, tn) counts, ``(n, 4)``: summed over labels for multi-label.

    Every metric the rule is tuned for is a function of these totals, so a bootstrap
    resample's metric is a weighted sum away (no per-resample sklearn call).
    """
    y = y.reshape(len(y), -1).astype(bool)
    p = pred.reshape(len(pred), -1).astype(bool)
    return np.stack(
        [(y & p).sum(1), (~y & p).sum(1), (y & ~p).sum(1), (~y & ~p).sum(1)], axis=1
    ).astype(np.float64)


def _metric_from_counts(c: np.ndarray, metric: str) -> np.ndarray:
    """``metric`` from ``(..., 4)`` totals of (tp, fp, fn, tn); 0 where undefined."""
    tp, fp, fn, tn = np.moveaxis(c, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric in ("f1", "f1_micro"):
            out = 2 * tp / (2 * tp + fp + fn)
        elif metric == "accuracy":
            out = (tp + tn) / (tp + fp + fn + tn)
        elif metric == "balanced_accuracy":
            out = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
        elif metric == "mcc":
            out = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        else:
            raise ValueError(f"unknown threshold metric '{metric}'")
    return np.nan_to_num(out)


def _cross_fitted_gain(
    task: str,
    y: np.ndarray,
    proba: np.ndarray,
    *,
    labels: Sequence[str],
    metric: str,
    min_positives: int,
    seed: int,
    folds: int = 5,
    n_resamples: int = 1000,
) -> tuple[float, float]:
    """Gain of tuned over plain thresholds on held-out folds: (estimate, one-sided 95 % lower bound).

    Thresholds tuned on the same examples they are scored on look better than they are;
    here each fold is decided by thresholds tuned on the other folds (cross-fitting), and
    the paired bootstrap over validation examples says whether the gain is more than noise.
    """
    from textclf.evaluation.thresholds import tune_binary_threshold, tune_multilabel_thresholds

    n = len(y)
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(n) % folds
    tuned = np.empty_like(y) if task == "multilabel" else np.empty(n, dtype=np.int64)
    for f in range(folds):
        held, rest = fold_of == f, fold_of != f
        if task == "multilabel":
            res = tune_multilabel_thresholds(
                y[rest], proba[rest], labels=list(labels), min_positives=min_positives
            )
        else:
            res = tune_binary_threshold(y[rest], proba[rest], metric=metric)
        tuned[held] = decide(proba[held], task, threshold=res.thresholds)
    plain = decide(proba, task)
    base = _counts(y, plain)
    delta = _counts(y, tuned) - base
    gain = float(
        _metric_from_counts(base.sum(0) + delta.sum(0), metric)
        - _metric_from_counts(base.sum(0), metric)
    )
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)
    plain_b = weights @ base
    diffs = _metric_from_counts(plain_b + weights @ delta, metric) - _metric_from_counts(
        plain_b, metric
    )
    return gain, float(np.quantile(diffs, 0.05))


def _temperature_note(
    rule: DecisionRule, logits: np.ndarray, y: np.ndarray, multilabel: bool
) -> str:
    """What the kept temperature did on validation: log-loss (what it is fitted to) and ECE."""
    before, after = (mean_nll(logits, y, t, multilabel) for t in (1.0, rule.temperature))
    ece_before, ece_after = rule.ece_before, rule.ece_after
    assert ece_before is not None and ece_after is not None  # set before the note
    note = (
        f"temperature {rule.temperature:.3f} fitted on {len(y)} validation examples "
        f"(log-loss {before:.4f} -> {after:.4f}, ECE {ece_before:.4f} -> {ece_after:.4f})"
    )
    if ece_after > ece_before:
        # Kept all the same: the temperature minimises the log-loss, a proper score; ECE
        # counts examples in 15 confidence bins and moves by noise on a small split.
        note += (
            "; ECE rose: it is a binned estimate, noisy on a split this size, while the "
            "log-loss is the proper score the temperature is fitted to"
        )
    return note


def fit_decision_rule(
    task: str,
    labels: Sequence[str],
    logits: np.ndarray,
    y_true: np.ndarray,
    *,
    calibrate: bool = True,
    tune_thresholds: bool = True,
    threshold_metric: str = "f1",
    min_positives_per_label: int = 5,
    at_least_one: bool = False,
    fitted_on: str = "validation split",
    seed: int = 0,
) -> DecisionRule:
    """Fit temperature scaling, then thresholds on the calibrated probabilities — robustly.

    Call it with *validation* logits only: the test split must never shape the rule that
    is evaluated on it.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label names.
        logits: ``(n, k)`` validation logits.
        y_true: ``(n,)`` ids or ``(n, k)`` 0/1 validation labels.
        calibrate: Fit a temperature.
        tune_thresholds: Tune the binary threshold / per-label thresholds.
        threshold_metric: Binary tuning target (multi-label always uses per-label F1).
        min_positives_per_label: Multi-label fallback for rare labels.
        at_least_one: Multi-label: predict the top label when none passes.
        fitted_on: Recorded in the rule, e.g. the validation file's name.
        seed: Seeds the cross-fitting folds and the bootstrap.

    Returns:
        The fitted rule (the plain rule when ``logits`` is empty), with ``notes`` saying
        what was kept and why.
    """
    multilabel = task == "multilabel"
    rule = DecisionRule(task=task, at_least_one=at_least_one and multilabel, fitted_on=fitted_on)
    logits = np.asarray(logits, dtype=np.float64)
    check_finite(logits)
    y = np.asarray(y_true)
    if len(logits) == 0:
        rule.notes.append("no validation data: the plain rule (argmax / 0.5, temperature 1)")
        return rule
    rule.ece_before = expected_calibration_error(
        y, apply_temperature(logits, 1.0, multilabel=multilabel), multilabel=multilabel
    )
    if calibrate:
        t = fit_temperature(logits, y, multilabel=multilabel)
        wrong = (
            np.any((logits > 0) != y.astype(bool), axis=1)
            if multilabel
            else np.argmax(logits, axis=1) != y
        )
        if min(abs(np.log(t / b)) for b in _T_BOUNDS) < 1e-2:
            rule.notes.append(
                f"temperature not kept: the validation log-loss kept falling to the search "
                f"bound (T = {t:.3g}), so {len(y)} validation examples cannot calibrate it"
            )
        elif t < 1 and not wrong.any():
            # Sharpening only ever looks better on a split without a mistake (the prior
            # alone stops it); the first mistake on new data then costs a huge log-loss.
            rule.notes.append(
                f"temperature not kept: the {len(y)} validation examples are all decided "
                f"correctly, so they cannot show how far to sharpen the probabilities (the "
                f"fit gave T = {t:.3f})"
            )
        else:
            rule.temperature = t
    proba = apply_temperature(logits, rule.temperature, multilabel=multilabel)
    rule.ece_after = expected_calibration_error(y, proba, multilabel=multilabel)
    if rule.temperature != 1.0:
        rule.notes.append(_temperature_note(rule, logits, y, multilabel))
    if tune_thresholds and task in ("binary", "multilabel"):
        # Imported where used: applying a rule (every ``predict``) needs no scikit-learn,
        # which with the pandas it imports costs about 0.9 s of start-up.
        from textclf.evaluation.thresholds import tune_binary_threshold, tune_multilabel_thresholds

        if multilabel:
            result = tune_multilabel_thresholds(
                y, proba, labels=list(labels), min_positives=min_positives_per_label
            )
        else:
            result = tune_binary_threshold(y, proba, metric=threshold_metric)
        # What the keep decision is judged on: the tuned metric, or for multi-label micro-F1
        # (the headline), though the per-label thresholds maximise macro-F1.
        metric = result.judged_by["metric"] if result.judged_by else result.metric
        rule.tuning = result.to_dict()
        gain, lower = _cross_fitted_gain(
            task,
            y,
            proba,
            labels=labels,
            metric=metric,
            min_positives=min_positives_per_label,
            seed=seed,
        )
        rule.tuning["cross_fitted_gain"] = {"metric": metric, "gain": gain, "lower_95": lower}
        if lower > 0:
            rule.thresholds = result.thresholds
            rule.notes.append(
                f"tuned threshold(s) kept: {metric} {gain:+.4f} on held-out validation folds "
                f"(one-sided 95% lower bound {lower:+.4f})"
            )
        else:
            rule.notes.append(
                f"tuned threshold(s) not kept: on held-out validation folds they changed "
                f"{metric} by {gain:+.4f} (one-sided 95% lower bound {lower:+.4f}), within noise; "
                "the plain 0.5 applies"
            )
    return rule


def fit_configured_rule(
    task: str,
    labels: Sequence[str],
    logits: np.ndarray,
    y_true: np.ndarray,
    eval_config: EvalConfig,
    *,
    fitted_on: str,
    seed: int,
    calibrate: bool | None = None,
) -> DecisionRule:
    """:func:`fit_decision_rule` with an ``EvalConfig``'s settings (``calibrate`` overrides
    its own: a baseline's probabilities get no temperature)."""
    return fit_decision_rule(
        task,
        labels,
        logits,
        y_true,
        calibrate=eval_config.calibrate if calibrate is None else calibrate,
        tune_thresholds=eval_config.tune_thresholds,
        threshold_metric=eval_config.threshold_metric,
        min_positives_per_label=eval_config.min_positives_per_label,
        at_least_one=eval_config.at_least_one_label,
        fitted_on=fitted_on,
        seed=seed,
    )
