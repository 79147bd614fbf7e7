"""Train the network behind ``TextClassifier.fit``: resume what can be resumed, restart a
degenerate run, and refuse to resume a run with other settings or data than it began with.

A run's checkpoint folder (``RUN/checkpoints``) records what the run learns from in
``run-inputs.json`` when it starts: the seed, the model and training settings, the labels
and a fingerprint of the training and validation examples. ``--resume`` (``resume=True``)
compares the new call with it before loading anything. Without that check, a resumed run
silently mixed two runs: a changed learning rate was recorded but not applied (the
optimizer and scheduler come from the checkpoint), another training file was trained on
from the checkpoint's step onward, and another seed re-carved the splits, so most of the
"test" rows had been trained on. Settings that change how a run executes but not what it
learns (:data:`EXECUTION_ONLY`) may differ.

Example:
    >>> net, result = train_network(job, output_dir="runs/x", resume=True, callbacks=[],
    ...                             splits={"train": train})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textclf.atomic import write_text_atomic
from textclf.config import ModelConfig, TrainConfig
from textclf.data.io import Split
from textclf.data.labels import LabelSpace
from textclf.data.prepare import content_fingerprint
from textclf.errors import ConfigError
from textclf.training.checkpoints import (
    latest_complete_checkpoint,
    read_train_record,
    save_trained,
    trained_snapshot,
)

logger = logging.getLogger(__name__)

#: The record of what a run learns from, in its checkpoint folder.
RUN_INPUTS = "run-inputs.json"

#: Training settings that change how a run executes, not what it learns: ``--resume`` may
#: change them (another device or precision, more OOM retries, quieter logs).
EXECUTION_ONLY = frozenset(
    {
        "device",
        "precision",
        "oom_retries",
        "eval_batch_size",
        "logging_steps",
        "keep_checkpoints",
        "max_restarts",
    }
)

_DATA_NAMES = {"train": "the training examples", "validation": "the validation examples"}


@dataclass(frozen=True)
class TrainingJob:
    """What one training needs: the backbone, the seed, the label space, the tokenized splits
    and the validated settings."""

    backbone: str
    seed: int
    space: LabelSpace
    tokenizer: Any
    train: Any
    validation: Any | None
    train_config: TrainConfig
    model_config: ModelConfig


def run_inputs(job: TrainingJob, splits: Mapping[str, Split | None]) -> dict[str, Any]:
    """What the run learns from, as ``run-inputs.json`` records it."""
    return {
        "seed": job.seed,
        "model": {"name": job.backbone, **job.model_config.model_dump(mode="json")},
        "train": job.train_config.model_dump(mode="json", exclude=set(EXECUTION_ONLY)),
        "task": job.space.task,
        "labels": list(job.space.labels),
        "data": {
            name: content_fingerprint(split) if split is not None and len(split) else None
            for name, split in splits.items()
        },
    }


def _flat(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def input_differences(recorded: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """How ``given`` differs from ``recorded``, a phrase a difference, in the config's keys.

    Example:
        >>> input_differences({"seed": 0, "train": {"learning_rate": 1e-4}},
        ...                   {"seed": 1, "train": {"learning_rate": 1e-4}})
        ['seed 0 → 1']
    """
    old, new = _flat(recorded), _flat(given)
    out: list[str] = []
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key.startswith("data."):
            out.append(f"other texts or labels in {_DATA_NAMES.get(key[5:], key[5:])}")
        elif key == "labels":
            out.append(f"other labels ({len(before or [])} → {len(after or [])})")
        elif key == "model.name":
            out.append(f"model {before} → {after}")
        else:
            out.append(f"{key} {before} → {after}")
    return out


def check_run_inputs(ckpt_dir: Path, given: Mapping[str, Any]) -> None:
    """Refuse to resume the checkpoints in ``ckpt_dir`` with other settings or data.

    A folder without a record (written before it was kept) is resumed as before.

    Raises:
        ConfigError: one line naming the first differences and the two ways on.
    """
    try:
        recorded = json.loads((ckpt_dir / RUN_INPUTS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.info("%s has no record of its settings; resuming without comparing them.", ckpt_dir)
        return
    diffs = input_differences(recorded, given)
    if not diffs:
        return
    shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
    raise ConfigError(
        f"{ckpt_dir.parent}: its checkpoints were trained with other settings or data than "
        f"given now ({shown}); resume with what the run started with (recorded in "
        f"{ckpt_dir / RUN_INPUTS}), or start afresh with --overwrite (resume=False in Python)."
    )


def _has_progress(ckpt_dir: Path) -> bool:
    """Whether ``ckpt_dir`` holds anything ``--resume`` would continue from."""
    return (
        trained_snapshot(ckpt_dir, move_aside=False) is not None
        or latest_complete_checkpoint(ckpt_dir, move_aside=False) is not None
    )


def train_network(
    job: TrainingJob,
    *,
    output_dir: str | os.PathLike[str] | None,
    resume: bool,
    callbacks: Sequence[Any],
    splits: Mapping[str, Split | None],
) -> tuple[Any, Any]:
    """Train (or pick up a finished or interrupted training) and return the network and record.

    Args:
        job: The backbone, seed, labels, tokenized splits and settings.
        output_dir: The run folder, whose ``checkpoints/`` the Trainer writes; ``None``
            trains in a temporary folder, deleted afterwards.
        resume: Continue from the last complete checkpoint, or reuse a finished training.
        callbacks: Extra Trainer callbacks.
        splits: The untokenized ``train`` and ``validation`` splits, fingerprinted for
            ``run-inputs.json``.

    Raises:
        ConfigError: ``resume`` with other settings or data than the run began with.
    """
    from textclf.modeling import load_classifier
    from textclf.training.resources import is_main_process
    from textclf.training.trainer import TrainResult

    main = is_main_process()
    if output_dir is None:
        tmp: str | None = tempfile.mkdtemp(prefix="textclf-")
        ckpt_dir = Path(str(tmp))
    else:
        tmp = None
        ckpt_dir = Path(output_dir) / "checkpoints"
        resuming = resume and _has_progress(ckpt_dir)
        recorded = (ckpt_dir / RUN_INPUTS).is_file()
        if resuming or main:  # other ranks of a fresh run have nothing to fingerprint for
            given = run_inputs(job, splits)
            if resuming:
                check_run_inputs(ckpt_dir, given)
            if main and not (resuming and recorded):
                write_text_atomic(ckpt_dir / RUN_INPUTS, json.dumps(given, indent=1) + "\n")
    snapshot = trained_snapshot(ckpt_dir, move_aside=main) if resume and tmp is None else None
    try:
        if snapshot is not None:
            # Training had finished before the interruption: reuse it, do not train again.
            logger.info("Training had finished before the run stopped; using %s.", snapshot)
            return load_classifier(snapshot), TrainResult.from_dict(read_train_record(snapshot))
        net, result = _train_with_restarts(
            job, ckpt_dir=ckpt_dir, resume=resume, callbacks=callbacks, main=main
        )
        if tmp is None and main:
            save_trained(ckpt_dir, net, job.tokenizer, result.to_dict())
        return net, result
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _train_with_restarts(
    job: TrainingJob,
    *,
    ckpt_dir: Path,
    resume: bool,
    callbacks: Sequence[Any],
    main: bool,
) -> tuple[Any, Any]:
    """Train; when the run degenerates (stuck at the prior), restart it with a remedy.

    The remedy of each restart (measured in ``bench/robustness.py``): another seed, a
    head warm-started from a probe of the frozen features, half the learning rate.
    The attempt is recorded in ``checkpoints/attempt.json``, so ``--resume`` continues
    the attempt that was running, with its settings.
    """
    from transformers import set_seed

    from textclf.modeling import build_model
    from textclf.training.trainer import train_model

    train_cfg, model_cfg = job.train_config, job.model_config
    attempt_file = ckpt_dir / "attempt.json"
    attempt, seed, cfg = 0, job.seed, train_cfg
    notes: list[str] = []
    if resume and attempt_file.is_file():
        saved = json.loads(attempt_file.read_text(encoding="utf-8"))
        attempt, seed, notes = saved["attempt"], saved["seed"], saved["notes"]
        cfg = train_cfg.model_copy(update=saved["update"])
    attention_dropout = model_cfg.attention_dropout_for(len(job.train))
    if model_cfg.attention_dropout == "auto" and attention_dropout == 0.0:
        logger.info(
            "Attention dropout off for %d training texts (model.attention_dropout: auto; "
            "small data trains better and faster without it).",
            len(job.train),
        )
    while True:
        set_seed(seed)
        net = build_model(
            job.backbone,
            job.space,
            revision=model_cfg.revision,
            pooling=model_cfg.pooling,
            attention_dropout=attention_dropout,
        )
        result = train_model(
            net,
            job.tokenizer,
            job.space,
            job.train,
            job.validation,
            cfg,
            output_dir=ckpt_dir,
            seed=seed,
            resume=resume,
            callbacks=callbacks,
        )
        if result.degenerate is None or attempt >= train_cfg.max_restarts:
            break
        attempt += 1
        seed = job.seed + attempt
        update = {"learning_rate": cfg.learning_rate / 2, "head_init": "probe"}
        cfg = cfg.model_copy(update=update)
        note = (
            f"run {attempt} degenerated ({result.degenerate}); restarted with seed {seed}, "
            f"learning rate {cfg.learning_rate:g} and a probed head"
        )
        logger.warning("Training: %s.", note)
        notes.append(note)
        resume = False
        if main:
            for old in ckpt_dir.glob("checkpoint-*"):
                shutil.rmtree(old, ignore_errors=True)
            write_text_atomic(
                attempt_file,
                json.dumps({"attempt": attempt, "seed": seed, "notes": notes, "update": update}),
            )
    if result.degenerate is not None:
        notes.append(
            f"still degenerate after {attempt} restart(s) ({result.degenerate}); the model "
            "predicts mostly one class: see the report, and add labelled examples"
        )
    result.notes = notes + result.notes
    return net, result
