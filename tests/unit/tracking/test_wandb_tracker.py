"""The W&B backend in offline mode: no account, and the run's records are on disk.

The offline run file is W&B's transaction log (LevelDB log format of protobuf records);
it is decoded here to check what was recorded.
"""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb", reason="the 'wandb' extra is not installed")

from textclf.tracking.base import DatasetRecord
from textclf.tracking.wandb import WandbTracker, resolve_mode

_BLOCK = 32768
_HEADER = 7  # W&B's file header: ":W&B", a 2-byte magic, a version byte


def read_wandb_records(path: Path) -> list[Any]:
    """Decode a ``run-<id>.wandb`` file into ``wandb_internal_pb2.Record`` messages.

    W&B's service process may still be appending to the file, so the reading stops at
    the first record that is not whole yet (short payload or checksum mismatch): the
    caller reads again until the exit record is there.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    chunks: list[bytes] = []
    pending = b""
    pos = _HEADER
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # a block tail too short for a header is padding
            pos += left
            continue
        checksum = int.from_bytes(data[pos : pos + 4], "little")
        length = int.from_bytes(data[pos + 4 : pos + 6], "little")
        kind = data[pos + 6]
        payload = data[pos + 7 : pos + 7 + length]
        if len(payload) < length or zlib.crc32(payload, zlib.crc32(bytes([kind]))) != checksum:
            break  # the tail is still being written
        pos += 7 + length
        if kind == 1:  # FULL
            chunks.append(payload)
        elif kind == 2:  # FIRST
            pending = payload
        elif kind == 3:  # MIDDLE
            pending += payload
        elif kind == 4:  # LAST
            chunks.append(pending + payload)
            pending = b""
    records = []
    for chunk in chunks:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "wandb-dir").mkdir()
    return tmp_path


def test_without_credentials_the_mode_is_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert resolve_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode() == "disabled"


def test_offline_run_records_params_metrics_and_artifacts(offline: Path) -> None:
    run_dir = offline / "run"
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "eval" / "metrics.json").write_text('{"task": "binary"}')
    (run_dir / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    (run_dir / "textclf.json").write_text('{"task": "binary"}')

    tracker = WandbTracker("textclf-test", local_dir=run_dir / "tracking")
    assert tracker.mode == "offline"
    tracker.start_run("tiny", tags={"textclf.task": "binary"})
    tracker.log_params({"train": {"learning_rate": 3e-5}, "seed": 7})
    tracker.log_metrics({"train_loss": 0.9}, step=5)
    tracker.log_metrics({"train_loss": 0.5, "val_f1_macro": 0.7}, step=10)
    tracker.log_metrics({"test_f1_macro": 0.8, "test_f1_macro_lower": 0.7})
    tracker.set_tags({"textclf.backbone": "tiny-bert"})
    tracker.log_dataset(
        DatasetRecord("train", "train", "sha256:ab", str(run_dir / "eval" / "metrics.json"), 12)
    )
    tracker.log_artifacts(run_dir / "eval", artifact_path="eval")
    tracker.log_model(run_dir, task="binary")
    info = tracker.end_run()

    assert info.backend == "wandb" and info.uri == "offline" and info.run_id
    assert info.fallback and info.sync_command == f"wandb sync {info.fallback}"
    run_file = Path(info.fallback) / f"run-{info.run_id}.wandb"
    # W&B's service process writes the file; under load it may lag finish() a little.
    deadline = time.monotonic() + 60
    while True:
        records = read_wandb_records(run_file)
        kinds = [r.WhichOneof("record_type") for r in records]
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "run" in kinds and "exit" in kinds, (run_file.stat().st_size, kinds)

    config: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "config":
            config.update({item.key: json.loads(item.value_json) for item in r.config.update})
        if r.WhichOneof("record_type") == "run":
            config.update({item.key: json.loads(item.value_json) for item in r.run.config.update})
    assert config["train.learning_rate"] == "3e-05"
    assert config["seed"] == "7"
    assert config["tags"] == {"textclf.task": "binary", "textclf.backbone": "tiny-bert"}

    history = []
    for r in records:
        if r.WhichOneof("record_type") == "history":
            row = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in r.history.item
            }
            if "train_loss" in row:
                history.append((row["_step"], row["train_loss"]))
    assert history == [(5, 0.9), (10, 0.5)]

    summary: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update({item.key: json.loads(item.value_json) for item in r.summary.update})
    assert summary["test_f1_macro"] == 0.8 and summary["test_f1_macro_lower"] == 0.7

    artifacts = {
        r.artifact.type: r.artifact for r in records if r.WhichOneof("record_type") == "artifact"
    }
    assert set(artifacts) == {"dataset", "evaluation", "model"}
    model_files = {entry.path for entry in artifacts["model"].manifest.contents}
    assert model_files == {"config.json", "textclf.json"}  # eval/ and tracking/ stay out
    assert {entry.path for entry in artifacts["evaluation"].manifest.contents} == {
        "eval/metrics.json"
    }
