"""Checkpoint completeness: only marked, intact checkpoints are resumed from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textclf.training.checkpoints import (
    INCOMPLETE,
    MARKER,
    CompleteCheckpointCallback,
    checkpoint_problem,
    checkpoint_record,
    latest_complete_checkpoint,
    mark_complete,
    trained_snapshot,
)


def _checkpoint(root: Path, step: int, *, complete: bool = True) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w" * 64)
    (folder / "optimizer.pt").write_bytes(b"o" * 32)
    (folder / "scheduler.pt").write_bytes(b"s" * 8)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if complete:
        mark_complete(folder)
    return folder


def test_a_marked_checkpoint_is_complete(tmp_path: Path):
    assert checkpoint_problem(_checkpoint(tmp_path, 10)) is None


def test_an_unmarked_checkpoint_is_not(tmp_path: Path):
    problem = checkpoint_problem(_checkpoint(tmp_path, 10, complete=False))
    assert problem is not None and "stopped while saving" in problem


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda f: (f / "optimizer.pt").unlink(), "optimizer.pt is missing"),
        (lambda f: (f / "model.safetensors").write_bytes(b"w"), "model.safetensors has 1 bytes"),
        (lambda f: (f / MARKER).write_text("{"), "unreadable"),
    ],
)
def test_damage_after_the_marker_is_caught(tmp_path: Path, damage, expected: str):
    folder = _checkpoint(tmp_path, 10)
    damage(folder)
    problem = checkpoint_problem(folder)
    assert problem is not None and expected in problem


def test_a_marker_without_the_trainer_files_is_refused(tmp_path: Path):
    folder = tmp_path / "checkpoint-5"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"w")
    mark_complete(folder)
    assert "was never written" in (checkpoint_problem(folder) or "")


def test_latest_complete_skips_and_moves_aside_newer_incomplete_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 20)
    _checkpoint(tmp_path, 100, complete=False)  # numerically last, but half-written
    assert latest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-20"
    assert not (tmp_path / "checkpoint-100").exists()
    assert (tmp_path / INCOMPLETE / "checkpoint-100").is_dir()
    assert "checkpoint-100 is incomplete" in caplog.text
    # A second incomplete checkpoint of the same name does not overwrite the first.
    _checkpoint(tmp_path, 100, complete=False)
    latest_complete_checkpoint(tmp_path)
    assert (tmp_path / INCOMPLETE / "checkpoint-100.2").is_dir()


def test_no_complete_checkpoint_gives_none(tmp_path: Path):
    assert latest_complete_checkpoint(tmp_path / "absent") is None
    _checkpoint(tmp_path, 10, complete=False)
    assert latest_complete_checkpoint(tmp_path) is None


def test_a_trained_snapshot_counts_only_when_complete(tmp_path: Path):
    snap = tmp_path / "trained"
    snap.mkdir()
    (snap / "model.safetensors").write_bytes(b"w")
    assert trained_snapshot(tmp_path) is None  # unmarked: moved aside
    assert (tmp_path / INCOMPLETE / "trained").is_dir()
    snap.mkdir()
    (snap / "model.safetensors").write_bytes(b"w")
    (snap / "train_record.json").write_text("{}")
    mark_complete(snap)
    assert trained_snapshot(tmp_path) == snap


def test_the_marker_keeps_the_notes_and_seconds_a_resumed_run_continues_from(tmp_path: Path):
    from types import SimpleNamespace

    folder = _checkpoint(tmp_path, 10, complete=False)
    notes = ["head warm-started"]
    callback = CompleteCheckpointCallback(notes, seconds_before=100.0)
    notes.append("a later note")  # the callback reads the run's list at each save
    args = SimpleNamespace(output_dir=str(tmp_path))
    state = SimpleNamespace(is_world_process_zero=True, global_step=10)
    callback.on_save(args, state, None)  # type: ignore[arg-type]
    assert checkpoint_problem(folder) is None
    kept, seconds = checkpoint_record(folder)
    assert kept == ["head warm-started", "a later note"] and 100.0 <= seconds < 160.0
    assert checkpoint_record(_checkpoint(tmp_path, 20)) == ([], 0.0)  # an older marker
