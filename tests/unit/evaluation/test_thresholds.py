"""Threshold tuning: known answers, and the validation-only contract of the decision rule.

Temperature scaling and the calibration error are tested in test_calibration.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

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


def test_a_multilabel_threshold_stays_at_half_without_a_gain():
    y = np.array([[0, 1], [1, 0], [0, 1], [1, 0], [1, 1], [0, 0]] * 3)
    # label a is separated at 0.5 already (any threshold in (0.2, 0.9] ties); b is not.
    p = np.where(y == 1, 0.9, 0.2).astype(float)
    p[:, 1] = np.where(y[:, 1] == 1, 0.45, 0.1)
    res = tune_multilabel_thresholds(y, p, labels=["a", "b"], min_positives=2)
    assert res.per_label["a"] == {
        "threshold": 0.5,
        "tuned": False,
        "positives": 9,
        "f1_before": 1.0,
        "f1_after": 1.0,
    }
    assert res.per_label["b"]["tuned"] and res.per_label["b"]["threshold"] == pytest.approx(0.45)


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
    # The record also gives micro-F1, on which the keep decision is made; here (as can
    # happen) the per-label optimum lowers it in-sample.
    judged = res.to_dict()["judged_by"]
    assert judged["metric"] == "f1_micro" and res.metric == "f1_macro"
    assert judged["validation_after"] == pytest.approx(
        skm.f1_score(y, (p >= t).astype(int), average="micro")
    )
    assert judged["validation_before"] == pytest.approx(
        skm.f1_score(y, (p >= 0.5).astype(int), average="micro")
    )
