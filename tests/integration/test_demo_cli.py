"""``textclf demo`` through the CLI, on the tiny fixture model: ``--set`` and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from textclf.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("restore_cli_state")]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--set", "train.lerning_rate=1e-4"], ["train.lerning_rate", "'train.learning_rate'"]),
        (["--epochs", "-1"], ["--epochs", "greater than 0"]),
        (["--n", "0"], ["--n 0: must be a whole number >= 1"]),
        (["--test-n", "0"], ["--test-n 0: must be a whole number >= 1"]),
        (["--task", "binry"], ["--task 'binry': unknown task"]),
    ],
    ids=["mistyped-set", "bad-epochs", "no-reports", "no-test-reports", "bad-task"],
)
def test_a_bad_setting_stops_the_demo_before_anything_is_written(
    runner: CliRunner, tmp_path: Path, args: list[str], named: list[str]
) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "-o", str(out), "--no-track", *args])
    assert result.exit_code == 2, result.output
    assert all(word in result.stderr for word in named), result.stderr
    assert "bug in textclf" not in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_overrides_apply_after_the_demo_settings(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "demo"
    args = ["demo", "-o", str(out), "--n", "48", "--test-n", "24", "--no-track"]
    overrides = [
        f"model.name={tiny_model_dir}",
        "model.max_length=64",  # the demo's own 256 is beyond the tiny model's positions
        "train.max_steps=3",
        "train.min_steps=null",
        "train.freeze_embeddings=true",
        "diagnostics.enabled=false",
    ]
    for item in overrides:
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "model" / "config.yaml").read_text())
    assert saved["model"]["max_length"] == 64
    assert saved["train"]["freeze_embeddings"] is True
    assert saved["train"]["metric_for_best_model"] == "f1_macro"  # the demo's own setting
    info = json.loads((out / "model" / "textclf.json").read_text())
    assert info["training"]["global_step"] == 3
    assert not (out / "model" / "eval" / "report.html").exists()


def test_a_bad_argument_under_debug_shows_the_traceback_and_still_exits_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["--debug", "demo", "-o", str(tmp_path / "d"), "--n", "0"])
    assert result.exit_code == 2, result.output
    assert "Traceback" in result.stderr and "error: --n 0: must be" in result.stderr
