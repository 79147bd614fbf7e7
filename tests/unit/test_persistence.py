"""textclf.json: one nested decision rule, the real backbone, and old folders still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textclf.errors import ModelLoadError
from textclf.evaluation.decision import DecisionRule
from textclf.persistence import ModelInfo, read_info


def test_the_rule_is_stored_once_nested(tmp_path: Path):
    info = ModelInfo(
        task="binary",
        labels=["n", "p"],
        rule=DecisionRule(temperature=1.3, thresholds=0.4),
        backbone={"name": "sentence-transformers/all-MiniLM-L6-v2", "sha256": "ab"},
    )
    data = json.loads(info.to_json())
    assert data["decision_rule"]["thresholds"] == 0.4
    assert data["decision_rule"]["task"] == "binary"  # the rule follows the info's task
    assert "thresholds" not in data and "temperature" not in data
    (tmp_path / "textclf.json").write_text(info.to_json())
    again = read_info(tmp_path)
    assert again.rule == info.rule
    assert again.backbone_name == "sentence-transformers/all-MiniLM-L6-v2"


def test_a_format_1_sidecar_still_loads(tmp_path: Path):
    old = {
        "task": "multilabel",
        "labels": ["a", "b"],
        "thresholds": [0.3, 0.6],
        "temperature": 1.5,
        "at_least_one": True,
        "max_length": 64,
        "backbone": "default",
        "format_version": 1,
    }
    (tmp_path / "textclf.json").write_text(json.dumps(old))
    info = read_info(tmp_path)
    assert info.rule.thresholds == [0.3, 0.6]
    assert info.rule.temperature == 1.5
    assert info.rule.at_least_one and info.rule.task == "multilabel"
    assert info.backbone == {"name": "default"}
    assert info.max_length == 64


def test_an_unreadable_sidecar_names_the_file(tmp_path: Path):
    (tmp_path / "textclf.json").write_text('{"labels": []}')
    with pytest.raises(ModelLoadError, match=r"textclf\.json"):
        read_info(tmp_path)


def test_an_unfinished_run_is_named_as_one_not_as_no_model(tmp_path: Path):
    from textclf.errors import ModelLoadError
    from textclf.persistence import read_info
    from textclf.run_folder import RunFolder

    run = tmp_path / "run"
    run.mkdir()
    RunFolder(run).set_state("running")
    (run / "checkpoints").mkdir()
    with pytest.raises(ModelLoadError, match=r"this training run has not finished.*--resume"):
        read_info(run)
    with pytest.raises(ModelLoadError, match="not a model folder"):
        read_info(tmp_path)


def test_weights_of_an_unfinished_run_are_not_loaded_without_their_rule(tmp_path: Path):
    """Crash review D3: stopped after the weights and config.json were moved in but before
    textclf.json, then stopped again on --resume: predict, evaluate, serve and
    from_pretrained used the folder with the plain rule (temperature 1, no thresholds)."""
    from textclf.errors import ModelLoadError
    from textclf.persistence import read_info
    from textclf.run_folder import RunFolder

    RunFolder(tmp_path).set_state("running")
    config = {"id2label": {"0": "a", "1": "b"}, "model_type": "bert"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"this training run has not finished.*--resume"):
        read_info(tmp_path)
    RunFolder(tmp_path).set_state("finished")  # a plain folder of weights still loads
    assert read_info(tmp_path).labels == ["a", "b"]
