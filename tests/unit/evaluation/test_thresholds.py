"""Threshold tuning: known answers, and the validation-only contract of the decision rule.

Temperature scaling and the calibration error are tested in test_calibration.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from textclf.evaluation.bootstrap import bootstrap_metrics
from textclf.evaluation.calibration import apply_temperature
from textclf.evaluation.decision import decide, fit_decision_rule
from textclf.evaluation.thresholds import tune_binary_threshold, tune_multilabel_thresholds


def test_binary_threshold_known_answer():
    y = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.4, 0.3, 0.8])
    res = tune_binary_threshold(y, np.c_[1 - p1, p1])
    # At 0.3 both positives are caught with one false positive (F1 0.8) vs 0.667 at 0.5.
    assert res.thresholds == pytest.approx(0.3)
    assert res.before == pytest.approx(2 / 3)
    assert res.after == pytest.approx(0.8)


def test_binary_threshold_is_optimal_on_a_grid():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    p1 = np.clip(0.35 * y + 0.5 * rng.random(400), 0, 1)
    res = tune_binary_threshold(y, np.c_[1 - p1, p1])
    grid_best = max(skm.f1_score(y, (p1 >= t).astype(int)) for t in np.linspace(0, 1, 201))
    assert res.after >= grid_best - 1e-9
    assert res.after == pytest.approx(skm.f1_score(y, (p1 >= res.thresholds).astype(int)))


def test_binary_threshold_stays_when_no_gain():
    y = np.array([0, 1, 0, 1])
    p1 = np.array([0.1, 0.9, 0.2, 0.8])
    assert tune_binary_threshold(y, np.c_[1 - p1, p1]).thresholds == 0.5


def test_multilabel_thresholds_per_label_and_rare_fallback():
    rng = np.random.default_rng(0)
    n = 300
    y = np.zeros((n, 3), dtype=int)
    y[:, 0] = rng.random(n) < 0.4
    y[:, 1] = rng.random(n) < 0.3
    y[:3, 2] = 1  # rare: 3 positives
    p = np.clip(rng.random((n, 3)) * 0.5 + y * np.array([0.1, 0.45, 0.2]), 0, 1)
    res = tune_multilabel_thresholds(y, p, labels=["a", "b", "c"], min_positives=5)
    t = np.array(res.thresholds)
    assert res.per_label["c"]["tuned"] is False
    assert res.per_label["a"]["tuned"] and res.per_label["b"]["tuned"]
    for j, name in enumerate("ab"):
        assert res.per_label[name]["f1_after"] >= res.per_label[name]["f1_before"] - 1e-12
        assert res.per_label[name]["f1_after"] == pytest.approx(
            skm.f1_score(y[:, j], (p[:, j] >= t[j]).astype(int))
        )
    assert res.after >= res.before


def test_decision_rule_is_a_function_of_validation_only():
    """Fitted on validation, evaluated on test: no change to the test labels reaches the
    rule, while a change to the validation labels does (so the check can fail)."""
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c"]

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random((n, 3)) < [0.4, 0.15, 0.6]).astype(int)
        return 2.5 * (y - 0.5) + rng.normal(size=(n, 3)), y  # over-confident logits

    val_logits, y_val = split(300)
    test_logits, y_test = split(200)
    val_copy = (val_logits.copy(), y_val.copy())
    rule = fit_decision_rule("multilabel", labels, val_logits, y_val, min_positives_per_label=5)
    fitted = rule.to_dict()
    np.testing.assert_array_equal(val_logits, val_copy[0])  # fitting mutates nothing
    np.testing.assert_array_equal(y_val, val_copy[1])

    proba = apply_temperature(test_logits, rule.temperature, multilabel=True)
    pred = decide(proba, "multilabel", threshold=rule.thresholds)
    scores = []
    for y_other in (y_test, 1 - y_test, rng.permutation(y_test), np.zeros_like(y_test)):
        # The evaluation path: metrics with intervals of the rule's decisions on test.
        res = bootstrap_metrics(
            "multilabel", y_other, proba, labels=labels, threshold=rule.thresholds, n_resamples=20
        )
        scores.append(res.metrics["f1_micro"].value)
        assert rule.to_dict() == fitted  # evaluating on test never touches the rule
    assert len(set(scores)) > 1  # the test labels did change what was measured
    # Fitting again after all that gives the same rule and the same test decisions.
    refit = fit_decision_rule("multilabel", labels, *val_copy, min_positives_per_label=5)
    assert refit.to_dict() == fitted
    np.testing.assert_array_equal(decide(proba, "multilabel", threshold=refit.thresholds), pred)
    flipped = fit_decision_rule(
        "multilabel", labels, val_logits, 1 - y_val, min_positives_per_label=5
    )
    assert flipped.to_dict() != fitted  # the rule does follow its validation labels
