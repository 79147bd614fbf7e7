"""Temperature scaling and the expected calibration error: known answers and recovery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from textclf.evaluation.calibration import (
    ECE_BINS,
    apply_temperature,
    ece_bin_index,
    expected_calibration_error,
    fit_temperature,
)


def _softmax_sample(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from their own softmax: calibrated at temperature 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 1.5
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return logits, y


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_temperature_recovers_a_known_scale(scale: float):
    """Logits multiplied by ``s`` are calibrated again at ``T = s`` (Guo et al. 2017)."""
    logits, y = _softmax_sample(4000, 4, seed=0)
    t = fit_temperature(logits * scale, y, multilabel=False)
    assert t == pytest.approx(scale, rel=0.1)
    before = expected_calibration_error(y, apply_temperature(logits * scale, 1.0, multilabel=False))
    after = expected_calibration_error(y, apply_temperature(logits * scale, t, multilabel=False))
    assert after < before / 2


def test_multilabel_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3000, 3)) * 2.0
    y = (rng.random(logits.shape) < expit(logits)).astype(int)  # calibrated at T = 1
    assert fit_temperature(logits * 2.5, y, multilabel=True) == pytest.approx(2.5, rel=0.1)


def test_temperature_without_examples_is_one_and_stays_in_its_bounds():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, int), multilabel=False) == 1.0
    # Labels that contradict the logits push T to the bound of the search, never past it.
    logits = np.array([[5.0, -5.0], [-5.0, 5.0]] * 20)
    y = np.array([1, 0] * 20)
    assert fit_temperature(logits, y, multilabel=False) == pytest.approx(20.0, rel=1e-3)
    assert 0.05 <= fit_temperature(logits, 1 - y, multilabel=False) <= 20.0


def test_temperature_keeps_argmax():
    logits = np.random.default_rng(2).normal(size=(50, 5))
    for t in (0.3, 1.0, 4.0):
        assert (apply_temperature(logits, t, multilabel=False).argmax(1) == logits.argmax(1)).all()


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


def test_ece_known_answer():
    # Two bins: conf 0.9 (2 examples, both right) and 0.6 (2 examples, one right):
    # |0.9 - 1.0| * 2/4 + |0.6 - 0.5| * 2/4.
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 0, 0, 0])
    assert expected_calibration_error(y, proba) == pytest.approx(0.1)
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    # 0.9 (both right) -> 0.1 * 2/4; 0.8 (right) -> 0.2 * 1/4; 0.6 (wrong) -> 0.6 * 1/4.
    assert expected_calibration_error(y, p) == pytest.approx(0.05 + 0.05 + 0.15)


def test_ece_weights_count_examples():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    doubled = expected_calibration_error(y, p, sample_weight=np.array([1.0, 1.0, 1.0, 2.0]))
    assert doubled == pytest.approx(expected_calibration_error(np.r_[y, 1], np.vstack([p, p[-1]])))
    assert np.isnan(expected_calibration_error(y, p, sample_weight=np.zeros(4)))
    assert np.isnan(expected_calibration_error(np.zeros(0, int), np.zeros((0, 2))))


def test_multilabel_ece_scores_every_example_label_pair():
    y = np.array([[1, 0], [0, 0]])
    p = np.array([[0.9, 0.2], [0.3, 0.2]])
    # Four pairs in three bins: 0.9 (a 1) -> 0.1; 0.2 twice (both 0) -> |0 - 0.4|;
    # 0.3 (a 0) -> 0.3.  (0.1 + 0.4 + 0.3) / 4.
    assert expected_calibration_error(y, p, multilabel=True) == pytest.approx(0.8 / 4)
    # A perfectly calibrated bin has no gap: 0.5 on two pairs, one of them positive.
    assert expected_calibration_error(
        np.array([[1, 0]]), np.array([[0.5, 0.5]]), multilabel=True
    ) == pytest.approx(0.0)


def test_ece_bins_are_closed_on_the_left_with_one_in_the_last():
    conf = np.array([0.0, 1 / ECE_BINS, 0.5, 1 - 1e-9, 1.0])
    assert ece_bin_index(conf).tolist() == [0, 1, ECE_BINS // 2, ECE_BINS - 1, ECE_BINS - 1]
    assert ece_bin_index(np.array([0.25, 0.5]), n_bins=2).tolist() == [0, 1]
