"""Checkpoints that are either complete or ignored, and the trained-model snapshot.

transformers' ``get_last_checkpoint`` takes the highest-numbered ``checkpoint-N`` folder
without checking that it was written completely, so a crash during a save left a run
that ``--resume`` could not recover ("Can't find a valid checkpoint"). Here a checkpoint
counts only once :class:`CompleteCheckpointCallback` has written its marker, after the
Trainer's last file (``trainer_state.json``) and after every file was flushed to disk.
The marker lists each file's size, so a file truncated later is caught too. Anything
else is moved aside into ``checkpoints/incomplete/`` with a one-line warning, never used.

After training, the best model is saved once more as ``checkpoints/trained/`` (written
into a temporary folder, then renamed, so it appears atomically), with the training
record. A run that dies after that point (in the final evaluation, the save or the
report) resumes from the snapshot without training again.

Example:
    >>> latest_complete_checkpoint(Path("runs/x/checkpoints"))  # doctest: +SKIP
    PosixPath('runs/x/checkpoints/checkpoint-40')
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from textclf.atomic import make_temp_dir, write_text_atomic
from textclf.modeling import quiet_transformers

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

MARKER = "textclf-complete.json"
TRAINED = "trained"
INCOMPLETE = "incomplete"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# What the Trainer needs to resume (weights are model.safetensors or shards).
_NEEDED = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def _fsync_folder(folder: Path) -> dict[str, int]:
    """Flush every file in ``folder`` to disk; return their sizes."""
    sizes: dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name == MARKER:
            continue
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        sizes[path.name] = path.stat().st_size
    return sizes


def mark_complete(folder: Path, **extra: Any) -> None:
    """Write ``folder``'s completion marker (file names and sizes), after flushing its files."""
    sizes = _fsync_folder(folder)
    write_text_atomic(folder / MARKER, json.dumps({"files": sizes, **extra}, indent=1) + "\n")


def checkpoint_problem(folder: Path, *, needed: tuple[str, ...] = _NEEDED) -> str | None:
    """Why ``folder`` is not a usable checkpoint, or ``None`` when it is complete.

    Args:
        folder: A ``checkpoint-N`` (or ``trained``) folder.
        needed: Files that must be present besides the weights.
    """
    marker = folder / MARKER
    if not marker.is_file():
        return "it was not finished (the run stopped while saving it)"
    try:
        sizes = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return f"its marker {MARKER} is unreadable"
    for name, size in sizes.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} were written"
    for name in needed:
        if name not in sizes:
            return f"{name} was never written"
    if not any(name.endswith(".safetensors") for name in sizes):
        return "it holds no weights"
    return None


def _step(folder: Path) -> int:
    match = _CHECKPOINT.match(folder.name)
    return int(match.group(1)) if match else -1


def _move_aside(folder: Path, reason: str) -> None:
    aside = folder.parent / INCOMPLETE
    aside.mkdir(exist_ok=True)
    dest = aside / folder.name
    n = 1
    while dest.exists():
        n += 1
        dest = aside / f"{folder.name}.{n}"
    os.replace(folder, dest)
    logger.warning("%s is incomplete (%s): moved aside to %s, not used.", folder, reason, dest)


def latest_complete_checkpoint(root: Path, *, move_aside: bool = True) -> Path | None:
    """The newest complete ``checkpoint-N`` under ``root``; incomplete newer ones are moved aside.

    Args:
        root: The Trainer's output folder (``RUN/checkpoints``).
        move_aside: Move incomplete ones into ``incomplete/`` (only the process that owns
            the folder does; other ranks of a distributed run only skip them).

    Returns:
        The checkpoint folder, or ``None`` when there is no complete one.
    """
    if not root.is_dir():
        return None
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)),
        key=_step,
        reverse=True,
    )
    for folder in folders:
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder
        if move_aside:
            _move_aside(folder, problem)
    return None


class CompleteCheckpointCallback(TrainerCallback):
    """Marks each checkpoint complete once the Trainer has written all of it.

    ``on_save`` runs after ``Trainer._save_checkpoint`` returns, i.e. after the weights,
    the optimizer, the scheduler, the RNG states and ``trainer_state.json`` are written.
    The marker also keeps what a resumed run cannot redo (:func:`checkpoint_record`): the
    run's notes so far (how the model was initialised) and its training seconds.

    Args:
        notes: The run's notes, read at each save (the list may grow).
        seconds_before: Training seconds of earlier processes (a resumed run's).
    """

    def __init__(self, notes: list[str] | None = None, seconds_before: float = 0.0) -> None:
        self.notes = notes if notes is not None else []
        self.seconds_before = seconds_before
        self.started = time.perf_counter()

    def seconds(self) -> float:
        """Training seconds so far, earlier processes included."""
        return self.seconds_before + time.perf_counter() - self.started

    def on_save(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or args.output_dir is None:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            mark_complete(
                folder,
                step=state.global_step,
                notes=list(self.notes),
                train_seconds=round(self.seconds(), 3),
            )


def checkpoint_record(folder: Path) -> tuple[list[str], float]:
    """The notes and training seconds a complete checkpoint's marker kept (``[]``, 0 for a
    checkpoint written before they were kept)."""
    try:
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return [], 0.0
    notes = record.get("notes")
    seconds = record.get("train_seconds")
    return (
        [str(n) for n in notes] if isinstance(notes, list) else [],
        float(seconds) if isinstance(seconds, int | float) else 0.0,
    )


def save_trained(
    root: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    record: dict[str, Any],
) -> Path:
    """Save the trained model and its training record as ``root/trained``, atomically.

    Returns:
        The snapshot folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / TRAINED
    tmp = make_temp_dir(root, f".{TRAINED}-")
    try:
        with quiet_transformers():
            model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_text_atomic(tmp / "train_record.json", json.dumps(record, indent=1) + "\n")
        mark_complete(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def trained_snapshot(root: Path, *, move_aside: bool = True) -> Path | None:
    """``root/trained`` when it holds a complete snapshot, else ``None``."""
    final = root / TRAINED
    if not final.is_dir():
        return None
    problem = checkpoint_problem(final, needed=("train_record.json",))
    if problem is not None:
        if move_aside:
            _move_aside(final, problem)
        return None
    return final


def read_train_record(snapshot: Path) -> dict[str, Any]:
    """The training record saved beside a snapshot's weights."""
    data: dict[str, Any] = json.loads((snapshot / "train_record.json").read_text(encoding="utf-8"))
    return data
