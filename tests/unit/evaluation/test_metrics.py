"""Point values against scikit-learn, and known answers for the decision rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import classification_metrics, per_label_metrics


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
        skm.f1_score(y, pred, average="samples", zero_division=0)
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
