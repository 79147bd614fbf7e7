"""A run killed with SIGKILL mid-training continues from its last checkpoint with --resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TOTAL_STEPS = 300


def _cmd(train: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "textclf.cli",
        "train",
        "--train",
        str(train),
        "--output",
        str(out),
        "--model",
        str(model),
        "--max-steps",
        str(TOTAL_STEPS),
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--set",
        "train.eval_strategy=steps",
        "--set",
        "train.eval_steps=20",
        "--set",
        "train.early_stopping_patience=null",
        "--set",
        "split.min_examples_per_class=2",
        *extra,
    ]


def test_sigkill_then_resume(tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path):
    train = multiclass_csv
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _cmd(train, out, tiny_model_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt_root = out / "checkpoints"
    deadline = time.monotonic() + 240
    killed_after = None
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in ckpt_root.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        if done:
            killed_after = max(int(p.name.split("-")[1]) for p in done)
            time.sleep(0.2)  # let the next steps run, so the kill lands mid-training
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed_after is not None, "training ended before a checkpoint appeared"
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "textclf.json").exists(), "a killed run must not look finished"

    resumed = subprocess.run(
        _cmd(train, out, tiny_model_dir, "--resume"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    match = re.search(r"Resuming from \S*checkpoint-(\d+)", resumed.stderr)
    assert match and int(match.group(1)) >= killed_after
    info = json.loads((out / "textclf.json").read_text())
    assert info["training"]["global_step"] == TOTAL_STEPS
    history = json.loads((out / "eval" / "log_history.json").read_text())
    # The restored history starts before the kill point: the run continued, it did not restart.
    assert min(h["step"] for h in history if "loss" in h) <= killed_after
