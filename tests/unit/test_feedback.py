"""The feedback store: durable SQLite rows, concurrent writers, and an export `textclf train` reads."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest

from textclf.config import ExperimentConfig, apply_overrides
from textclf.data.io import ColumnSpec, read_split
from textclf.errors import DataError
from textclf.experiment import prepare_data
from textclf.feedback import (
    SCHEMA_VERSION,
    FeedbackRecord,
    FeedbackStore,
    default_db_path,
    feedback_stats,
    model_fingerprint,
)

LABELS = ["alpha", "beta", "gamma"]


def record(text: str, predicted: list[str], right: list[str], **kw) -> FeedbackRecord:
    task = kw.pop("task", "multiclass")
    labels = kw.pop("model_labels", LABELS)
    scores = {lab: (0.8 if lab in predicted else 0.1) for lab in labels}
    return FeedbackRecord(
        text=text,
        task=task,
        model_labels=labels,
        predicted=predicted,
        scores=scores,
        labels=right,
        model_fingerprint=kw.pop("model_fingerprint", "sha256:" + "ab" * 32),
        **kw,
    )


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "sub" / "feedback.sqlite3")


def test_records_round_trip_with_every_field(store: FeedbackStore):
    first = record("apple pie", ["alpha"], ["alpha"], user="ann", source="text")
    second = record("banana", ["alpha"], ["beta"], comment="it is a banana", model_name="m1")
    assert store.add(first) == 1
    assert store.add(second) == 2
    got = store.records()
    assert [r.id for r in got] == [1, 2]
    assert got[0].verdict == "correct" and got[1].verdict == "corrected"
    assert got[1].comment == "it is a banana" and got[1].model_name == "m1"
    assert got[0].user == "ann" and got[1].user is None
    assert got[1].scores == {"alpha": 0.8, "beta": 0.1, "gamma": 0.1}
    assert got[1].predicted == ["alpha"] and got[1].labels == ["beta"]
    assert got[0].created.endswith("+00:00")
    assert store.count() == 2


def test_schema_version_and_wal_mode(store: FeedbackStore):
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    # Opening again keeps the rows (nothing is re-created).
    store.add(record("kept", ["alpha"], ["alpha"]))
    assert FeedbackStore(store.path).count() == 1


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "new.sqlite3"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(DataError, match="newer textclf"):
        FeedbackStore(path)


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(DataError, match=r"notes\.sqlite3: not a SQLite database"):
        FeedbackStore(path)


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        (record("  ", ["alpha"], ["alpha"]), "empty text"),
        (record("x", ["alpha"], ["delta"]), r"right label\(s\) \['delta'\]"),
        (record("x", ["alpha"], ["alpha", "beta"]), "exactly one right label"),
        (record("x", ["alpha"], ["alpha"], task="regression"), "not one of"),
    ],
)
def test_invalid_records_are_refused_and_not_stored(store: FeedbackStore, rec, message):
    with pytest.raises(DataError, match=message):
        store.add(rec)
    assert store.count() == 0


def test_concurrent_writers_lose_nothing(tmp_path: Path):
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            own = FeedbackStore(path)  # its own connections, like another session or process
            for i in range(20):
                own.add(record(f"text {worker}-{i}", ["alpha"], ["beta"], user=f"u{worker}"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = FeedbackStore(path).records()
    assert len(rows) == 120
    assert len({r.text for r in rows}) == 120
    assert sorted(r.id for r in rows) == list(range(1, 121))


def test_stats_count_the_labels_most_often_corrected():
    recs = [
        record("a", ["alpha"], ["alpha"], user="ann"),
        record("b", ["alpha"], ["beta"], user="ann"),
        record("c", ["alpha"], ["beta"], user="bob"),
        record("d", ["gamma"], ["beta"]),
    ]
    stats = feedback_stats(recs)
    assert (stats.total, stats.correct, stats.corrected) == (4, 1, 3)
    by_label = {c.label: (c.wrongly_predicted, c.missed) for c in stats.labels}
    assert by_label == {"alpha": (2, 0), "beta": (0, 3), "gamma": (1, 0)}
    assert [c.label for c in stats.labels] == ["beta", "alpha", "gamma"]
    assert stats.confusions[0] == ("alpha", "beta", 2)
    assert stats.by_user == {"ann": 2, "bob": 1, "anonymous": 1}


def test_multilabel_stats_count_added_and_removed_labels():
    recs = [
        record("x", ["alpha", "beta"], ["beta", "gamma"], task="multilabel"),
        record("y", [], ["gamma"], task="multilabel"),
    ]
    stats = feedback_stats(recs)
    by_label = {c.label: (c.wrongly_predicted, c.missed) for c in stats.labels}
    assert by_label == {"alpha": (1, 0), "gamma": (0, 2)}
    assert ("(none)", "gamma", 1) in stats.confusions


def _single_label_feedback(store: FeedbackStore, n: int = 10) -> None:
    words = {"alpha": "apple", "beta": "banana", "gamma": "grape"}
    for lab, word in words.items():
        for i in range(n):
            predicted = ["alpha"] if i % 3 == 0 else [lab]
            store.add(record(f"{word} text number {i}", predicted, [lab]))


def test_csv_export_is_a_training_file_textclf_train_reads(store: FeedbackStore, tmp_path: Path):
    _single_label_feedback(store)
    out = tmp_path / "export" / "feedback.csv"
    result = store.export(out)
    assert (result.n_rows, result.task) == (30, "multiclass")
    assert result.n_correct + result.n_corrected == 30
    split = read_split(out, ColumnSpec(), name="train")
    assert len(split) == 30
    assert split.dataset["labels"][0] == ["alpha"]
    assert "--train" in result.train_command()
    # What `textclf train` does before training: read, check, split, label space.
    cfg = apply_overrides(ExperimentConfig(), [f"data.train={out}", f"output_dir={tmp_path}/r"])
    data = prepare_data(cfg)
    assert data.space.task == "multiclass"
    assert data.space.labels == tuple(LABELS)
    assert set(data.splits) == {"train", "validation", "test"}


def test_multilabel_export_csv_and_jsonl_keep_label_lists(store: FeedbackStore, tmp_path: Path):
    store.add(record("a b", ["alpha"], ["alpha", "beta"], task="multilabel"))
    store.add(record("none at all", ["gamma"], [], task="multilabel"))
    store.add(record("g", ["gamma"], ["gamma"], task="multilabel"))
    for suffix in (".csv", ".jsonl"):
        out = tmp_path / f"fb{suffix}"
        result = store.export(out)
        assert result.task == "multilabel" and "--task multilabel" in result.train_command()
        split = read_split(out, ColumnSpec(), name="train")
        assert split.dataset["labels"] == [["alpha", "beta"], [], ["gamma"]]
    first = json.loads((tmp_path / "fb.jsonl").read_text().splitlines()[0])
    assert first["label"] == ["alpha", "beta"] and first["verdict"] == "corrected"


def test_export_keeps_the_newest_verdict_per_text(store: FeedbackStore, tmp_path: Path):
    store.add(record("same text", ["alpha"], ["beta"], user="ann"))
    store.add(record("other", ["alpha"], ["alpha"]))
    store.add(record("same text", ["alpha"], ["gamma"], user="bob"))
    result = store.export(tmp_path / "fb.csv")
    frame = pd.read_csv(tmp_path / "fb.csv")
    assert list(frame["text"]) == ["other", "same text"]
    assert frame.set_index("text").loc["same text", "label"] == "gamma"
    assert frame.set_index("text").loc["same text", "user"] == "bob"
    assert (result.n_rows, result.n_superseded) == (2, 1)


def test_a_withdrawn_correction_is_not_exported_as_corrected(store: FeedbackStore, tmp_path: Path):
    store.add(record("same text", ["alpha"], ["beta"]))  # first: corrected to beta
    store.add(record("same text", ["alpha"], ["alpha"]))  # then: the prediction was right
    store.add(record("wrong", ["alpha"], ["gamma"]))
    result = store.export(tmp_path / "c.csv", include="corrected")
    assert pd.read_csv(tmp_path / "c.csv")["text"].tolist() == ["wrong"]
    assert (result.n_rows, result.n_superseded) == (1, 1)
    result = store.export(tmp_path / "ok.csv", include="correct")
    assert pd.read_csv(tmp_path / "ok.csv")["label"].tolist() == ["alpha"]


def test_export_include_and_filters(store: FeedbackStore, tmp_path: Path):
    store.add(record("ok", ["alpha"], ["alpha"]))
    store.add(record("wrong", ["alpha"], ["beta"], model_fingerprint="sha256:" + "cd" * 32))
    assert store.export(tmp_path / "c.csv", include="corrected").n_rows == 1
    assert pd.read_csv(tmp_path / "c.csv")["text"].tolist() == ["wrong"]
    assert store.export(tmp_path / "f.csv", model_fingerprint="sha256:cdcd").n_rows == 1
    with pytest.raises(DataError, match="include="):
        store.export(tmp_path / "x.csv", include="some")


def test_records_and_export_of_one_user(store: FeedbackStore, tmp_path: Path):
    store.add(record("ann's text", ["alpha"], ["alpha"], user="ann"))
    store.add(record("bob's text", ["alpha"], ["beta"], user="bob"))
    store.add(record("nobody's text", ["beta"], ["beta"]))
    assert [r.text for r in store.records(user="ann")] == ["ann's text"]
    assert store.stats(user="bob").total == 1 and store.stats().total == 3
    assert store.export(tmp_path / "b.csv", user="bob").n_rows == 1
    assert pd.read_csv(tmp_path / "b.csv")["text"].tolist() == ["bob's text"]
    with pytest.raises(DataError, match="user=cy"):
        store.export(tmp_path / "c.csv", user="cy")


def test_export_refuses_mixed_label_sets_until_one_is_chosen(store: FeedbackStore, tmp_path: Path):
    store.add(record("a", ["alpha"], ["alpha"]))
    store.add(record("p", ["pos"], ["neg"], task="binary", model_labels=["neg", "pos"]))
    out = tmp_path / "fb.csv"
    with pytest.raises(DataError, match="different label sets"):
        store.export(out)
    assert not out.exists()
    result = store.export(out, task="binary", labels=["pos", "neg"])
    assert (result.n_rows, result.labels) == (1, ["neg", "pos"])


def test_export_errors_write_nothing(store: FeedbackStore, tmp_path: Path):
    with pytest.raises(DataError, match="no feedback matches"):
        store.export(tmp_path / "empty.csv")
    store.add(record("a", ["alpha"], ["alpha"]))
    with pytest.raises(DataError, match=r"unknown training-file type '\.xlsx'"):
        store.export(tmp_path / "fb.xlsx")
    assert list(tmp_path.glob("*.csv")) == [] and list(tmp_path.glob("*.xlsx")) == []


def test_model_fingerprint_follows_the_files(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "textclf.json").write_text('{"thresholds": 0.5}')
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    first = model_fingerprint(tmp_path)
    assert first.startswith("sha256:") and len(first) == 7 + 64
    assert model_fingerprint(tmp_path) == first
    (tmp_path / "textclf.json").write_text('{"thresholds": 0.7}')  # recalibrated
    assert model_fingerprint(tmp_path) != first
    with pytest.raises(DataError, match=r"no config\.json"):
        model_fingerprint(tmp_path / "missing")


def test_default_db_path_follows_the_environment(tmp_path: Path):
    assert default_db_path({"TEXTCLF_FEEDBACK_DB": str(tmp_path / "x.db")}) == tmp_path / "x.db"
    xdg = default_db_path({"XDG_DATA_HOME": str(tmp_path)})
    assert xdg == tmp_path / "textclf" / "feedback.sqlite3"


def test_a_new_store_is_private_to_its_account(tmp_path: Path):
    """Security review: the store (texts, comments, user names) was created 0644 in a 0755
    folder, readable by every account on the machine."""
    import stat

    from textclf.feedback import FeedbackStore

    old = os.umask(0o022)
    try:
        store = FeedbackStore(tmp_path / "fresh" / "feedback.sqlite3")
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
