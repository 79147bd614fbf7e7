"""What a run learns from is recorded, and --resume with other settings or data is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from textclf.config import ModelConfig, TrainConfig
from textclf.data.io import ColumnSpec, read_split, split_from_lists
from textclf.data.labels import LabelSpace
from textclf.data.prepare import content_fingerprint
from textclf.errors import ConfigError
from textclf.training.fit import (
    EXECUTION_ONLY,
    RUN_INPUTS,
    TrainingJob,
    check_run_inputs,
    input_differences,
    run_inputs,
)

TEXTS = ["good film", "bad film", "fine acting", "awful plot"]
LABELS = ["pos", "neg", "pos", "neg"]


def _inputs(*, seed: int = 0, labels: list[str] = LABELS, **train: object) -> dict:
    job = TrainingJob(
        backbone="tiny",
        seed=seed,
        space=LabelSpace("binary", ("neg", "pos")),
        tokenizer=None,
        train=None,
        validation=None,
        train_config=TrainConfig(**train),  # type: ignore[arg-type]
        model_config=ModelConfig(name="tiny"),
    )
    return run_inputs(job, {"train": split_from_lists(TEXTS, labels, name="train")})


def test_the_same_examples_have_one_fingerprint_however_they_were_read(tmp_path: Path):
    path = tmp_path / "train.csv"
    pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(path, index=False)
    from_file = read_split(path, ColumnSpec(), name="train")
    from_lists = split_from_lists(TEXTS, LABELS, name="train")
    assert content_fingerprint(from_file) == content_fingerprint(from_lists)
    relabelled = split_from_lists(TEXTS, ["pos", "neg", "pos", "pos"], name="train")
    reordered = split_from_lists(TEXTS[::-1], LABELS[::-1], name="train")
    assert content_fingerprint(relabelled) != content_fingerprint(from_lists)
    assert content_fingerprint(reordered) != content_fingerprint(from_lists)


def test_differences_are_named_in_the_config_keys():
    base = _inputs()
    assert input_differences(base, _inputs()) == []
    assert input_differences(base, _inputs(learning_rate=3e-3)) == [
        "train.learning_rate 0.0001 → 0.003"
    ]
    assert input_differences(base, _inputs(seed=1)) == ["seed 0 → 1"]
    assert input_differences(base, _inputs(labels=["pos"] * 3 + ["neg"])) == [
        "other texts or labels in the training examples"
    ]


def test_settings_of_the_execution_alone_may_change():
    base = _inputs()
    changed = _inputs(device="cpu", precision="fp32", oom_retries=9, logging_steps=1)
    assert {"device", "precision", "oom_retries", "logging_steps"} <= EXECUTION_ONLY
    assert input_differences(base, changed) == []


def test_resume_with_other_settings_is_one_line_naming_them_and_the_way_on(tmp_path: Path):
    ckpt = tmp_path / "run" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / RUN_INPUTS).write_text(json.dumps(_inputs()), encoding="utf-8")
    check_run_inputs(ckpt, _inputs())  # the same: resumes
    with pytest.raises(ConfigError) as e:
        check_run_inputs(ckpt, _inputs(seed=3, learning_rate=3e-3))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{ckpt.parent}: ")
    assert "seed 0 → 3" in msg and "train.learning_rate 0.0001 → 0.003" in msg
    assert "--overwrite" in msg and RUN_INPUTS in msg


def test_a_folder_from_before_the_record_resumes_as_before(tmp_path: Path):
    check_run_inputs(tmp_path, _inputs(seed=5))  # no run-inputs.json: nothing to compare
