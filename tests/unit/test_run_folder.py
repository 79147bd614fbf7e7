"""The run folder: its state, one job at a time, and leftovers of a killed job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textclf.errors import ConfigError
from textclf.run_folder import LOCK, RunFolder


def test_states(tmp_path: Path):
    folder = RunFolder(tmp_path / "run")
    assert folder.state() == "empty"
    with folder.claim():
        assert folder.state() == "empty"  # the lock file alone is not a run
        folder.set_state("running")
        assert folder.state() == "running"
        folder.set_state("finished")
    assert folder.state() == "finished"


def test_a_folder_from_before_the_state_file_is_finished_when_the_model_is_there(tmp_path: Path):
    (tmp_path / "textclf.json").write_text("{}")
    assert RunFolder(tmp_path).state() == "finished"
    (tmp_path / "textclf.json").unlink()
    (tmp_path / "checkpoints").mkdir()
    assert RunFolder(tmp_path).state() == "running"


def test_a_second_job_is_refused_while_the_first_holds_the_folder(tmp_path: Path):
    folder = RunFolder(tmp_path / "run")
    code = (
        "import sys; from pathlib import Path; from textclf.run_folder import RunFolder\n"
        "from textclf.errors import ConfigError\n"
        "try:\n"
        "    with RunFolder(Path(sys.argv[1])).claim(): print('claimed')\n"
        "except ConfigError as e: print(e)\n"
    )
    with folder.claim():
        other = subprocess.run(
            [sys.executable, "-c", code, str(folder.path)], capture_output=True, text=True
        )
        assert "another textclf job is writing to this folder" in other.stdout
        with pytest.raises(ConfigError, match="another textclf job"), folder.claim():
            pass
    # Released (as the kernel releases it when a job dies): the next job gets it.
    again = subprocess.run(
        [sys.executable, "-c", code, str(folder.path)], capture_output=True, text=True
    )
    assert again.stdout.strip() == "claimed"


def test_claim_removes_what_a_killed_job_left_half_written(tmp_path: Path):
    run = tmp_path / "run"
    (run / ".saving-abc").mkdir(parents=True)
    (run / "checkpoints" / ".trained-xyz").mkdir(parents=True)
    (run / "eval").mkdir()
    (run / "eval" / ".metrics.json.123.tmp").write_text("{")
    (run / "eval" / "metrics.json").write_text("{}")
    with RunFolder(run).claim():
        pass
    assert not (run / ".saving-abc").exists()
    assert not (run / "checkpoints" / ".trained-xyz").exists()
    assert not (run / "eval" / ".metrics.json.123.tmp").exists()
    assert (run / "eval" / "metrics.json").is_file()


def test_clear_keeps_only_the_lock(tmp_path: Path):
    folder = RunFolder(tmp_path)
    (tmp_path / "eval").mkdir()
    (tmp_path / "textclf.json").write_text("{}")
    with folder.claim():
        folder.clear()
        assert [p.name for p in tmp_path.iterdir()] == [LOCK]


def test_resume_on_a_finished_run_says_when_the_training_file_differs(tmp_path: Path):
    import json

    from textclf.data.prepare import file_fingerprint
    from textclf.errors import RunFinishedError
    from textclf.experiment import _check_output_dir

    trained, other = tmp_path / "train.csv", tmp_path / "other.csv"
    trained.write_text("text,label\na,x\n")
    other.write_text("text,label\nb,y\n")
    run = tmp_path / "run"
    folder = RunFolder(run)
    with folder.claim():
        folder.set_state("finished")
    sidecar = {"task": "multiclass", "labels": ["x", "y"]}
    sidecar["data"] = {"fingerprints": {"train": file_fingerprint(trained)}}
    (run / "textclf.json").write_text(json.dumps(sidecar))
    with pytest.raises(RunFinishedError) as same:
        _check_output_dir(folder, resume=True, overwrite=False, inputs=[str(trained)])
    assert "other training data" not in str(same.value)
    with pytest.raises(RunFinishedError, match=r"on other training data than .*other\.csv"):
        _check_output_dir(folder, resume=True, overwrite=False, inputs=[str(other)])
