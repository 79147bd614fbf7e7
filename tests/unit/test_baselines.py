from __future__ import annotations

import numpy as np
import pytest

from textclf.baselines import BASELINES, BaselineClassifier

TEXTS = [
    "good great fine",
    "great good",
    "bad awful",
    "awful terrible bad",
    "fine good",
    "terrible bad",
] * 5


@pytest.mark.parametrize("kind", BASELINES)
def test_single_label_contract(kind: str):
    y = np.array([1, 1, 0, 0, 1, 0] * 5)
    clf = BaselineClassifier(kind).fit(TEXTS, y, task="binary", labels=["neg", "pos"])
    p = clf.predict_proba(["good fine", "awful bad"])
    assert p.shape == (2, 2)
    np.testing.assert_allclose(p.sum(1), 1.0)
    if kind == "majority":
        np.testing.assert_allclose(p[0], [0.5, 0.5])
    else:
        assert p[0, 1] > 0.5 > p[1, 1]


def test_classes_missing_from_training_get_zero_probability():
    y = np.array([0, 0, 2, 2, 0, 2] * 5)  # label 1 never seen
    clf = BaselineClassifier("tfidf_lr").fit(TEXTS, y, task="multiclass", labels=["a", "b", "c"])
    p = clf.predict_proba(["good"])
    assert p.shape == (1, 3) and p[0, 1] == 0


@pytest.mark.parametrize("kind", BASELINES)
def test_multilabel_contract_with_constant_label(kind: str):
    y = np.zeros((30, 3), dtype=int)
    y[:, 0] = [1, 1, 0, 0, 1, 0] * 5
    y[:, 1] = 1  # every row: cannot be fitted one-vs-rest
    clf = BaselineClassifier(kind).fit(
        TEXTS, y, task="multilabel", labels=["pos", "always", "never"]
    )
    p = clf.predict_proba(["good fine", "awful"])
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p[:, 1], 1.0)
    np.testing.assert_allclose(p[:, 2], 0.0)
    if kind != "majority":
        assert p[0, 0] > p[1, 0]
