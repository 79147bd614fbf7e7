"""assess: a labelled file with labels the model does not know is refused in one line that
names each foreign label with the row it first appears on."""

from __future__ import annotations

import pytest

from textclf.assess import check_known_labels
from textclf.data.io import split_from_lists
from textclf.data.labels import LabelSpace
from textclf.errors import DataError


def test_each_foreign_label_is_named_with_its_own_first_row() -> None:
    split = split_from_lists(["a", "b", "c", "d", "e"], ["x", "zz", "y", "qq", "zz"])
    with pytest.raises(DataError) as caught:
        check_known_labels(split, LabelSpace("multiclass", ("x", "y")), where="test.csv")
    message = str(caught.value)
    assert message.startswith("test.csv: 3 row(s) have labels the model (2 labels) does not know")
    row = split.dataset["row"]
    assert f"'zz' (first at row {row[1]}), 'qq' (first at row {row[3]})" in message
    assert "\n" not in message


def test_known_labels_pass() -> None:
    split = split_from_lists(["a", "b"], [["x"], ["x", "y"]])
    check_known_labels(split, LabelSpace("multilabel", ("x", "y")), where="t.jsonl")
