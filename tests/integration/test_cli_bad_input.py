"""Bad input through the real CLI: one "error:" line naming the file, exit code 2, nothing written.

Every malformed file here fails while the data is read or checked, before any model is
loaded or trained, so these tests are fast even though they go through ``textclf train``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from textclf import __version__
from textclf.cli import app

_CLI_ENV = ("DATASETS_VERBOSITY", "TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS")
_CLI_LOGGERS = ("datasets", "transformers", "urllib3", "filelock", "fsspec", "httpx")


@pytest.fixture(autouse=True)
def _restore_cli_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI callback sets env defaults and logger levels for its process; undo them."""
    for key in _CLI_ENV:
        monkeypatch.delenv(key, raising=False)  # restored to the outer value afterwards
    levels = {name: logging.getLogger(name).level for name in _CLI_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _good_csv(path: Path) -> Path:
    rows = "".join(f"good text number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(12))
    path.write_text("text,label\n" + rows, encoding="utf-8")
    return path


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _assert_one_clean_error(result: Result, *, names: str, where: str | None = None) -> str:
    """Exit 2, one "error:" line that names ``names`` (and ``where``), no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert names in line
    if where is not None:
        assert re.search(rf"\b{where}\b", line), line
    assert "Traceback" not in result.stderr + result.stdout
    return line


# name → (file content, what the error line must say about the place)
BAD_FILES: dict[str, tuple[bytes, str | None]] = {
    "broken.jsonl": (
        b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", "label": \n',
        "line 3",
    ),
    "no_label_column.csv": (b"text,category_name\na,x\nb,y\nc,x\n", None),
    "all_empty_texts.csv": (b"text,label\n ,x\n\t,y\n   ,x\n,y\n", None),
    "missing_label.csv": (b"text,label\na,x\nb,y\nc,\nd,x\ne,y\n", "row 3"),
    "single_class.csv": (b"text,label\na,x\nb,x\nc,x\nd,x\n", None),
    "garbage.csv": (bytes(range(256)) * 4 + b"\x00\x00\xff\xfe", None),
    "empty.csv": (b"", None),
    "too_many_fields.csv": (b"text,label\na,x\nb,y\nc,x,surplus\nd,y\n", "line 4"),
    "latin1.csv": ("text,label\nok,x\ncafé crème,y\n".encode("latin-1"), None),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_train_on_a_bad_file(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, name: str
) -> None:
    content, where = BAD_FILES[name]
    data = tmp_path / name
    data.write_bytes(content)
    out = tmp_path / "out"
    args = ["train", "--train", str(data), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    _assert_one_clean_error(result, names=name, where=where)
    assert not out.exists()


def test_train_on_a_path_that_does_not_exist(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(tmp_path / "nowhere.csv"), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    line = _assert_one_clean_error(result, names="nowhere.csv")
    assert "not found" in line
    assert not out.exists()


def test_unknown_config_key(runner: CliRunner, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(_good_csv(tmp_path / "train.csv")), "--output", str(out)]
    args += ["--model", str(tiny_model_dir), "--max-steps", "1", "--set", "train.no_such_key=1"]
    result = runner.invoke(app, args)
    _assert_one_clean_error(result, names="'train.no_such_key'")
    assert not out.exists()


def test_unknown_model_folder(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(_good_csv(tmp_path / "train.csv")), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", "/nonexistent/folder", "--max-steps", "1"])
    line = _assert_one_clean_error(result, names="/nonexistent/folder")
    assert "not found" in line
    assert not out.exists()


def test_real_entry_point_prints_only_the_error_line(tmp_path: Path) -> None:
    # A separate process: the real stderr, logging set up by the CLI, the real exit code.
    exe = Path(sys.executable).parent / "textclf"
    if not exe.is_file():
        pytest.skip(f"console script not installed at {exe}")
    data = tmp_path / "too_many_fields.csv"
    data.write_bytes(BAD_FILES["too_many_fields.csv"][0])
    env = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    env.pop("DATASETS_VERBOSITY", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(exe), "train", "--train", str(data), "--output", str(out), "--max-steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {data} line 4: expected 2 fields, found 3; quote the text field or fix "
        "the commas on that line."
    ]
    assert proc.stdout == ""
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# data validate
# ---------------------------------------------------------------------------------------


def test_data_validate_good_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "validate", str(_good_csv(tmp_path / "train.csv"))])
    assert result.exit_code == 0, result.stderr
    assert "Task: binary; 2 labels: neg, pos" in result.stdout
    assert "0 error(s), 0 warning(s)." in result.stdout
    assert _error_lines(result.stderr) == []


def test_data_validate_fatal_finding(runner: CliRunner, tmp_path: Path) -> None:
    train = _good_csv(tmp_path / "train.csv")
    test = tmp_path / "test.csv"
    test.write_text("text,label\nfresh one,pos\nfresh two,maybe\n", encoding="utf-8")
    json_report = tmp_path / "report.json"
    args = ["data", "validate", str(train), str(test), "--json", str(json_report)]
    result = runner.invoke(app, args)
    _assert_one_clean_error(result, names="test.csv", where="row 2")
    # The report is printed and written before the run stops.
    assert "1 error(s)" in result.stdout
    assert '"unseen_label"' in json_report.read_text(encoding="utf-8")


def test_data_validate_unreadable_file(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "single.csv"
    data.write_bytes(BAD_FILES["single_class.csv"][0])
    result = runner.invoke(app, ["data", "validate", str(data)])
    _assert_one_clean_error(result, names="single.csv")


# ---------------------------------------------------------------------------------------
# --version and --help
# ---------------------------------------------------------------------------------------


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"textclf {__version__}"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ([], "train"),
        (["train"], "--train"),
        (["predict"], "--input"),
        (["data"], "validate"),
        (["data", "validate"], "--label-column"),
        (["data", "synth"], "--task"),
        (["demo"], "--epochs"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_help(runner: CliRunner, command: list[str], option: str) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    assert option in result.stdout
