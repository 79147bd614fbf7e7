"""Crash-safe resume: a run SIGKILLed at every stage finishes with ``--resume``.

The kill is forced by a fail point (``TEXTCLF_FAIL_AT``, see ``textclf.faults``), not by
timing, so each case dies at exactly the same place on every machine. After each kill,
``--resume`` must finish with a complete model folder and no traceback, and the resumed
model must predict what an uninterrupted run of the same config predicts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STEPS = 30

# (fail point, which occurrence): mid-step between checkpoints, inside the 2nd checkpoint
# save, inside the 2nd evaluation, and the three stages after training.
CASES = [
    ("train_step", 15),
    ("checkpoint_save", 2),
    ("evaluation", 2),
    ("assess", 1),
    ("final_save", 1),
    ("report", 1),
]


def _train(data: Path, out: Path, model: Path, *extra: str, fail_at: str | None = None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TEXTCLF_FAIL_AT", None)
    if fail_at:
        env["TEXTCLF_FAIL_AT"] = fail_at
    cmd = [
        sys.executable,
        "-m",
        "textclf.cli",
        "train",
        "--train",
        str(data),
        "--output",
        str(out),
        "--model",
        str(model),
        "--max-steps",
        str(STEPS),
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--learning-rate",
        "3e-3",
        "--set",
        "train.eval_strategy=steps",
        "--set",
        "train.eval_steps=10",
        "--set",
        "train.early_stopping_patience=null",
        "--set",
        "split.min_examples_per_class=2",
        "--set",
        "eval.n_resamples=100",
        "--set",
        "diagnostics.projections=[pca]",
        "--set",
        "diagnostics.attribution_examples=1",
        "--set",
        "diagnostics.attribution_steps=4",
        *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def _predictions(run: Path) -> dict[int, dict]:
    lines = (run / "eval" / "predictions.jsonl").read_text().splitlines()
    return {rec["row"]: rec for rec in map(json.loads, lines)}


def _assert_complete(run: Path) -> None:
    for name in ("textclf.json", "model.safetensors", "config.json", "README.md"):
        assert (run / name).is_file(), f"{name} missing"
    for name in ("metrics.json", "predictions.jsonl", "report.html", "log_history.json"):
        assert (run / "eval" / name).is_file(), f"eval/{name} missing"
    assert not (run / "checkpoints").exists(), "checkpoints are removed once the run finishes"
    assert json.loads((run / ".textclf-run.json").read_text())["status"] == "finished"
    assert not list(run.glob(".saving-*"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir: Path) -> tuple[Path, Path]:
    from conftest import _texts_for

    root = tmp_path_factory.mktemp("chaos")
    data = root / "train.csv"
    _texts_for("multiclass").to_csv(data, index=False)
    run = root / "reference"
    done = _train(data, run, tiny_model_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    return data, run


def _kill_then_resume(point: str, nth: int, data: Path, run: Path, model: Path):
    killed = _train(data, run, model, fail_at=f"{point}:{nth}")
    state = (run / ".textclf-run.json").read_text()
    resumed = _train(data, run, model, "--resume") if killed.returncode < 0 else None
    return killed, state, resumed


def test_kill_anywhere_then_resume_finishes_with_the_same_model(
    reference: tuple[Path, Path], tmp_path: Path, tiny_model_dir: Path
):
    data, ref_run = reference
    ref = _predictions(ref_run)
    ref_info = json.loads((ref_run / "textclf.json").read_text())
    # Two cases at a time: most of each is Python start-up, which uses one core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            point: pool.submit(
                _kill_then_resume, point, nth, data, tmp_path / point, tiny_model_dir
            )
            for point, nth in CASES
        }
    for point, future in futures.items():
        killed, state_after_kill, resumed = future.result()
        run = tmp_path / point
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-2000:])
        assert json.loads(state_after_kill)["status"] == "running", point
        assert resumed is not None
        assert resumed.returncode == 0, (point, resumed.stderr[-3000:])
        assert "Traceback" not in resumed.stderr, (point, resumed.stderr[-3000:])
        _assert_complete(run)
        info = json.loads((run / "textclf.json").read_text())
        assert info["training"]["global_step"] == STEPS, point
        if point in ("assess", "final_save", "report"):
            # Training had finished: the resumed run must not train again.
            assert "using" in resumed.stderr and "trained" in resumed.stderr, point
            assert "Resuming from" not in resumed.stderr, point
        elif point == "train_step":
            # Continued from checkpoint-10, not restarted: the log still holds the early steps.
            history = json.loads((run / "eval" / "log_history.json").read_text())
            assert min(h["step"] for h in history if "loss" in h) <= 10
            assert "checkpoint-10" in resumed.stderr.split("Resuming from", 1)[1].split("\n")[0]
        elif point == "checkpoint_save":
            # The checkpoint being written when the run died is never chosen.
            assert "is incomplete" in resumed.stderr, resumed.stderr[-2000:]
            assert "checkpoint-10" in resumed.stderr.split("Resuming from", 1)[1].split("\n")[0]
        got = _predictions(run)
        assert got.keys() == ref.keys()
        for row, rec in got.items():
            assert rec["label"] == ref[row]["label"], (point, row)
            for label, p in rec["scores"].items():
                assert abs(p - ref[row]["scores"][label]) < 1e-4, (point, row, label)
        assert info["decision_rule"]["temperature"] == pytest.approx(
            ref_info["decision_rule"]["temperature"], abs=1e-4
        )
        # How the model was initialised survives the kill (the card and textclf.json say it).
        untimed = [re.sub(r"\([\d.]+ s\)", "", n) for n in ref_info["training"]["notes"]]
        assert [re.sub(r"\([\d.]+ s\)", "", n) for n in info["training"]["notes"]] == untimed
        assert any("warm-started" in n for n in untimed), "the reference run notes its warm start"


def test_sigterm_stops_like_ctrl_c_says_how_to_go_on_and_resumes_the_same_model(
    reference: tuple[Path, Path], tmp_path: Path, tiny_model_dir: Path
):
    """A scheduler's time limit or a container stop sends SIGTERM. Python's default ended
    the process at once: no resume line, no cleanup, the tracked run left RUNNING."""
    data, ref_run = reference
    ref = _predictions(ref_run)
    for point, nth, kept in (
        ("train_step", 15, "its last complete checkpoint (checkpoint-10) is kept"),
        ("assess", 1, "training had finished and is kept"),
    ):
        run = tmp_path / point
        stopped = _train(data, run, tiny_model_dir, fail_at=f"{point}:{nth}:TERM")
        assert stopped.returncode == 143, (point, stopped.stderr[-2000:])
        last = stopped.stderr.rstrip().splitlines()[-1]
        assert last.startswith(f"interrupted: {kept}"), (point, stopped.stderr[-2000:])
        assert last.endswith("run the same command with --resume to continue.") or last.endswith(
            "run the same command with --resume to finish the run."
        )
        assert "Traceback" not in stopped.stderr
        resumed = _train(data, run, tiny_model_dir, "--resume")
        assert resumed.returncode == 0, (point, resumed.stderr[-3000:])
        _assert_complete(run)
        got = _predictions(run)
        assert {r: g["label"] for r, g in got.items()} == {r: g["label"] for r, g in ref.items()}


def test_resume_on_a_finished_run_changes_nothing(
    reference: tuple[Path, Path], tiny_model_dir: Path
):
    data, run = reference
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    again = _train(data, run, tiny_model_dir, "--resume")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already finished" in again.stdout
    # Without a flag it is refused, naming the one flag that does something to it.
    plain = _train(data, run, tiny_model_dir)
    assert plain.returncode == 2
    assert "holds a finished run" in plain.stderr and "--resume" not in plain.stderr
    after = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    assert after == before
