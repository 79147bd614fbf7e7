"""The local fallback journal: durable appends, torn tails, progress per tracking URI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textclf.errors import TrackingError
from textclf.tracking.journal import JOURNAL_FILE, Journal, find_journals


def _journal(tmp_path: Path, **header: object) -> Journal:
    return Journal.create(tmp_path / "run" / "tracking", {"experiment": "e", **header})


def test_records_are_numbered_in_order_and_read_back(tmp_path: Path) -> None:
    journal = _journal(tmp_path, run_name="r")
    journal.append("params", params={"a": "1"})
    journal.append("metrics", metrics={"loss": 0.5}, step=3)
    records = list(journal.entries())
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert [r["op"] for r in records] == ["start", "params", "metrics"]
    assert records[2]["metrics"] == {"loss": 0.5} and records[2]["step"] == 3
    assert [r["seq"] for r in journal.entries(after=1)] == [2]
    assert journal.header["run_name"] == "r"
    assert journal.run_dir == tmp_path / "run"
    assert journal.last_seq == 2


def test_reopened_journal_continues_numbering(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.append("tags", tags={"a": "b"})
    again = Journal(journal.folder)
    assert again.id == journal.id
    assert again.append("end", status="FINISHED")["seq"] == 2


def test_a_torn_last_line_is_skipped_and_cut_off(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.append("params", params={"a": "1"})
    with open(journal.path, "a", encoding="utf-8") as f:
        f.write('{"seq": 2, "time": 1, "op": "metr')  # a crash mid-write
    assert [r["seq"] for r in journal.entries()] == [0, 1]
    again = Journal(journal.folder)
    record = again.append("metrics", metrics={"x": 1.0}, step=1)
    assert record["seq"] == 2
    lines = journal.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1, 2]


def test_progress_is_kept_per_tracking_uri(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    for i in range(3):
        journal.append("metrics", metrics={"x": float(i)}, step=i)
    assert journal.progress("http://a") == (None, -1)
    assert journal.pending("http://a") == 4  # the run itself (seq 0) is not created yet
    journal.set_progress("http://a", "run-a", 2)
    assert journal.progress("http://a") == ("run-a", 2)
    assert journal.pending("http://a") == 1
    assert journal.pending("http://b") == 4


def test_a_folder_without_a_journal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="no tracking journal"):
        Journal(tmp_path)
    (tmp_path / JOURNAL_FILE).write_text('{"seq": 0, "time": 1, "op": "params"}\n')
    with pytest.raises(TrackingError, match="not a textclf tracking journal"):
        Journal(tmp_path)


def test_find_journals_lists_parents_before_children(tmp_path: Path) -> None:
    root = tmp_path / "study" / "tracking"
    child = Journal.create(root, {"experiment": "e", "parent": {"journal_id": "p"}})
    parent = Journal.create(root, {"experiment": "e", "parent": None})
    found = find_journals(tmp_path / "study")
    assert [j.id for j in found] == [parent.id, child.id]
    assert [j.id for j in find_journals(child.path)] == [child.id]


def test_find_journals_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="not found"):
        find_journals(tmp_path / "missing")
    with pytest.raises(TrackingError, match="no tracking records here"):
        find_journals(tmp_path)


def test_a_wandb_offline_run_is_pointed_to_wandb_sync(tmp_path: Path) -> None:
    from textclf.errors import TrackingError

    (tmp_path / "run" / "tracking" / "wandb" / "offline-run-20261128_0625-abc").mkdir(parents=True)
    with pytest.raises(TrackingError, match=r"W&B offline.*wandb sync .*offline-run-20261128"):
        find_journals(tmp_path / "run")
    (tmp_path / "plain").mkdir()
    with pytest.raises(TrackingError, match="nothing to sync"):
        find_journals(tmp_path / "plain")
