"""Tests for seeded, stratified splits (textclf.data.split)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from textclf.data.split import check_splittable, split_indices
from textclf.errors import DataError

_FRACTIONS = st.sampled_from([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
_TEST_FRACTIONS = st.sampled_from([0.0, 0.1, 0.2, 0.3])  # 0: no test split
_SEEDS = st.integers(0, 999)


def _check_partition(n: int, parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """No row lost, none duplicated, none in two splits; each part sorted."""
    joined = np.concatenate(parts)
    assert len(joined) == n
    assert len(np.unique(joined)) == n
    assert sorted(joined.tolist()) == list(range(n))
    for part in parts:
        assert np.all(np.diff(part) > 0)
        assert part.dtype.kind in "iu"


def _check_sizes(n: int, parts: tuple[np.ndarray, ...], val: float, test: float) -> None:
    _, va, te = parts
    # The test split takes ceil(test * n); validation is rescaled to a fraction of the rest.
    assert abs(len(te) - test * n) <= 1
    assert abs(len(va) - val * n) <= 2


# ---------------------------------------------------------------------------------------
# Single-label
# ---------------------------------------------------------------------------------------


@st.composite
def _single_label(draw: st.DrawFn, min_per_class: int = 1) -> np.ndarray:
    k = draw(st.integers(2, 6))
    counts = draw(st.lists(st.integers(min_per_class, 60), min_size=k, max_size=k))
    y = np.repeat(np.arange(k), counts)
    return np.random.default_rng(draw(st.integers(0, 2**16))).permutation(y)


@given(y=_single_label(), val=_FRACTIONS, test=_TEST_FRACTIONS, seed=_SEEDS)
@settings(max_examples=150, deadline=None)
def test_single_label_is_a_partition(y: np.ndarray, val: float, test: float, seed: int) -> None:
    # Any class sizes, even 1: too-small classes fall back to an unstratified split.
    assume(len(y) >= 3)  # fewer cannot make three splits (see the test below)
    parts = split_indices(y, validation_size=val, test_size=test, seed=seed)
    _check_partition(len(y), parts)
    _check_sizes(len(y), parts, val, test)


@given(y=_single_label(min_per_class=20), val=_FRACTIONS, test=_FRACTIONS, seed=_SEEDS)
@settings(max_examples=100, deadline=None)
def test_single_label_is_stratified(y: np.ndarray, val: float, test: float, seed: int) -> None:
    # Each split must be able to hold one row per class, or there is nothing to stratify.
    k = int(y.max()) + 1
    n = len(y)
    assume(math.ceil(test * n) >= k and val * n >= k + 2)
    tr, va, te = split_indices(y, validation_size=val, test_size=test, seed=seed)
    overall = np.bincount(y, minlength=k)
    for part in (tr, va, te):
        got = np.bincount(y[part], minlength=k)
        # Stratified splitting rounds each class's count to within one row per cut; train
        # and validation come from two cuts (test off, then validation off): within two.
        expected = overall * len(part) / n
        assert np.all(np.abs(got - expected) < 2 + 1e-9), (got, expected)
        # The same in shares: every class within 2/len(part) of its overall share (at most
        # a few percentage points here, since every split has at least k rows).
        assert np.all(np.abs(got / len(part) - overall / n) < 2 / len(part) + 1e-9)
    # No class is missing from train.
    assert np.all(np.bincount(y[tr], minlength=k) > 0)


def test_single_label_known_sizes() -> None:
    y = np.array([0, 1] * 50)
    tr, va, te = split_indices(y, validation_size=0.1, test_size=0.1, seed=0)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    # Perfect halves are possible, so stratification must find them.
    for part in (tr, va, te):
        assert np.bincount(y[part]).tolist() == [len(part) // 2] * 2


def test_same_seed_same_split_other_seed_other_split() -> None:
    y = np.repeat(np.arange(3), 30)
    a = split_indices(y, validation_size=0.1, test_size=0.2, seed=7)
    b = split_indices(y, validation_size=0.1, test_size=0.2, seed=7)
    c = split_indices(y, validation_size=0.1, test_size=0.2, seed=8)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_zero_sizes_give_empty_splits() -> None:
    y = np.repeat(np.arange(2), 10)
    tr, va, te = split_indices(y, validation_size=0.0, test_size=0.0, seed=0)
    assert tr.tolist() == list(range(20))
    assert len(va) == len(te) == 0


def test_more_classes_than_test_rows_still_splits() -> None:
    # 5 classes of 3: test (2 rows) cannot hold every class, which sklearn refuses to
    # stratify; the split falls back to a random one instead of crashing.
    y = np.repeat(np.arange(5), 3)
    parts = split_indices(y, validation_size=0.1, test_size=0.1, seed=0)
    _check_partition(15, parts)
    assert (len(parts[1]), len(parts[2])) == (2, 2)


def test_too_few_rows_is_a_data_error() -> None:
    # Two rows: one goes to test, and the one left cannot give up a validation row.
    with pytest.raises(DataError, match="1 row\\(s\\) are too few"):
        split_indices(np.array([0, 1]), validation_size=0.1, test_size=0.1, seed=0)
    with pytest.raises(DataError, match="too few"):
        split_indices(
            np.array([[1, 0]], dtype=np.float32), validation_size=0.1, test_size=0.0, seed=0
        )


# ---------------------------------------------------------------------------------------
# Multi-label
# ---------------------------------------------------------------------------------------


@st.composite
def _multi_hot(draw: st.DrawFn) -> np.ndarray:
    k = draw(st.integers(2, 5))
    n = draw(st.integers(10, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    density = draw(st.sampled_from([0.1, 0.3, 0.6]))
    return (rng.random((n, k)) < density).astype(np.float32)


@given(y=_multi_hot(), val=_FRACTIONS, test=_TEST_FRACTIONS, seed=_SEEDS)
@settings(max_examples=60, deadline=None)
def test_multilabel_is_a_partition(y: np.ndarray, val: float, test: float, seed: int) -> None:
    # Rows without any label (all zeros) are allowed and must not be lost.
    parts = split_indices(y, validation_size=val, test_size=test, seed=seed)
    _check_partition(len(y), parts)


@given(y=_multi_hot(), val=_FRACTIONS, test=_TEST_FRACTIONS, seed=_SEEDS)
@example(  # iterative stratification held out no row of these 9 for validation
    y=np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0],
            [0, 1, 0, 1, 1],
            [0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 1, 0, 0, 0],
            [0, 1, 0, 0, 1],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 1, 0],
        ],
        dtype=np.float32,
    ),
    val=0.05,
    test=0.1,
    seed=0,
)
@settings(max_examples=60, deadline=None)
def test_multilabel_rows_without_labels_keep_their_share(
    y: np.ndarray, val: float, test: float, seed: int
) -> None:
    # Iterative stratification alone dealt them out last, to whichever side still wanted
    # rows: the demo's test split got none at 3 seeds of 4.
    _, va, te = split_indices(y, validation_size=val, test_size=test, seed=seed)
    bare = y.sum(axis=1) == 0
    # Each cut rounds the bare rows' count once; validation comes from the second cut.
    assert abs(bare[te].sum() - test * bare.sum()) <= 1 + 1e-9
    assert abs(bare[va].sum() - val * bare.sum()) <= 2 + 1e-9
    assert len(va) > 0 and (len(te) > 0) == (test > 0)  # a share never rounds a split away


def test_multilabel_known_answer() -> None:
    # Labels a, b, c on 8 rows: a and b have 4 rows each (two of them shared), c has 2.
    #   rows 0,1: a    rows 2,3: b    rows 4,5: c    rows 6,7: a+b
    # A 50/50 split wants 2 a, 2 b and 1 c on each side. Iterative stratification (Sechidis
    # et al. 2011) takes the rarest label first: one c row goes to each side; then each
    # row goes where its label is still most wanted, which ends with a, b and c exactly
    # halved whatever the tie-breaks. A random split would often put both c rows together.
    y = np.array(
        [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 1, 0], [1, 1, 0]],
        dtype=np.float32,
    )
    for seed in range(5):
        tr, va, te = split_indices(y, validation_size=0.0, test_size=0.5, seed=seed)
        _check_partition(8, (tr, va, te))
        assert y[tr].sum(axis=0).tolist() == [2, 2, 1]
        assert y[te].sum(axis=0).tolist() == [2, 2, 1]


def test_multilabel_every_label_in_every_split_when_counts_allow() -> None:
    # Four labels with 10 rows each among 40 rows; 20 % test and 20 % validation want
    # two rows of every label in each held-out split, and iterative stratification
    # assigns each label's rows where they are most wanted, so none can be left out.
    rng = np.random.default_rng(0)
    y = np.zeros((40, 4), dtype=np.float32)
    for j in range(4):
        y[j * 10 : (j + 1) * 10, j] = 1
    y[rng.choice(40, 8, replace=False), 0] = 1  # some rows carry a second label
    tr, va, te = split_indices(y, validation_size=0.2, test_size=0.2, seed=3)
    _check_partition(40, (tr, va, te))
    for part in (tr, va, te):
        assert np.all(y[part].sum(axis=0) >= 1), y[part].sum(axis=0)


# ---------------------------------------------------------------------------------------
# check_splittable
# ---------------------------------------------------------------------------------------


def test_check_splittable_names_the_smallest_class() -> None:
    y = np.array([0] * 10 + [1] * 2 + [2] * 1)
    with pytest.raises(DataError) as info:
        check_splittable(y, ["common", "rare", "rarest"], min_per_class=3, source="train.csv")
    message = str(info.value)
    assert message.startswith("train.csv: class 'rarest' has only 1 example(s) (and 1 more)")
    assert "need 3" in message


def test_check_splittable_multilabel() -> None:
    y = np.array([[1, 0], [1, 1], [1, 0], [1, 0]], dtype=np.float32)
    with pytest.raises(DataError, match=r"class 'b' has only 1 example\(s\), too few"):
        check_splittable(y, ["a", "b"], min_per_class=2, source="train.jsonl")


def test_check_splittable_passes_at_the_minimum() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    check_splittable(y, ["a", "b"], min_per_class=3, source="train.csv")


def test_check_splittable_ignores_labels_without_examples() -> None:
    # A label from the names file with no example is reported by validation, not here.
    check_splittable(np.array([0, 0, 0, 1, 1, 1]), ["a", "b", "c"], min_per_class=3, source="x")


@pytest.mark.parametrize(
    ("carved", "into", "give"),
    [
        (("validation", "test"), "train, validation and test", "--validation and --test files"),
        (("validation",), "train and validation", "a --validation file"),
        (("test",), "train and test", "a --test file"),
    ],
)
def test_check_splittable_names_only_the_carved_splits(
    carved: tuple[str, ...], into: str, give: str
) -> None:
    with pytest.raises(DataError) as info:
        check_splittable(
            np.array([0, 0, 0, 1]), ["a", "b"], min_per_class=3, source="t.csv", carved=carved
        )
    message = str(info.value)
    assert f"too few to split into {into} (need 3)" in message
    assert message.endswith(f"or give {give}.")
