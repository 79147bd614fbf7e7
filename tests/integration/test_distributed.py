"""Multi-process training with torchrun (the Trainer's DDP) on the CPU, gloo backend.

Two processes train one model; rank 0 alone writes the folder, tracks and evaluates. The
result must be the same folder contract as single-process training.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests_support import free_port

pytestmark = pytest.mark.slow


def test_two_process_ddp_writes_a_complete_model_folder(
    tmp_path: Path, multiclass_csv: Path, tiny_model_dir: Path
):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "run"
    # TMPDIR: torchrun's agent leaves a torchelastic_* directory there at each run.
    env = {
        **os.environ,
        "TEXTCLF_TRACKING": "off",
        "OMP_NUM_THREADS": "1",
        "TMPDIR": str(tmp_path),
    }
    cmd = [
        torchrun,
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "textclf",
        "train",
        "--train",
        str(multiclass_csv),
        "--output",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--max-steps",
        "12",
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--set",
        "split.min_examples_per_class=2",
        "--set",
        "train.early_stopping_patience=null",
        "--set",
        "diagnostics.projections=[pca]",
        "--set",
        "eval.n_resamples=100",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # One summary (from rank 0), and the batch size is said to be per device.
    assert done.stdout.count("Model folder:") == 1, done.stdout
    assert "batch size 4 is per device, 8 texts per optimizer step" in done.stderr
    for name in ("textclf.json", "model.safetensors", "config.json", "README.md"):
        assert (out / name).is_file(), name
    for name in ("metrics.json", "predictions.jsonl", "report.html"):
        assert (out / "eval" / name).is_file(), name
    info = json.loads((out / "textclf.json").read_text())
    assert info["training"]["global_step"] == 12
    assert json.loads((out / ".textclf-run.json").read_text())["status"] == "finished"
    assert not (out / "checkpoints").exists()
