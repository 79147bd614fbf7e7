"""Known-answer tests for the data checks (textclf.data.validate)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from textclf.data.io import ColumnSpec, Split, read_split
from textclf.data.labels import LabelSpace
from textclf.data.validate import (
    TRUNCATION_WARNING_SHARE,
    Finding,
    ValidationReport,
    measure_truncation,
    validate_splits,
)
from textclf.errors import DataError
from textclf.evaluation.metrics import classification_metrics


def _split(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Split:
    """Write ``(text, label)`` rows to ``<name>.csv`` and read them back (labels split on |)."""
    path = tmp_path / f"{name}.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return read_split(path, ColumnSpec(label_separator="|"), name=name)


def _only(report: ValidationReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, [f.code for f in report.findings]
    return found[0]


def _codes(report: ValidationReport) -> set[str]:
    return {f.code for f in report.findings}


AB = LabelSpace("binary", ("x", "y"))


def test_clean_data_has_no_findings(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")])
    test = _split(tmp_path, "test", [("e", "x"), ("f", "y")])
    report = validate_splits({"train": train, "test": test}, AB)
    assert report.findings == []
    report.raise_for_errors()  # nothing to raise
    assert report.splits["train"].n_used == 4
    assert report.splits["train"].label_counts == {"x": 2, "y": 2}
    assert "No data problems found." in report.to_markdown()


def test_duplicate_text_counts_the_extra_copies(tmp_path: Path) -> None:
    # "a" three times (2 extra), "b" twice (1 extra): 3 extra copies of 2 distinct texts.
    rows = [("a", "x"), ("a", "x"), ("b", "y"), ("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")]
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, AB)
    dup = _only(report, "duplicate_text")
    assert dup.level == "warning"
    assert dup.split == "train"
    assert dup.count == 3
    assert dup.rows == [1, 2, 3, 4, 5]
    assert "3 row(s) repeat a text" in dup.message
    assert "2 distinct texts" in dup.message
    # Same labels every time: not a conflict.
    assert "conflicting_labels" not in _codes(report)


def test_labels_that_differ_only_in_formatting_are_named(tmp_path: Path) -> None:
    labels = ("1", "01", "2", "Pos", "pos", "1.0", "neg")
    rows = [(f"text {i}", lab) for i, lab in enumerate(labels)]
    space = LabelSpace("multiclass", tuple(sorted(labels)))
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, space)
    alike = _only(report, "labels_alike")
    assert (alike.level, alike.count) == ("warning", 5)
    assert "labels '01' and '1' and '1.0'; 'Pos' and 'pos' differ only in case" in alike.message
    clean = LabelSpace("multiclass", ("1", "2", "10", "positive"))
    rows = [(f"text {i}", lab) for i, lab in enumerate(clean.labels)]
    assert "labels_alike" not in _codes(
        validate_splits({"train": _split(tmp_path, "train", rows)}, clean)
    )


def test_a_stray_label_list_is_a_counted_warning(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text('text,label\na,x\nb,"[""y""]"\nc,y\nd,x\n', encoding="utf-8")
    report = validate_splits({"train": read_split(path, ColumnSpec())}, AB)
    stray = _only(report, "stray_label_lists")
    assert (stray.level, stray.count) == ("warning", 1) and "first: row 2" in stray.message


def test_conflicting_labels(tmp_path: Path) -> None:
    rows = [("a", "x"), ("b", "x"), ("a", "y"), ("c", "y"), ("b", "x")]
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, AB)
    conflict = _only(report, "conflicting_labels")
    assert conflict.level == "warning"
    # Only "a" has two different labels; its rows are 1 and 3.
    assert conflict.count == 2
    assert conflict.rows == [1, 3]
    assert "1 text(s) appear with different labels" in conflict.message
    assert _only(report, "duplicate_text").count == 2


def test_same_labels_in_another_order_do_not_conflict(tmp_path: Path) -> None:
    rows = [("a", "x|y"), ("a", "y|x"), ("b", "x"), ("c", "y")]
    space = LabelSpace("multilabel", ("x", "y"))
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, space)
    assert _only(report, "duplicate_text").count == 1
    assert "conflicting_labels" not in _codes(report)


def test_multilabel_conflict(tmp_path: Path) -> None:
    rows = [("a", "x|y"), ("a", "x"), ("b", "x"), ("c", "y")]
    space = LabelSpace("multilabel", ("x", "y"))
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, space)
    assert _only(report, "conflicting_labels").rows == [1, 2]


def test_unseen_label_is_an_error_naming_the_row(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "x")])
    test = _split(tmp_path, "test", [("d", "x"), ("e", "z"), ("f", "y"), ("g", "z"), ("h", "w")])
    report = validate_splits({"train": train, "test": test}, AB)
    unseen = _only(report, "unseen_label")
    assert unseen.level == "error"
    assert unseen.split == "test"
    assert unseen.count == 3
    assert unseen.rows == [2, 4, 5]
    # Each label with the row it first appears on (w is not on row 2).
    assert unseen.message.startswith(
        f"{test.source}: label(s) 'z' (first at row 2), 'w' (first at row 5) do not occur"
    )
    assert report.errors == [unseen]


def test_unseen_label_in_a_multilabel_row(tmp_path: Path) -> None:
    space = LabelSpace("multilabel", ("x", "y"))
    train = _split(tmp_path, "train", [("a", "x|y"), ("b", "y"), ("c", "x")])
    val = _split(tmp_path, "validation", [("d", "x"), ("e", "y|q")])
    report = validate_splits({"train": train, "validation": val}, space)
    unseen = _only(report, "unseen_label")
    assert unseen.rows == [2]
    assert "'q' (first at row 2)" in unseen.message


def test_unseen_labels_are_not_checked_in_train(tmp_path: Path) -> None:
    # The space is learned from train; a train label outside it is the label space's job.
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "z")])
    assert "unseen_label" not in _codes(validate_splits({"train": train}, AB))


def test_leakage_between_train_and_test(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")])
    test = _split(tmp_path, "test", [("e", "x"), ("b", "y"), ("f", "y"), ("a", "y")])
    report = validate_splits({"train": train, "test": test}, AB)
    leak = _only(report, "leakage")
    assert leak.level == "warning"
    assert leak.split == "test"
    assert leak.count == 2
    assert leak.rows == [2, 4]
    assert "inflates test scores" in leak.message
    assert leak.message.startswith(test.source)


def test_leakage_is_checked_for_every_split_but_train(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y")])
    val = _split(tmp_path, "validation", [("a", "x"), ("c", "y")])
    test = _split(tmp_path, "test", [("c", "x"), ("d", "y")])
    report = validate_splits({"train": train, "validation": val, "test": test}, AB)
    # "c" is in validation and test but not in train: that is not train leakage.
    assert [(f.split, f.rows) for f in report.findings if f.code == "leakage"] == [
        ("validation", [1])
    ]


def test_skipped_empty_texts_are_reported(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), (" ", "x"), ("b", "y"), ("", "y"), ("c", "x")])
    report = validate_splits({"train": train}, AB)
    empty = _only(report, "empty_text")
    assert empty.level == "warning"
    assert empty.count == 2
    assert empty.rows == [2, 4]
    assert "first: row 2" in empty.message
    summary = report.splits["train"]
    assert (summary.n_read, summary.n_used, summary.skipped) == (5, 3, {"empty_text": 2})


def test_label_without_examples(tmp_path: Path) -> None:
    space = LabelSpace("multiclass", ("x", "y", "never"))
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "x")])
    finding = _only(validate_splits({"train": train}, space), "label_without_examples")
    assert finding.level == "warning"
    assert finding.count == 1
    assert "['never']" in finding.message


def test_a_label_on_every_training_example_is_named(tmp_path: Path) -> None:
    space = LabelSpace("multilabel", ("always", "x", "y"))
    train = _split(tmp_path, "train", [("a", "always|x"), ("b", "always"), ("c", "always|y")])
    finding = _only(validate_splits({"train": train}, space), "label_on_every_example")
    assert finding.level == "warning" and finding.count == 1
    assert "['always'] are on every training example" in finding.message
    partial = _split(tmp_path, "train", [("a", "always|x"), ("b", "x"), ("c", "always|y")])
    codes = [f.code for f in validate_splits({"train": partial}, space).findings]
    assert "label_on_every_example" not in codes


@pytest.mark.parametrize(("n_big", "warned"), [(20, True), (19, False)])
def test_class_imbalance_at_ten_to_one(tmp_path: Path, n_big: int, warned: bool) -> None:
    rows = [(f"big {i}", "x") for i in range(n_big)] + [("small 1", "y"), ("small 2", "y")]
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, AB)
    assert ("class_imbalance" in _codes(report)) is warned
    if warned:
        message = _only(report, "class_imbalance").message
        assert "largest class has 20 examples and the smallest 2" in message
        assert message.endswith("consider --set train.class_weighting=balanced.")


def test_multilabel_imbalance_names_the_weighting_already_applied(tmp_path: Path) -> None:
    rows = [(f"big {i}", "x") for i in range(20)] + [("small 1", "x|y"), ("small 2", "y")]
    space = LabelSpace("multilabel", ("x", "y"))
    report = validate_splits({"train": _split(tmp_path, "train", rows)}, space)
    message = _only(report, "class_imbalance").message
    assert "largest label has 21 examples and the smallest 2" in message
    assert "'auto' already weights each label's positives" in message and "balanced" not in message
    assert f"| {message} |  |" in report.to_markdown()  # no count for a finding of no rows


def test_no_space_skips_the_label_checks(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y")])
    test = _split(tmp_path, "test", [("c", "z")])
    report = validate_splits({"train": train, "test": test}, None)
    assert report.errors == []


def test_raise_for_errors(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y")])
    val = _split(tmp_path, "validation", [("c", "z")])
    test = _split(tmp_path, "test", [("d", "q")])
    report = validate_splits({"train": train, "validation": val, "test": test}, AB)
    assert len(report.errors) == 2
    with pytest.raises(DataError) as info:
        report.raise_for_errors()
    message = str(info.value)
    assert message.startswith(f"{val.source}: label(s) 'z' (first at row 1)")
    assert "(1 more problem(s) listed by 'textclf data validate')" in message


def test_warnings_alone_do_not_raise(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("a", "x"), ("b", "y")])
    report = validate_splits({"train": train}, AB)
    assert report.warnings and not report.errors
    report.raise_for_errors()


def test_to_dict_and_markdown_contain_the_findings(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("a", "x"), ("b", "y"), ("c", "y")])
    test = _split(tmp_path, "test", [("a", "x"), ("d", "z")])
    report = validate_splits({"train": train, "test": test}, AB)
    doc = report.to_dict()
    json.dumps(doc)  # plain data, writable as the --json report
    assert doc["n_errors"] == 1
    assert doc["n_warnings"] == 3
    assert {f["code"] for f in doc["findings"]} == {
        "duplicate_text",
        "leakage",
        "unseen_label",
        "label_missing_from_split",  # no 'y' in test
    }
    assert doc["splits"]["train"]["n_used"] == 4
    assert doc["splits"]["test"]["label_counts"] == {"x": 1, "z": 1}
    markdown = report.to_markdown()
    for finding in report.findings:
        assert finding.message in markdown
    assert f"| train | `{train.source}` | 4 | 4 | 2 |" in markdown
    assert "| error | test |" in markdown
    assert doc["truncation"] is None  # not measured without token counts


def test_rows_without_labels_are_counted(tmp_path: Path) -> None:
    # The _split helper reads with label_separator="|": a blank cell is the empty set.
    train = _split(tmp_path, "train", [("a", "x|y"), ("b", ""), ("c", "y"), ("d", "")])
    report = validate_splits({"train": train}, LabelSpace("multilabel", ("x", "y")))
    assert report.splits["train"].n_without_labels == 2
    assert report.to_dict()["splits"]["train"]["n_without_labels"] == 2
    markdown = report.to_markdown()
    assert "| rows without labels |" in markdown
    assert f"| train | `{train.source}` | 4 | 4 | 2 | 1 | 2 |" in markdown


def test_single_label_markdown_has_no_unlabelled_column(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y")])
    assert "rows without labels" not in validate_splits({"train": train}, AB).to_markdown()


def test_measure_truncation_known_answer(tmp_path: Path) -> None:
    # Token counts = words + 2: train 3, 4, 12, 22 (two over 10); test 5, 13 (one over 10).
    train = _split(
        tmp_path, "train", [("a", "x"), ("a b", "y"), ("w " * 10, "x"), ("w " * 20, "y")]
    )
    test = _split(tmp_path, "test", [("a b c", "x"), ("w " * 11, "y")])
    counts: list[int] = []

    def count(texts: Sequence[str]) -> list[int]:
        counts.append(len(texts))
        return [len(t.split()) + 2 for t in texts]

    t, warning = measure_truncation(
        {"train": train, "test": test}, count, max_length=10, model_max_length=None
    )
    assert counts == [4, 2]  # one call per split here (batches of 1000)
    assert (t.n_texts, t.n_truncated, t.share) == (6, 3, 0.5)
    assert (t.splits["train"].n_truncated, t.splits["train"].share) == (2, 0.5)
    assert t.splits["train"].tokens == pytest.approx(
        {"min": 3.0, "median": 8.0, "p95": 20.5, "max": 22.0}
    )
    assert (t.splits["test"].n_truncated, t.splits["test"].share) == (1, 0.5)
    assert warning is not None
    assert warning.level == "warning"
    assert warning.split == "train, test"
    assert warning.count == 3
    assert warning.message.startswith(f"{train.source}: 50.0% of the texts (3 of 6 in all splits)")
    assert "raise --max-length up to the model's limit" in warning.message


def test_truncation_at_the_models_limit_says_to_expect_it(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("w " * 20, "x"), ("a", "y")])
    _, warning = measure_truncation(
        {"train": train}, lambda ts: [len(t.split()) for t in ts], max_length=8, model_max_length=8
    )
    assert warning is not None
    assert "8 is already this model's limit" in warning.message


def test_truncation_at_the_threshold_is_not_a_warning(tmp_path: Path) -> None:
    rows = [("w " * 20 if i == 0 else "a", "xy"[i % 2]) for i in range(10)]  # 10% exactly
    train = _split(tmp_path, "train", rows)
    t, warning = measure_truncation(
        {"train": train}, lambda ts: [len(t.split()) for t in ts], max_length=8
    )
    assert t.share == pytest.approx(TRUNCATION_WARNING_SHARE)
    assert warning is None


def test_a_counter_that_returns_the_wrong_number_of_counts_is_a_bug(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y")])
    with pytest.raises(ValueError, match="returned 1 counts for 2 texts"):
        measure_truncation({"train": train}, lambda ts: [1], max_length=8)


def test_a_validation_split_without_a_class_is_warned_about(tmp_path: Path) -> None:
    train = _split(tmp_path, "train", [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")])
    validation = _split(tmp_path, "validation", [("e", "x"), ("f", "x")])
    report = validate_splits({"train": train, "validation": validation}, AB)
    (finding,) = [f for f in report.findings if f.code == "label_missing_from_split"]
    assert finding.split == "validation" and finding.level == "warning"
    assert "['y'] have no validation example" in finding.message
    # What the message says of macro averages holds: a perfect model scores 0.5 here.
    assert "macro averages count each as 0" in finding.message
    perfect = classification_metrics("multiclass", np.array([0, 0]), np.eye(2)[[0, 0]])
    assert perfect["f1_macro"] == 0.5 and perfect["accuracy"] == 1.0
    both = _split(tmp_path, "validation", [("e", "x"), ("f", "y")])
    report = validate_splits({"train": train, "validation": both}, AB)
    assert "label_missing_from_split" not in {f.code for f in report.findings}


def test_a_long_list_of_missing_labels_says_how_many_more() -> None:
    from textclf.data.validate import _some

    names = [f"l{i}" for i in range(7)]
    assert _some(names) == "['l0', 'l1', 'l2', 'l3', 'l4'] and 2 more"
    assert _some(names[:5]) == "['l0', 'l1', 'l2', 'l3', 'l4']"
