"""Per task: overfit a handful of examples → loss falls → save → reload → same predictions.

The spaCy ``test_overfitting_IO`` discipline, with a tiny BERT built from a config.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from textclf import TextClassifier
from textclf.evaluation.metrics import classification_metrics

pytestmark = pytest.mark.slow


def _labels(frame: pd.DataFrame, task: str) -> list:
    if task == "multilabel":
        return [v.split("|") for v in frame["label"]]
    return list(frame["label"])


def test_overfit_save_load(
    task: str, task_frame: pd.DataFrame, tiny_model_dir: Path, tmp_path: Path
):
    texts, labels = list(task_frame["text"]), _labels(task_frame, task)
    clf = TextClassifier(
        str(tiny_model_dir),
        max_length=32,
        random_state=0,
        # Wide margin: at 60 epochs the tiny model sometimes fell one example short under
        # CPU load (thread-order float noise), which made the test flaky.
        epochs=150,
        batch_size=8,
        learning_rate=3e-3,
        train_options={
            "warmup_ratio": 0.0,
            "weight_decay": 0.0,
            "early_stopping_patience": None,
            "logging_steps": 5,
        },
    )
    assert clf.fit(texts, labels) is clf
    assert clf.task_ == task
    losses = [h["loss"] for h in clf.history_.log_history if "loss" in h]
    assert losses[-1] < 0.5 * losses[0], f"loss did not fall: {losses[0]:.3f} -> {losses[-1]:.3f}"

    pred = clf.predict(texts)
    if task == "multilabel":
        assert [sorted(p) for p in pred] == [sorted(t) for t in labels]
    else:
        assert pred == labels
    proba = clf.predict_proba(texts)
    assert proba.shape == (len(texts), len(clf.labels_))
    if task != "multilabel":
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    from textclf.data.labels import LabelSpace

    space = LabelSpace(task, tuple(clf.labels_))
    metrics = classification_metrics(
        task, space.encode([[x] if isinstance(x, str) else x for x in labels]), proba
    )
    assert metrics["f1_macro"] == pytest.approx(1.0)

    folder = clf.save_pretrained(tmp_path / "model")
    for name in ("config.json", "model.safetensors", "textclf.json", "tokenizer.json"):
        assert (folder / name).is_file(), name
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pkl"))
    loaded = TextClassifier.from_pretrained(folder)
    assert loaded.labels_ == clf.labels_
    assert loaded.task_ == task
    np.testing.assert_allclose(loaded.predict_proba(texts), proba, rtol=1e-5, atol=1e-6)
    assert loaded.predict(texts) == pred


def test_plain_transformers_pipeline_loads_folder(
    task: str, task_frame: pd.DataFrame, tiny_model_dir: Path, tmp_path: Path
):
    from transformers import pipeline

    texts, labels = list(task_frame["text"]), _labels(task_frame, task)
    clf = TextClassifier(str(tiny_model_dir), max_length=32, epochs=1, batch_size=8)
    clf.fit(texts, labels)
    folder = clf.save_pretrained(tmp_path / "model")
    pipe = pipeline("text-classification", model=str(folder), top_k=None)
    out = pipe(texts[:3])
    expected = clf.predict_proba(texts[:3])
    for row, probs in zip(out, expected, strict=True):
        assert {d["label"] for d in row} == set(clf.labels_)
        scores = {d["label"]: d["score"] for d in row}
        np.testing.assert_allclose(
            [scores[lab] for lab in clf.labels_], probs, rtol=1e-4, atol=1e-5
        )
    if task == "multilabel":
        # sigmoid, not softmax: scores need not sum to one
        assert pipe.model.config.problem_type == "multi_label_classification"
    else:
        assert sum(d["score"] for d in out[0]) == pytest.approx(1.0, abs=1e-4)
