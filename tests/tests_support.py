"""Data builders and test doubles shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def binary_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Disjoint train/validation/test frames of a separable two-class problem."""
    words = {"alpha": "apple apricot avocado almond", "beta": "banana blueberry barley basil"}

    def make(start: int, n: int) -> pd.DataFrame:
        rows = []
        for i in range(start, start + n):
            for lab, vocab in words.items():
                w = vocab.split()
                rows.append({"text": f"{w[i % 4]} with {w[(i + 1) % 4]} item {i}", "label": lab})
        return pd.DataFrame(rows)

    return make(0, 12), make(100, 6), make(200, 6)


def held_out_splits(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Train, validation and test parts of ``frame`` with every label in each.

    Within each label value, every third row is held out for test and the second for
    validation. (Striding over the whole frame would hold out one class entirely: its
    rows cycle through the labels.)
    """
    k = frame.groupby("label").cumcount()
    return {
        "train": frame[(k % 3 != 0) & (k != 1)],
        "validation": frame[k == 1],
        "test": frame[k % 3 == 0],
    }


def tiny_run_overrides(
    model_dir: Path, output: Path, train: Path, validation: Path, test: Path
) -> list[str]:
    """Config overrides of a short run of the tiny model on the given files.

    40 steps at a high learning rate learn the fixture data in seconds; 200 resamples
    keep the intervals cheap.
    """
    return [
        f"output_dir={output}",
        f"data.train={train}",
        f"data.validation={validation}",
        f"data.test={test}",
        f"model.name={model_dir}",
        "model.max_length=32",
        "train.max_steps=40",
        "train.batch_size=8",
        "train.learning_rate=3e-3",
        "train.early_stopping_patience=null",
        "eval.n_resamples=200",
    ]


class GatedCalls:
    """A stub model's record of its calls; each call is held while the gate is shut.

    "While the model is busy" is then a state a test waits for (``entered``), never a
    sleep that hopes to be long enough.
    """

    def __init__(self, *, gated: bool = False) -> None:
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.entered = threading.Event()
        self.seen: list[list[str]] = []

    def pass_gate(self, texts: Sequence[str], *, timeout: float) -> None:
        """Record ``texts``, say the call has entered, and wait for the gate to open."""
        self.seen.append(list(texts))
        self.entered.set()
        assert self.gate.wait(timeout), "test gate never opened"


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_module(args: Sequence[str], log: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """``python -m ARGS`` in the background, stdout and stderr appended to ``log``.

    The child keeps its own handle on ``log``; this process closes its one at once.
    """
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, **popen
        )


def wait_until_up(url: str, proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Poll ``url`` until it answers 200 (True), or until ``proc`` exits or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def run_python(code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` in a fresh, offline interpreter (what a new command imports)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )
