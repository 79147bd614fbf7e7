"""Threshold tuning and temperature scaling: known answers and the validation-only contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from textclf.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)
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


def test_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 4)) * 1.5
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    t = fit_temperature(true_logits * 3.0, y, multilabel=False)  # 3x over-confident
    assert t == pytest.approx(3.0, rel=0.1)
    over = expected_calibration_error(
        y, apply_temperature(true_logits * 3.0, 1.0, multilabel=False), multilabel=False
    )
    fixed = expected_calibration_error(
        y, apply_temperature(true_logits * 3.0, t, multilabel=False), multilabel=False
    )
    assert fixed < over / 2


def test_temperature_keeps_argmax():
    logits = np.random.default_rng(2).normal(size=(50, 5))
    for t in (0.3, 1.0, 4.0):
        assert (apply_temperature(logits, t, multilabel=False).argmax(1) == logits.argmax(1)).all()


def test_ece_known_answer():
    # two bins: conf 0.9 (2 examples, both right) and 0.6 (2 examples, one right)
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 0, 0, 0])
    # bin 0.9: |0.9-1.0|*2 ; bin 0.6: |0.6-0.5|*2 -> (0.2 + 0.2) / 4
    assert expected_calibration_error(y, proba, multilabel=False) == pytest.approx(0.1)


def test_decision_rule_is_a_function_of_validation_only():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(200, 3))
    y = (rng.random((200, 3)) < 0.4).astype(int)
    rule = fit_decision_rule("multilabel", ["a", "b", "c"], logits, y, min_positives_per_label=5)
    again = fit_decision_rule(
        "multilabel", ["a", "b", "c"], logits.copy(), y.copy(), min_positives_per_label=5
    )
    assert rule.thresholds == again.thresholds and rule.temperature == again.temperature
    pred = decide(
        apply_temperature(logits, rule.temperature, multilabel=True),
        "multilabel",
        threshold=rule.thresholds,
    )
    assert pred.shape == y.shape


def test_apply_temperature_is_softmax_or_sigmoid():
    logits = np.array([[0.0, 0.0], [2.0, -2.0]])
    np.testing.assert_allclose(apply_temperature(logits, 1.0, multilabel=False).sum(1), 1.0)
    np.testing.assert_allclose(
        apply_temperature(logits, 1.0, multilabel=False)[1, 0], 1 / (1 + np.exp(-4.0))
    )
    np.testing.assert_allclose(apply_temperature(np.zeros((1, 3)), 1.0, multilabel=True), 0.5)
    np.testing.assert_allclose(
        apply_temperature(np.array([[2.0]]), 2.0, multilabel=True), 1 / (1 + np.exp(-1.0))
    )
