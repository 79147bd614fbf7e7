"""The cross-validation plan: folds checked before anything is written, and what a resume must match."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from textclf.config import ExperimentConfig, apply_overrides
from textclf.crossval import _settings, plan_folds
from textclf.data.columns import ColumnSpec
from textclf.data.io import read_split
from textclf.data.labels import LabelSpace
from textclf.errors import DataError


def _multilabel(seed: int, folds: int) -> tuple:
    """30 texts, 5 labels each on just enough texts for ``folds`` folds (or one more)."""
    rng = np.random.default_rng(seed)
    need = max(folds, -(-3 * folds // (folds - 1)))
    y = np.zeros((30, 5), int)
    for j in range(5):
        y[rng.choice(30, need + int(rng.integers(0, 2)), replace=False), j] = 1
    frame = pd.DataFrame(
        {
            "text": [f"t{i}" for i in range(30)],
            "label": [[f"l{j}" for j in range(5) if y[i, j]] for i in range(30)],
        }
    )
    split = read_split(frame, ColumnSpec(), name="train")
    space = LabelSpace.infer(split.dataset["labels"], multilabel_source=split.label_sets)
    return split, space


def test_a_fold_whose_training_part_cannot_carve_validation_is_refused_up_front():
    # Iterative stratification may put more than ceil(c/k) of a label in one fold; that
    # fold's run would fail midway, after the others had trained (helper review).
    split, space = _multilabel(5, 2)
    with pytest.raises(DataError, match=r"fold \d's training part keeps only 2 distinct text"):
        plan_folds(split, space, folds=2, seed=0, min_examples=3)


def test_every_fold_of_an_accepted_plan_keeps_enough_of_each_label_to_train():
    for seed in range(40):
        split, space = _multilabel(seed, 3)
        try:
            parts = plan_folds(split, space, folds=3, seed=0, min_examples=3)
        except DataError:
            continue
        y = space.encode(split.dataset["labels"])
        for part in parts:
            rest = np.setdiff1d(np.arange(len(y)), part)
            assert y[rest].sum(axis=0).min() >= 3


def test_the_settings_hash_changes_with_the_recipe_not_with_paths_or_tracking():
    base = apply_overrides(ExperimentConfig(), ["data.train=a.csv", "output_dir=x"])
    moved = apply_overrides(
        base, ["data.train=b/a.csv", "output_dir=y", "tracking.enabled=false", "seed=42"]
    )
    assert _settings(base) == _settings(moved)
    for change in ("train.max_steps=7", "model.name=other", "eval.confidence=0.9", "seed=1"):
        assert _settings(apply_overrides(base, [change])) != _settings(base), change


def test_a_second_job_on_the_same_cross_validation_is_refused_at_once(tmp_path):
    from textclf.crossval import _locked
    from textclf.errors import ConfigError

    with (
        _locked(tmp_path / "cv"),
        pytest.raises(ConfigError, match="another textclf job is working in this"),
        _locked(tmp_path / "cv"),
    ):
        pass
    with _locked(tmp_path / "cv"):  # released: free again
        pass
