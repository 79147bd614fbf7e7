"""Point values against scikit-learn, and known answers for the decision rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import (
    HEADLINE_METRICS,
    LOWER_IS_BETTER,
    classification_metrics,
    classification_report_table,
    expected_calibration_error,
    greater_is_better,
    per_label_metrics,
    ranking_per_example,
    sample_wise_scores,
)


def _random_single(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


@pytest.mark.parametrize("k", [2, 5])
def test_single_label_matches_sklearn(k: int):
    y, p = _random_single(300, k, seed=k)
    pred = p.argmax(1)
    m = classification_metrics("binary" if k == 2 else "multiclass", y, p)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p))
    if k == 2:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    else:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))


def test_multilabel_matches_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < 0.3).astype(int)
    p = np.clip(0.6 * y + 0.5 * rng.random((200, 4)), 0, 1)
    pred = (p >= 0.5).astype(int)
    m = classification_metrics("multilabel", y, p)
    assert m["f1_micro"] == pytest.approx(skm.f1_score(y, pred, average="micro"))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["f1_samples"] == pytest.approx(
        skm.f1_score(y, pred, average="samples", zero_division=1)
    )
    assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(y, pred))
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))


def test_decide_known_answers():
    p = np.array([[0.3, 0.7], [0.8, 0.2], [0.45, 0.55]])
    assert decide(p, "binary").tolist() == [1, 0, 1]
    assert decide(p, "binary", threshold=0.6).tolist() == [1, 0, 0]
    ml = np.array([[0.9, 0.2, 0.4], [0.1, 0.3, 0.2]])
    assert decide(ml, "multilabel").tolist() == [[1, 0, 0], [0, 0, 0]]
    assert decide(ml, "multilabel", threshold=[0.95, 0.1, 0.3]).tolist() == [[0, 1, 1], [0, 1, 0]]
    assert decide(ml, "multilabel", at_least_one=True).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_per_label_known_answer():
    y = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0])
    out = per_label_metrics("multiclass", y, pred, ["a", "b", "c"])
    assert out["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert out["b"]["precision"] == pytest.approx(2 / 3)
    assert out["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


# --- the full metric set: every name against scikit-learn ----------------------------

SINGLE_NAMES = {
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "cohen_kappa",
    *(f"{m}_{a}" for m in ("precision", "recall", "f1") for a in ("macro", "micro", "weighted")),
    "log_loss",
    "brier",
    "ece",
    "roc_auc",
    "roc_auc_weighted",
    "pr_auc",
}
MULTILABEL_NAMES = {
    "subset_accuracy",
    "hamming_loss",
    "jaccard_samples",
    *(
        f"{m}_{a}"
        for m in ("precision", "recall", "f1")
        for a in ("micro", "macro", "weighted", "samples")
    ),
    "roc_auc_macro",
    "roc_auc_micro",
    "pr_auc_macro",
    "pr_auc_micro",
    "lrap",
    "coverage_error",
}


def _random_multilabel(n: int, k: int, seed: int, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < rng.uniform(0.1, 0.5, k)).astype(int)
    p = np.clip(0.45 * y + 0.6 * rng.random((n, k)), 0, 1)
    return y, p if decimals is None else np.round(p, decimals)


def _ece_by_hand(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """Guo et al.'s definition, bin by bin."""
    conf, correct = p.max(1), p.argmax(1) == y
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = idx == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


