"""Classification metrics as pure functions of arrays.

Point values come from scikit-learn wherever it has the metric, so they agree with it by
construction; this module chooses the set of metrics per task and names them
consistently (``f1_macro``, …). Undefined values (an AUC with one class present, a kappa
with one label in common) are NaN, never an exception.

Metric set:

* binary and multi-class: ``accuracy``, ``balanced_accuracy``, ``mcc``, ``cohen_kappa``,
  ``precision|recall|f1_{macro,micro,weighted}``, ``log_loss``, ``brier``, ``ece``,
  ``roc_auc`` (multi-class: one-vs-rest macro), ``roc_auc_weighted`` and ``pr_auc``
  (multi-class: one-vs-rest macro average precision over the classes present);
* multi-label: ``subset_accuracy``, ``hamming_loss``, ``jaccard_samples``,
  ``precision|recall|f1_{micro,macro,weighted,samples}``, ``roc_auc_macro``,
  ``roc_auc_micro``, ``pr_auc_macro``, ``pr_auc_micro``, ``lrap``, ``coverage_error``.

The sample-wise (``*_samples``) scores give an example with no true and no predicted
label 1: nothing to find and nothing claimed is an exactly right answer (a pathology
report without findings, a ticket with no tag). scikit-learn's ``zero_division`` scores
it 0 or 1 together with the examples where only one side is empty; those still score 0
here, as with ``zero_division=0`` (see :func:`sample_wise_scores`).

:mod:`textclf.evaluation.bootstrap` recomputes every one of them on resamples; its
vectorised formulas are tested against these values.

Example:
    >>> import numpy as np
    >>> m = classification_metrics("binary", np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]))
    >>> round(m["accuracy"], 3)
    0.667
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from textclf.errors import ConfigError, did_you_mean
from textclf.evaluation.calibration import ECE_BINS, ece_bin_index, expected_calibration_error
from textclf.evaluation.decision import decide

# The calibration error is a metric of this module's set; it lives beside the temperature
# it judges (one implementation, issue 12) and is re-exported here.
__all__ = [
    "ECE_BINS",
    "HEADLINE_METRICS",
    "LOWER_IS_BETTER",
    "classification_metrics",
    "classification_report_table",
    "ece_bin_index",
    "expected_calibration_error",
    "greater_is_better",
    "headline_metric",
    "multilabel_metrics",
    "per_label_metrics",
    "ranking_per_example",
    "single_label_metrics",
]

#: The metrics shown in summaries (reports, model card, CLI tables), per task, in order.
_SINGLE_LABEL_HEADLINE = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "mcc",
    "roc_auc",
    "log_loss",
    "ece",
)
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": _SINGLE_LABEL_HEADLINE,
    "multiclass": _SINGLE_LABEL_HEADLINE,
    "multilabel": (
        "f1_micro",
        "f1_macro",
        "f1_samples",
        "subset_accuracy",
        "hamming_loss",
        "jaccard_samples",
        "roc_auc_macro",
        "pr_auc_macro",
    ),
}


#: The metrics where a lower value is better: the one list for the Trainer's
#: ``greater_is_better``, best-checkpoint marking in the report and any ranking of runs
#: (issue 12: the report once treated only ``"loss"`` this way). Every other metric of
#: this module is higher-is-better.
LOWER_IS_BETTER = frozenset(
    {"loss", "eval_loss", "log_loss", "brier", "ece", "hamming_loss", "coverage_error"}
)

#: Prefixes the Trainer and trackers put before a metric's name.
_SPLIT_PREFIXES = ("eval_", "val_")


def greater_is_better(metric: str) -> bool:
    """Whether a higher value of ``metric`` is better.

    ``eval_`` / ``val_`` prefixes are ignored, so ``"eval_log_loss"`` reads as
    ``"log_loss"``. Lower is better for :data:`LOWER_IS_BETTER` and, as in the Hugging
    Face Trainer's default rule, for any name ending in ``loss``.

    Args:
        metric: A metric name, with or without a split prefix.

    Returns:
        ``False`` for a loss-like metric, ``True`` otherwise.

    Example:
        >>> greater_is_better("eval_f1_macro"), greater_is_better("val_log_loss")
        (True, False)
    """
    name = metric
    for prefix in _SPLIT_PREFIXES:
        name = name.removeprefix(prefix)
    return not (metric in LOWER_IS_BETTER or name in LOWER_IS_BETTER or name.endswith("loss"))


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> float:
    """Call a sklearn metric, returning NaN where it is undefined (e.g. one class present)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except ValueError:
            return float("nan")


