"""Tests for textclf.data.prepare: what train and data validate share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from textclf.config import ExperimentConfig, apply_overrides
from textclf.data.prepare import prepare_data
from textclf.data.synth import TASKS, write_reports
from textclf.errors import DataError


def _config(*overrides: str) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), list(overrides))


def _csv(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    return path


def _words(texts: Sequence[str]) -> list[int]:
    """A stand-in tokenizer: one token per word plus [CLS] and [SEP]."""
    return [len(t.split()) + 2 for t in texts]


@pytest.fixture
def rare_class(tmp_path: Path) -> Path:
    """20 rows of two classes and one row of a third: too few to carve any split."""
    rows = [(f"common text {i}", "ab"[i % 2]) for i in range(20)] + [("rare one", "c")]
    return _csv(tmp_path / "train.csv", rows)


# ---------------------------------------------------------------------------------------
# Splits that cannot be carved: the same message raised (train) and reported (validate)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "named", "fix"),
    [
        ((), "train, validation and test", "--validation and --test files"),
        (("test",), "train and validation", "a --validation file"),
        (("validation",), "train and test", "a --test file"),
    ],
    ids=["one-file", "with-test", "with-validation"],
)
def test_a_tiny_class_names_only_the_carved_splits(
    tmp_path: Path, rare_class: Path, given: tuple[str, ...], named: str, fix: str
) -> None:
    other = _csv(tmp_path / "other.csv", [("fresh a", "a"), ("fresh b", "b"), ("fresh c", "c")])
    cfg = _config(f"data.train={rare_class}", *(f"data.{name}={other}" for name in given))
    expected = (
        f"{rare_class}: class 'c' has only 1 example(s), too few to split into {named} "
        f"(need 3); add examples, merge or remove the class, or give {fix}."
    )
    with pytest.raises(DataError) as err:
        prepare_data(cfg)
    assert str(err.value) == expected
    report = prepare_data(cfg, raise_errors=False).report
    assert [(f.code, f.message) for f in report.errors] == [("cannot_split", expected)]


def test_both_files_given_means_nothing_to_carve(tmp_path: Path, rare_class: Path) -> None:
    other = _csv(tmp_path / "other.csv", [("fresh a", "a"), ("fresh b", "b"), ("fresh c", "c")])
    cfg = _config(f"data.train={rare_class}", f"data.validation={other}", f"data.test={other}")
    data = prepare_data(cfg)
    assert data.report.errors == []
    assert data.split_note == ""


def test_split_settings_apply(rare_class: Path) -> None:
    # What --set split.min_examples_per_class=1 changes for train changes it here too.
    cfg = _config(f"data.train={rare_class}", "split.min_examples_per_class=1")
    data = prepare_data(cfg)
    assert set(data.splits) == {"train", "validation", "test"}
    assert "carved from the training file" in data.split_note


def test_a_repeated_text_stays_in_one_split_and_is_reported_for_the_whole_file(
    tmp_path: Path,
) -> None:
    # 60 distinct texts; 12 repeated once with the same label and one with another label.
    rows = [(f"text number {i}", "ab"[i % 2]) for i in range(60)]
    rows += [*rows[:12], ("text number 13", "a")]
    data = prepare_data(_config(f"data.train={_csv(tmp_path / 'train.csv', rows)}"))
    texts = {name: set(split.dataset["text"]) for name, split in data.splits.items()}
    assert not texts["train"] & texts["validation"] and not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]
    assert sum(len(s) for s in data.splits.values()) == 73  # nothing dropped
    assert "the 13 repeats of a text kept in its split" in data.split_note
    found = {(f.code, f.split): f for f in data.report.findings}
    assert set(found) == {("duplicate_text", "train"), ("conflicting_labels", "train")}
    assert found["duplicate_text", "train"].count == 13  # of the whole file, not one part
    assert found["duplicate_text", "train"].message.startswith(f"{tmp_path / 'train.csv'}: 13")
    assert found["conflicting_labels", "train"].rows == [14, 73]


def test_a_class_of_one_repeated_text_cannot_be_split(tmp_path: Path) -> None:
    rows = [(f"common text {i}", "ab"[i % 2]) for i in range(20)] + [("rare one", "c")] * 4
    with pytest.raises(DataError, match=r"class 'c' has only 1 distinct text\(s\), too few"):
        prepare_data(_config(f"data.train={_csv(tmp_path / 'train.csv', rows)}"))


def test_too_few_rows_names_the_file(tmp_path: Path) -> None:
    # Two rows: one goes to test, and the one left cannot also give a validation row.
    train = _csv(tmp_path / "tiny.csv", [("a", "x"), ("b", "y")])
    cfg = _config(f"data.train={train}", "split.min_examples_per_class=1")
    with pytest.raises(DataError, match=rf"^{train}: \d+ row\(s\) are too few to hold out"):
        prepare_data(cfg)


def test_errors_before_the_split_are_raised_first_and_all_are_reported(
    tmp_path: Path, rare_class: Path
) -> None:
    test = _csv(tmp_path / "test.csv", [("fresh a", "a"), ("fresh z", "zzz")])
    cfg = _config(f"data.train={rare_class}", f"data.test={test}")
    with pytest.raises(DataError, match=r"test\.csv: label\(s\) 'zzz' \(first at row 2\)"):
        prepare_data(cfg)
    report = prepare_data(cfg, raise_errors=False).report
    assert [f.code for f in report.errors] == ["unseen_label", "cannot_split"]


# ---------------------------------------------------------------------------------------
# Truncation
# ---------------------------------------------------------------------------------------


def _lengths_data(tmp_path: Path, n_long: int, n: int = 40) -> Path:
    rows = [("word " * (20 if i < n_long else 3) + f"n{i}", "ab"[i % 2]) for i in range(n)]
    return _csv(tmp_path / "train.csv", rows)


def test_truncation_share_is_measured_and_warned_about_when_large(tmp_path: Path) -> None:
    # 20 long texts of 40 have 21 words + 2 special tokens = 23 > 16; the rest 6 tokens.
    cfg = _config(f"data.train={_lengths_data(tmp_path, 20)}", "model.max_length=16")
    data = prepare_data(cfg, count_tokens=_words, model_max_length=512)
    t = data.report.to_dict()["truncation"]
    assert (t["max_length"], t["model_max_length"]) == (16, 512)
    assert (t["n_texts"], t["n_truncated"], t["share"]) == (40, 20, 0.5)
    assert set(t["splits"]) == {"train", "validation", "test"}
    assert sum(s["n_truncated"] for s in t["splits"].values()) == 20
    assert t["splits"]["train"]["tokens"]["max"] == 23
    (warning,) = [f for f in data.report.warnings if f.code == "truncation"]
    assert warning.message.startswith(f"{tmp_path / 'train.csv'}: 50.0% of the texts (20 of 40")
    assert "raise --max-length (this model reads up to 512 tokens)" in warning.message
    assert "Texts longer than max_length 16 tokens (read only in part): 50.0%" in (
        data.report.to_markdown()
    )


def test_a_small_truncation_share_is_reported_without_a_warning(tmp_path: Path) -> None:
    cfg = _config(f"data.train={_lengths_data(tmp_path, 4)}")
    data = prepare_data(cfg, count_tokens=_words, max_length=16)
    assert data.report.truncation is not None
    assert data.report.truncation.share == pytest.approx(0.1)
    assert "truncation" not in {f.code for f in data.report.findings}


def test_max_length_defaults_to_the_config(tmp_path: Path) -> None:
    cfg = _config(f"data.train={_lengths_data(tmp_path, 20)}", "model.max_length=64")
    data = prepare_data(cfg, count_tokens=_words)
    assert data.report.truncation is not None
    assert (data.report.truncation.max_length, data.report.truncation.share) == (64, 0.0)


def test_without_a_counter_truncation_is_not_measured(tmp_path: Path) -> None:
    cfg = _config(f"data.train={_lengths_data(tmp_path, 20)}")
    assert prepare_data(cfg).report.to_dict()["truncation"] is None


# ---------------------------------------------------------------------------------------
# Multi-label detection and synthetic data
# ---------------------------------------------------------------------------------------


def test_json_list_labels_make_the_data_multilabel_even_with_one_label_per_row(
    tmp_path: Path,
) -> None:
    rows = [(f"text {i}", json.dumps(["ab"[i % 2]]).replace('"', '""')) for i in range(20)]
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "".join(f'{t},"{lab}"\n' for t, lab in rows), encoding="utf-8")
    data = prepare_data(_config(f"data.train={path}"))
    assert data.space.task == "multilabel"


@pytest.mark.parametrize("extension", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("task", TASKS)
def test_every_synthetic_file_is_read_back(tmp_path: Path, extension: str, task: str) -> None:
    path = write_reports(tmp_path / f"reports{extension}", task, 80, seed=3)
    data = prepare_data(_config(f"data.train={path}"))
    assert data.space.task == task
    assert sum(len(s) for s in data.splits.values()) == 80
    assert data.report.errors == []
    if task == "multilabel":
        # Reports without any finding are examples with no labels, kept and counted.
        without = sum(s.n_without_labels for s in data.report.splits.values())
        assert without > 0
        assert without == sum(
            len(labels) == 0 for s in data.splits.values() for labels in s.dataset["labels"]
        )