@pytest.mark.parametrize(("k", "decimals"), [(2, None), (2, 1), (5, None), (5, 1)])
def test_every_single_label_metric_matches_sklearn(k: int, decimals: int | None):
    y, p = _random_single(400, k, seed=10 + k)
    if decimals is not None:  # tied scores exercise the tie handling of the rank metrics
        p = np.round(p, decimals)
        p = p / p.sum(1, keepdims=True)
    task = "binary" if k == 2 else "multiclass"
    pred = decide(p, task, threshold=0.4)
    m = classification_metrics(task, y, p, threshold=0.4)
    assert set(m) == SINGLE_NAMES
    labels = np.arange(k)
    onehot = np.eye(k)[y]
    ref = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "mcc": skm.matthews_corrcoef(y, pred),
        "cohen_kappa": skm.cohen_kappa_score(y, pred),
        "log_loss": skm.log_loss(y, p),
        "ece": _ece_by_hand(y, p),
    }
    for avg in ("macro", "micro", "weighted"):
        kw = {"labels": labels, "average": avg, "zero_division": 0}
        ref[f"precision_{avg}"] = skm.precision_score(y, pred, **kw)
        ref[f"recall_{avg}"] = skm.recall_score(y, pred, **kw)
        ref[f"f1_{avg}"] = skm.f1_score(y, pred, **kw)
    if k == 2:
        ref["brier"] = skm.brier_score_loss(y, p[:, 1])
        ref["roc_auc"] = ref["roc_auc_weighted"] = skm.roc_auc_score(y, p[:, 1])
        ref["pr_auc"] = skm.average_precision_score(y, p[:, 1])
    else:
        ref["brier"] = np.mean(((p - onehot) ** 2).sum(1))
        ref["roc_auc"] = skm.roc_auc_score(y, p, multi_class="ovr")
        ref["roc_auc_weighted"] = skm.roc_auc_score(y, p, multi_class="ovr", average="weighted")
        ref["pr_auc"] = skm.average_precision_score(onehot, p, average="macro")
    for name, value in ref.items():
        assert m[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize("decimals", [None, 1])
def test_every_multilabel_metric_matches_sklearn(decimals: int | None):
    y, p = _random_multilabel(300, 6, seed=3, decimals=decimals)
    y[:4] = 0  # rows without labels: LRAP 1, coverage 0, sample-wise scores 1 if none predicted
    y[4] = 1  # a row with every label
    m = classification_metrics("multilabel", y, p, threshold=[0.5, 0.4, 0.6, 0.5, 0.3, 0.7])
    pred = decide(p, "multilabel", threshold=[0.5, 0.4, 0.6, 0.5, 0.3, 0.7])
    assert set(m) == MULTILABEL_NAMES
    ref = {
        "subset_accuracy": skm.accuracy_score(y, pred),
        "hamming_loss": skm.hamming_loss(y, pred),
        "jaccard_samples": skm.jaccard_score(y, pred, average="samples", zero_division=1),
        "roc_auc_macro": skm.roc_auc_score(y, p, average="macro"),
        "roc_auc_micro": skm.roc_auc_score(y, p, average="micro"),
        "pr_auc_macro": skm.average_precision_score(y, p, average="macro"),
        "pr_auc_micro": skm.average_precision_score(y, p, average="micro"),
        "lrap": skm.label_ranking_average_precision_score(y, p),
        "coverage_error": skm.coverage_error(y, p),
    }
    for avg in ("micro", "macro", "weighted", "samples"):
        kw = {"average": avg, "zero_division": 0}
        ref[f"precision_{avg}"] = skm.precision_score(y, pred, **kw)
        ref[f"recall_{avg}"] = skm.recall_score(y, pred, **kw)
        ref[f"f1_{avg}"] = skm.f1_score(y, pred, **kw)
    # A row with no true and no predicted label scores 1 sample-wise, not sklearn's 0.
    both_empty = np.mean((y.sum(1) == 0) & (pred.sum(1) == 0))
    assert both_empty > 0
    for name in ("precision_samples", "recall_samples"):
        ref[name] += both_empty
    ref["f1_samples"] = skm.f1_score(y, pred, average="samples", zero_division=1)
    for name, value in ref.items():
        assert m[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_undefined_metrics_are_nan_not_errors():
    y = np.zeros(6, dtype=int)  # one class present
    p = np.tile([[0.7, 0.3]], (6, 1))
    m = classification_metrics("binary", y, p)
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"]) and np.isnan(m["cohen_kappa"])
    assert m["accuracy"] == 1.0
    m = classification_metrics("multiclass", np.array([0, 1, 0]), np.eye(3)[[0, 1, 0]] * 0.7 + 0.1)
    assert np.isnan(m["roc_auc"])  # class 2 never occurs
    # ... but the prevalence-weighted AUC gives the absent class weight 0, as sklearn does.
    assert m["roc_auc_weighted"] == 1.0
    assert m["pr_auc"] == 1.0  # averaged over the classes present
    m = classification_metrics("multilabel", np.zeros((3, 2), int), np.full((3, 2), 0.2))
    assert np.isnan(m["roc_auc_macro"]) and np.isnan(m["pr_auc_micro"])


def test_ece_is_the_calibration_modules_one_implementation():
    # Issue 12: one ECE. The metric set reports the function of evaluation.calibration.
    from textclf.evaluation import calibration

    assert expected_calibration_error is calibration.expected_calibration_error
    y, p = _random_single(200, 3, seed=4)
    assert classification_metrics("multiclass", y, p)["ece"] == expected_calibration_error(y, p)


@pytest.mark.parametrize(
    ("metric", "greater"),
    [
        ("f1_macro", True),
        ("eval_roc_auc", True),
        ("loss", False),
        ("eval_loss", False),
        ("log_loss", False),
        ("eval_log_loss", False),
        ("val_brier", False),
        ("ece", False),
        ("hamming_loss", False),
        ("coverage_error", False),
        ("eval_focal_loss", False),  # any loss, as the Hugging Face Trainer's default rule
    ],
)
def test_greater_is_better_reads_prefixes_and_the_one_list(metric: str, greater: bool):
    assert greater_is_better(metric) is greater


def test_lower_is_better_list_matches_the_metric_set():
    """Every lower-is-better metric the module computes is in the list, and only those."""
    y, p = _random_single(60, 3, seed=1)
    yl, pl = _random_multilabel(60, 3, seed=1)
    names = set(classification_metrics("multiclass", y, p)) | set(
        classification_metrics("multilabel", yl, pl)
    )
    assert {"log_loss", "brier", "ece", "hamming_loss", "coverage_error"} <= LOWER_IS_BETTER
    assert LOWER_IS_BETTER - {"loss", "eval_loss"} <= names
    assert not {"accuracy", "f1_macro", "roc_auc", "pr_auc_macro", "lrap"} & LOWER_IS_BETTER


def test_headline_metrics_exist_for_each_task():
    y, p = _random_single(60, 3, seed=1)
    yl, pl = _random_multilabel(60, 3, seed=1)
    computed = {
        "binary": classification_metrics(
            "binary", (y > 0).astype(int), np.c_[p[:, 0], 1 - p[:, 0]]
        ),
        "multiclass": classification_metrics("multiclass", y, p),
        "multilabel": classification_metrics("multilabel", yl, pl),
    }
    for task, names in HEADLINE_METRICS.items():
        assert set(names) <= set(computed[task]), task


def test_classification_report_table_names_labels():
    text = classification_report_table(
        "multiclass", np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]), ["cat", "dog", "eel"]
    )
    assert text == skm.classification_report(
        [0, 1, 2, 2],
        [0, 2, 2, 2],
        labels=[0, 1, 2],
        target_names=["cat", "dog", "eel"],
        zero_division=0,
    )
    assert "dog" in text
    ml = classification_report_table(
        "multilabel", np.array([[1, 0], [1, 1]]), np.array([[1, 0], [0, 1]]), ["x", "y"]
    )
    assert "samples avg" in ml and " x " in ml


