"""assess.model_spec: a saved model's label separator carries to the files it is evaluated on."""

from __future__ import annotations

from pathlib import Path

from textclf.assess_files import model_spec
from textclf.data.io import ColumnSpec


def _folder(tmp_path: Path, yaml_text: str) -> Path:
    (tmp_path / "config.yaml").write_text(yaml_text, encoding="utf-8")
    return tmp_path


def test_the_training_separator_is_used_when_none_is_given(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "data:\n  label_separator: '|'\n  train: t.csv\n")
    assert model_spec(None, folder).label_separator == "|"
    assert model_spec(ColumnSpec(text="body"), folder).text == "body"


def test_what_the_user_gives_wins(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "data:\n  label_separator: '|'\n")
    assert model_spec(ColumnSpec(label_separator=";"), folder).label_separator == ";"
    columns = ColumnSpec(label_columns=("a", "b"))
    assert model_spec(columns, folder).label_separator is None


def test_no_config_or_no_separator_changes_nothing(tmp_path: Path) -> None:
    assert model_spec(None, tmp_path) == ColumnSpec()
    assert model_spec(None, None) == ColumnSpec()
    assert model_spec(None, _folder(tmp_path, "data:\n  label_separator: null\n")) == ColumnSpec()
    assert model_spec(None, _folder(tmp_path, "- not a mapping\n")) == ColumnSpec()
