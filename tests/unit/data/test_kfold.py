"""k-fold assignment: disjoint folds that cover the data, stratified, repeats kept together."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textclf.data.split import kfold_indices
from textclf.errors import DataError


def _check_partition(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))  # every row once: none lost, none twice


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=5, max_value=40), min_size=2, max_size=6),
    folds=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_single_label_folds_cover_the_data_and_keep_each_class_share(counts, folds, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    parts = kfold_indices(y, folds=folds, seed=seed)
    assert len(parts) == folds
    _check_partition(parts, len(y))
    for part in parts:
        held = np.bincount(y[part], minlength=len(counts))
        # StratifiedKFold: each class's count in a fold is within one of its even share.
        assert np.all(np.abs(held - np.asarray(counts) / folds) <= 1)


def test_the_same_seed_gives_the_same_folds_and_another_seed_others():
    y = np.array([0, 1, 2] * 20)
    a, b = kfold_indices(y, folds=4, seed=3), kfold_indices(y, folds=4, seed=3)
    assert all(np.array_equal(x, z) for x, z in zip(a, b, strict=True))
    c = kfold_indices(y, folds=4, seed=4)
    assert not all(np.array_equal(x, z) for x, z in zip(a, c, strict=True))


def test_multilabel_folds_stratify_the_labels_and_spread_the_rows_without_any():
    rng = np.random.default_rng(0)
    y = (rng.random((300, 4)) < [0.5, 0.2, 0.1, 0.05]).astype(int)
    parts = kfold_indices(y, folds=5, seed=0)
    _check_partition(parts, len(y))
    for j, total in enumerate(y.sum(axis=0)):
        per_fold = [int(y[p, j].sum()) for p in parts]
        assert max(per_fold) - min(per_fold) <= 2, (j, per_fold)  # rare labels in every fold
        assert min(per_fold) > 0 and sum(per_fold) == total
    bare = y.sum(axis=1) == 0
    per_fold = [int(bare[p].sum()) for p in parts]
    assert max(per_fold) - min(per_fold) <= 1, per_fold
    # Iterative stratification trades fold size for label balance: sizes within 10%.
    assert all(abs(len(p) - len(y) / 5) <= 0.1 * len(y) / 5 for p in parts)


def test_the_repeats_of_a_text_fall_in_one_fold():
    y = np.array([0, 1] * 15)
    groups = np.arange(30) // 3  # rows 3i, 3i+1, 3i+2 are one text
    parts = kfold_indices(y, folds=3, seed=0, groups=groups)
    _check_partition(parts, 30)
    for part in parts:
        inside = set(groups[part].tolist())
        assert all(set(np.flatnonzero(groups == g)) <= set(part.tolist()) for g in inside)


def test_a_rare_class_without_a_row_per_fold_still_gets_every_row_assigned():
    y = np.array([0] * 20 + [1] * 2)  # StratifiedKFold would refuse: plain KFold instead
    parts = kfold_indices(y, folds=4, seed=0)
    _check_partition(parts, len(y))


@pytest.mark.parametrize(("n", "folds"), [(3, 4), (10, 1)])
def test_too_few_rows_or_folds_are_refused_in_one_line(n, folds):
    with pytest.raises(DataError, match=rf"{n} row\(s\) cannot make {folds} folds"):
        kfold_indices(np.zeros(n, dtype=int), folds=folds, seed=0)