def test_ranking_per_example_known_answer():
    y = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    s = np.array([[0.9, 0.8, 0.1], [0.5, 0.4, 0.3], [0.3, 0.3, 0.2]])
    lrap, coverage = ranking_per_example(y, s)
    # row 0: label 0 ranked 1st (1/1), label 2 ranked 3rd with 2 relevant at or above (2/3)
    assert lrap.tolist() == pytest.approx([(1 + 2 / 3) / 2, 1.0, 1 / 2])
    assert coverage.tolist() == [3, 0, 2]  # the tie at 0.3 counts both labels


def test_sample_wise_scores_give_an_exactly_right_empty_prediction_one():
    y = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 1, 0]])
    pred = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0]])
    s = sample_wise_scores(y, pred)
    # Row 0: nothing to find, nothing claimed. Row 1: a label missed with nothing claimed.
    # Row 2: a label claimed with nothing to find. Row 3: one of two found.
    assert s["jaccard_samples"].tolist() == [1.0, 0.0, 0.0, 0.5]
    assert s["precision_samples"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert s["recall_samples"].tolist() == [1.0, 0.0, 0.0, 0.5]
    assert s["f1_samples"] == pytest.approx([1.0, 0.0, 0.0, 2 / 3])
    m = classification_metrics("multilabel", y, pred.astype(float))
    assert m["f1_samples"] == pytest.approx((1 + 2 / 3) / 4)