def ranking_per_example(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example label ranking average precision and coverage of a multi-label task.

    The means are :func:`sklearn.metrics.label_ranking_average_precision_score` and
    :func:`sklearn.metrics.coverage_error` (tested equal); vectorised, because sklearn's
    LRAP loops over examples in Python (seconds at 10,000 examples).

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        proba: ``(n, k)`` scores.

    Returns:
        ``(lrap, coverage)``, each ``(n,)``: LRAP is 1 for a row with no or all labels
        relevant (as sklearn), coverage 0 for a row with none.

    Example:
        >>> lrap, cov = ranking_per_example(np.array([[1, 0, 0]]), np.array([[0.2, 0.9, 0.1]]))
        >>> float(lrap[0]), float(cov[0])
        (0.5, 2.0)
    """
    truth = np.asarray(y_true) == 1
    scores = np.asarray(proba, dtype=np.float64)
    n, k = scores.shape
    lrap, coverage = np.ones(n), np.zeros(n)
    for lo in range(0, n, 2048):  # bounds the (rows, k, k) comparison array
        sc, yy = scores[lo : lo + 2048], truth[lo : lo + 2048]
        ge = sc[:, None, :] >= sc[:, :, None]  # [i, j, l]: label l ranks at or above label j
        rank_all = ge.sum(2)
        rank_rel = (ge & yy[:, None, :]).sum(2)
        relevant = yy.sum(1)
        ratio = np.where(yy, rank_rel / rank_all, 0.0).sum(1)
        trivial = (relevant == 0) | (relevant == k)
        lrap[lo : lo + 2048] = np.where(trivial, 1.0, ratio / np.maximum(relevant, 1))
        lowest = np.where(yy, sc, np.inf).min(1)
        coverage[lo : lo + 2048] = np.where(relevant > 0, (sc >= lowest[:, None]).sum(1), 0)
    return lrap, coverage


def sample_wise_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example Jaccard, precision, recall and F1 of multi-label predictions.

    An example with neither true nor predicted labels scores 1 on all four: its
    prediction is exactly right. scikit-learn cannot express this with one
    ``zero_division`` (that value also goes to an empty prediction of a non-empty set,
    whose precision would then be 1); its ``zero_division=0`` values score such an
    example 0, which on data where many examples rightly have no label (17% of the
    demo's test reports) put ``f1_samples`` at 0.76 for a model with ``f1_micro`` 0.93.
    Where only one side is empty, the undefined ratio is 0 (``zero_division=0``).
    Jaccard and F1 equal scikit-learn's with ``zero_division=1`` (tested).

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        y_pred: ``(n, k)`` 0/1 predictions.

    Returns:
        ``jaccard_samples``, ``precision_samples``, ``recall_samples`` and ``f1_samples``,
        each ``(n,)``.
    """
    yb, pb = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    tp = (yb & pb).sum(1).astype(np.float64)
    t, p = yb.sum(1).astype(np.float64), pb.sum(1).astype(np.float64)
    both_empty = (t == 0) & (p == 0)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.where(both_empty, 1.0, 0.0)
        np.divide(num, den, out=out, where=den != 0)
        return out

    return {
        "jaccard_samples": ratio(tp, t + p - tp),
        "precision_samples": ratio(tp, p),
        "recall_samples": ratio(tp, t),
        "f1_samples": ratio(2 * tp, t + p),
    }


def single_label_metrics(
    y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Metrics for binary and multi-class tasks.

    ``brier`` is, with two classes, the mean squared error of the second (positive)
    class's probability, ``mean((p₁ − y)²)``; with more, the mean over examples of the sum
    over classes of the squared error against the one-hot truth (Brier's original
    definition, range ``[0, 2]``) — both as :func:`sklearn.metrics.brier_score_loss`.
    ``pr_auc`` with more than two classes is the one-vs-rest average precision averaged
    over the classes present in ``y_true`` (a class with no examples has none).

    Args:
        y_true: ``(n,)`` true class ids.
        proba: ``(n, k)`` class probabilities.
        y_pred: ``(n,)`` predicted class ids.

    Returns:
        Metric name → value (NaN where undefined).
    """
    k = proba.shape[1]
    labels = np.arange(k)
    out = {
        "accuracy": _quiet(skm.accuracy_score, y_true, y_pred),
        "balanced_accuracy": _quiet(skm.balanced_accuracy_score, y_true, y_pred),
        "mcc": _quiet(skm.matthews_corrcoef, y_true, y_pred),
        "cohen_kappa": _quiet(skm.cohen_kappa_score, y_true, y_pred, labels=labels),
    }
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=avg, zero_division=0
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = (
            float(p),
            float(r),
            float(f),
        )
    # Clipping to [0, 1] only absorbs float error; sklearn itself clips to [eps, 1 - eps].
    out["log_loss"] = _quiet(skm.log_loss, y_true, np.clip(proba, 0, 1), labels=labels)
    out["ece"] = expected_calibration_error(y_true, proba)
    positives = np.bincount(y_true, minlength=k)[:k] if len(y_true) else np.zeros(k, int)
    if k == 2:
        out["brier"] = _quiet(skm.brier_score_loss, y_true, proba[:, 1], pos_label=1)
        out["roc_auc"] = _quiet(skm.roc_auc_score, y_true, proba[:, 1])
        out["roc_auc_weighted"] = out["roc_auc"]
        # sklearn returns 0 without positives; the precision of no retrievals is undefined.
        out["pr_auc"] = (
            _quiet(skm.average_precision_score, y_true, proba[:, 1])
            if positives[1] > 0
            else float("nan")
        )
    else:
        out["brier"] = _quiet(skm.brier_score_loss, y_true, proba, labels=labels)
        for avg, name in (("macro", "roc_auc"), ("weighted", "roc_auc_weighted")):
            out[name] = _quiet(
                skm.roc_auc_score, y_true, proba, multi_class="ovr", average=avg, labels=labels
            )
        present = np.flatnonzero(positives > 0)
        out["pr_auc"] = (
            float(
                np.mean(
                    [_quiet(skm.average_precision_score, y_true == c, proba[:, c]) for c in present]
                )
            )
            if len(present)
            else float("nan")
        )
    return out


def ranked_labels(y_true: np.ndarray) -> np.ndarray:
    """``(k,)`` bool: the labels of multi-hot ``y_true`` with both positive and negative
    examples, over which the macro ranking metrics average."""
    positives = np.asarray(y_true).sum(axis=0)
    return (positives > 0) & (positives < len(y_true))


def multilabel_metrics(
    y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Metrics for multi-label tasks.

    ``roc_auc_macro`` and ``pr_auc_macro`` average over the labels with both positive and
    negative examples (:func:`ranked_labels`): an ROC AUC is undefined without either, and
    the average precision of a label on every example is 1 whatever the scores. The
    report's ROC / precision-recall figure skips the same labels and names them. The
    ``*_micro`` ranking metrics treat every (example, label) pair as one binary decision.

    Args:
        y_true: ``(n, k)`` 0/1 true labels.
        proba: ``(n, k)`` per-label probabilities.
        y_pred: ``(n, k)`` 0/1 predictions.

    Returns:
        Metric name → value (NaN where undefined).
    """
    out = {
        "subset_accuracy": _quiet(skm.accuracy_score, y_true, y_pred),
        "hamming_loss": _quiet(skm.hamming_loss, y_true, y_pred),
    }
    out |= {
        name: float(values.mean()) if len(values) else float("nan")
        for name, values in sample_wise_scores(y_true, y_pred).items()
    }
    for avg in ("micro", "macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=avg, zero_division=0
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = (
            float(p),
            float(r),
            float(f),
        )
    present = ranked_labels(y_true)
    nan = float("nan")
    out["roc_auc_macro"], out["pr_auc_macro"] = nan, nan
    if present.any():
        out["roc_auc_macro"] = _quiet(
            skm.roc_auc_score, y_true[:, present], proba[:, present], average="macro"
        )
        out["pr_auc_macro"] = _quiet(
            skm.average_precision_score, y_true[:, present], proba[:, present], average="macro"
        )
    out["roc_auc_micro"] = _quiet(skm.roc_auc_score, y_true, proba, average="micro")
    out["pr_auc_micro"] = (
        _quiet(skm.average_precision_score, y_true, proba, average="micro")
        if y_true.sum() > 0
        else nan
    )
    out["lrap"] = float(ranking_per_example(y_true, proba)[0].mean()) if len(y_true) else nan
    out["coverage_error"] = _quiet(skm.coverage_error, y_true, proba)
    return out


def classification_metrics(
    task: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float | Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics for ``task``, with predictions from :func:`decide`.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y_true: ``(n,)`` ids or ``(n, k)`` multi-hot rows.
        proba: ``(n, k)`` probabilities.
        threshold: Decision threshold(s) (see :func:`decide`).

    Returns:
        Metric name → value (NaN where undefined).

    Example:
        >>> m = classification_metrics("multiclass", np.array([0, 2]), np.eye(3)[[0, 1]])
        >>> m["accuracy"], m["f1_macro"]
        (0.5, 0.3333333333333333)
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    y_pred = decide(proba, task, threshold=threshold)
    if task == "multilabel":
        return multilabel_metrics(y_true.astype(np.int64), proba, y_pred)
    return single_label_metrics(y_true.astype(np.int64), proba, y_pred)


def per_label_metrics(
    task: str, y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per label (per class for single-label tasks)."""
    kwargs: dict[str, Any] = {"average": None, "zero_division": 0}
    if task != "multilabel":
        kwargs["labels"] = np.arange(len(labels))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, **kwargs)
    return {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, name in enumerate(labels)
    }


def classification_report_table(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    *,
    digits: int = 2,
) -> str:
    """scikit-learn's ``classification_report`` text, with label names.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y_true: ``(n,)`` ids or ``(n, k)`` 0/1 rows.
        y_pred: Predictions of the same shape.
        labels: The ``k`` label names, in id / column order.
        digits: Decimal places.

    Returns:
        The report, one row per label plus the averages (precision of a label never
        predicted counts as 0).

    Example:
        >>> print(classification_report_table("binary", np.array([0, 1]), np.array([0, 0]), ["no", "yes"]))  # doctest: +ELLIPSIS
                      precision    recall  f1-score   support
        ...
    """
    names = [str(label) for label in labels]
    kwargs: dict[str, Any] = {"target_names": names, "zero_division": 0, "digits": digits}
    if task != "multilabel":
        kwargs["labels"] = np.arange(len(names))
    return str(skm.classification_report(np.asarray(y_true), np.asarray(y_pred), **kwargs))


@functools.cache
def metric_names(task: str) -> tuple[str, ...]:
    """The metrics :func:`classification_metrics` reports for ``task`` (and the Trainer's
    ``loss``): what ``train.metric_for_best_model`` and ``--metric`` may name."""
    if task == "multilabel":
        y, proba = np.array([[0, 1], [1, 0]]), np.array([[0.2, 0.8], [0.9, 0.1]])
    else:
        y, proba = np.arange(2 if task == "binary" else 3), np.eye(2 if task == "binary" else 3)
    return tuple(sorted([*classification_metrics(task, y, proba), "loss"]))


def check_metric(
    task: str, metric: str, *, flag: str = "--set train.metric_for_best_model"
) -> None:
    """Refuse a metric the task does not report, before any training.

    Raises:
        ConfigError: naming ``flag``, the nearest metric and the valid ones.
    """
    name = metric.removeprefix("eval_")
    if name == "auto":
        return
    known = metric_names(task)
    if name not in known:
        hint = did_you_mean(name, known)
        raise ConfigError(
            f"{flag}={metric}: not a metric of a {task} model"
            + (hint if hint else f"; use one of {', '.join(known)}.")
        )


def headline_metric(task: str) -> str:
    """The metric early stopping and summaries use by default."""
    return "f1_micro" if task == "multilabel" else "f1_macro"
