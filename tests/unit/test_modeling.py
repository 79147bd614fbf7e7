"""Model building: explicit label maps and problem type; clear errors for names that cannot load."""

from __future__ import annotations

from pathlib import Path

import pytest

from textclf.data.labels import LabelSpace
from textclf.errors import ModelLoadError
from textclf.modeling import build_model, default_model_path, load_tokenizer, resolve_model_name


def test_default_backbone_is_the_bundled_package():
    path = default_model_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert resolve_model_name("default") == str(path)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_label_maps_and_problem_type_are_explicit(tiny_model_dir: Path, task: str):
    labels = ("neg", "pos") if task == "binary" else ("a", "b", "c")
    model = build_model(str(tiny_model_dir), LabelSpace(task, labels))
    assert model.config.id2label == dict(enumerate(labels))
    assert model.config.label2id == {name: i for i, name in enumerate(labels)}
    expected = (
        "multi_label_classification" if task == "multilabel" else "single_label_classification"
    )
    assert model.config.problem_type == expected
    assert model.classifier.out_features == len(labels)


def test_hub_name_offline_gives_one_clear_sentence(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelLoadError, match=r"could not be fetched from the Hugging Face hub.*offline"
    ):
        load_tokenizer("someone/some-encoder-that-is-not-cached")


def test_folder_without_config_is_refused(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="not a model folder"):
        resolve_model_name(str(tmp_path))
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_model_name(str(tmp_path / "missing" / "model"))
