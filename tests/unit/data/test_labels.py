"""Tests for the label space (textclf.data.labels): task detection, label order, encoding."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textclf.data.labels import LabelSpace
from textclf.errors import DataError

# ---------------------------------------------------------------------------------------
# Task detection
# ---------------------------------------------------------------------------------------


def test_two_classes_is_binary() -> None:
    space = LabelSpace.infer([["pos"], ["neg"], ["pos"]])
    assert space.task == "binary"
    assert space.labels == ("neg", "pos")
    assert space.problem_type == "single_label_classification"


def test_three_classes_is_multiclass() -> None:
    space = LabelSpace.infer([["b"], ["a"], ["c"], ["a"]])
    assert space.task == "multiclass"
    assert space.labels == ("a", "b", "c")
    assert space.num_labels == 3
    assert space.id2label == {0: "a", 1: "b", 2: "c"}
    assert space.label2id == {"a": 0, "b": 1, "c": 2}


@pytest.mark.parametrize(
    "label_lists",
    [
        [["a", "b"], ["a"], ["b"]],  # one row with two labels
        [["a"], [], ["b"]],  # one row with none
        [["a"], []],  # a single label that is present or absent
    ],
    ids=["several", "empty", "one-label"],
)
def test_lists_other_than_one_label_make_it_multilabel(label_lists: list[list[str]]) -> None:
    space = LabelSpace.infer(label_lists)
    assert space.task == "multilabel"
    assert space.multilabel
    assert space.problem_type == "multi_label_classification"


def test_multilabel_source_with_one_label_per_row_is_still_multilabel() -> None:
    # 0/1 columns or a separator mean multi-label even if no row happens to have two.
    space = LabelSpace.infer([["a"], ["b"]], multilabel_source=True)
    assert space.task == "multilabel"


def test_forced_multiclass_with_two_classes() -> None:
    assert LabelSpace.infer([["a"], ["b"]], task="multiclass").task == "multiclass"


def test_forced_multilabel_with_one_label_per_row() -> None:
    assert LabelSpace.infer([["a"], ["b"], ["c"]], task="multilabel").task == "multilabel"


@pytest.mark.parametrize(
    ("label_lists", "task", "message"),
    [
        ([["a", "b"], ["a"]], "multiclass", r"1 row\(s\) have no label or several.*multiclass"),
        ([["a"], [], ["b"]], "binary", r"1 row\(s\) have no label or several.*binary"),
        ([["a"], ["b"], ["c"]], "binary", r"--task binary needs exactly 2 labels, found 3"),
    ],
)
def test_forced_task_contradicted_by_the_data(
    label_lists: list[list[str]], task: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        LabelSpace.infer(label_lists, task=task, source="train.csv")


@pytest.mark.parametrize("task", ["auto", "binary", "multiclass"])
def test_a_single_class_is_an_error(task: str) -> None:
    with pytest.raises(DataError, match=r"train\.csv: every example has the label 'only'"):
        LabelSpace.infer([["only"]] * 5, task=task, source="train.csv")


def test_a_single_class_with_a_longer_label_order_is_still_an_error() -> None:
    # The names file lists two labels, but the data has examples of one only.
    with pytest.raises(DataError, match="every example has the label 'a'"):
        LabelSpace.infer([["a"], ["a"]], order=("a", "b"))


# ---------------------------------------------------------------------------------------
# Label order
# ---------------------------------------------------------------------------------------


def test_natural_order_of_numbers() -> None:
    space = LabelSpace.infer([["10"], ["2"], ["1"], ["10"]])
    assert space.labels == ("1", "2", "10")


def test_natural_order_of_mixed_names() -> None:
    labels = ["class10", "Class2", "class1", "b", "A"]
    space = LabelSpace.infer([[lab] for lab in labels])
    assert space.labels == ("A", "b", "class1", "Class2", "class10")


@given(
    st.lists(
        st.text(alphabet="aAbB019²", min_size=1, max_size=4), min_size=2, max_size=8, unique=True
    ),
    st.randoms(use_true_random=False),
)
@settings(max_examples=100, deadline=None)
def test_order_does_not_depend_on_the_order_of_the_data(
    labels: list[str], rnd: random.Random
) -> None:
    shuffled = labels[:]
    rnd.shuffle(shuffled)
    first = LabelSpace.infer([[lab] for lab in labels], task="multiclass")
    second = LabelSpace.infer([[lab] for lab in shuffled], task="multiclass")
    assert first.labels == second.labels
    assert sorted(first.labels) == sorted(labels)


def test_explicit_order_is_kept() -> None:
    order = ("zebra", "apple", "mango")
    space = LabelSpace.infer([["apple"], ["zebra"], ["mango"]], order=order)
    assert space.labels == order


def test_explicit_order_may_name_labels_without_examples() -> None:
    space = LabelSpace.infer([["b"], ["a"]], order=("b", "a", "c"))
    assert space.labels == ("b", "a", "c")
    assert space.task == "multiclass"


def test_label_outside_the_explicit_order_is_an_error() -> None:
    with pytest.raises(DataError, match=r"labels \['d'\] are not in the label-names list"):
        LabelSpace.infer([["a"], ["b"], ["d"]], order=("a", "b", "c"))


# ---------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------


def test_encode_single_label_known_answer() -> None:
    space = LabelSpace("multiclass", ("a", "b", "c"))
    ids = space.encode([["c"], ["a"], ["b"], ["c"]])
    assert ids.dtype == np.int64
    assert ids.tolist() == [2, 0, 1, 2]


def test_encode_multilabel_known_answer() -> None:
    space = LabelSpace("multilabel", ("a", "b", "c"))
    hot = space.encode([["c", "a"], [], ["b"]])
    assert hot.dtype == np.float32
    assert hot.tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize("bad", [[["z"]], [["a", "b"]], [[]]])
def test_encode_single_label_rejects_what_it_cannot_encode(bad: list[list[str]]) -> None:
    with pytest.raises(DataError, match="not one of the model's labels"):
        LabelSpace("binary", ("a", "b")).encode(bad)


def test_encode_multilabel_rejects_an_unknown_label() -> None:
    with pytest.raises(DataError, match="label 'z' is not one of the model's labels"):
        LabelSpace("multilabel", ("a", "b")).encode([["a", "z"]])


_NAMES = st.lists(
    st.text(min_size=1, max_size=6).filter(lambda s: s.strip() == s and s != ""),
    min_size=2,
    max_size=6,
    unique=True,
)


@given(data=st.data(), names=_NAMES)
@settings(max_examples=100, deadline=None)
def test_single_label_round_trip(data: st.DataObject, names: list[str]) -> None:
    rows = data.draw(st.lists(st.sampled_from(names).map(lambda s: [s]), min_size=1, max_size=30))
    space = LabelSpace("multiclass", tuple(names))
    ids = space.encode(rows)
    assert ids.shape == (len(rows),)
    assert space.decode(ids) == rows
    assert all(space.labels[i] == row[0] for i, row in zip(ids, rows, strict=True))


@given(data=st.data(), names=_NAMES)
@settings(max_examples=100, deadline=None)
def test_multilabel_round_trip(data: st.DataObject, names: list[str]) -> None:
    rows = data.draw(
        st.lists(st.lists(st.sampled_from(names), unique=True), min_size=1, max_size=30)
    )
    space = LabelSpace("multilabel", tuple(names))
    hot = space.encode(rows)
    assert hot.shape == (len(rows), len(names))
    assert hot.sum() == sum(len(r) for r in rows)
    decoded = space.decode(hot)
    # decode gives labels in label-space order; the set of labels per row is what must survive.
    assert [set(d) for d in decoded] == [set(r) for r in rows]
    assert all(d == [lab for lab in names if lab in r] for d, r in zip(decoded, rows, strict=True))


@given(
    st.lists(
        st.lists(st.sampled_from(["x", "y", "10", "2"]), min_size=1, max_size=1), min_size=1
    ).filter(lambda rows: len({r[0] for r in rows}) >= 2)
)
@settings(max_examples=50, deadline=None)
def test_inferred_space_encodes_its_own_data(rows: list[list[str]]) -> None:
    space = LabelSpace.infer(rows)
    assert space.task == ("binary" if len({r[0] for r in rows}) == 2 else "multiclass")
    assert space.decode(space.encode(rows)) == rows


def test_dict_round_trip() -> None:
    space = LabelSpace("multilabel", ("b", "a"))
    assert LabelSpace.from_dict(space.to_dict()) == space


def test_labels_joined_by_a_separator_are_refused_as_multilabel_and_warned_about(caplog):
    rows = [["sports"], ["food"], ["sports|food"], ["tech"], ["tech|food"]]
    with pytest.raises(DataError, match=r"'sports\|food' look like several labels joined by '\|'"):
        LabelSpace.infer(rows, task="multilabel", source="t.csv")
    with caplog.at_level("WARNING"):
        space = LabelSpace.infer(rows, source="t.csv")
    assert space.task == "multiclass" and "sports|food" in space.labels
    assert "--label-separator '|'" in caplog.text


def test_a_label_whose_parts_are_not_labels_is_not_taken_for_joined(caplog):
    rows = [["Billing, refunds"], ["Shipping"], ["Login; 2FA"], ["Other"]]
    with caplog.at_level("WARNING"):
        assert LabelSpace.infer(rows, source="t.csv").num_labels == 4
    assert "joined" not in caplog.text
    # labels that came split (JSON lists, 0/1 columns) are not second-guessed
    split = [["a"], ["b"], ["a|b"]]
    assert LabelSpace.infer(split, task="multilabel", multilabel_source=True).num_labels == 3
