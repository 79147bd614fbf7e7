"""errors.os_error_message: file-system failures become one line naming the user's path, not "a bug"."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from textclf.errors import os_error_message


def _raised(action) -> OSError:
    with pytest.raises(OSError) as info:
        action()
    return info.value


def test_an_output_folder_where_a_file_stands(tmp_path: Path) -> None:
    (tmp_path / "afile").touch()
    err = _raised(lambda: (tmp_path / "afile").mkdir())
    assert err.errno == errno.EEXIST
    message = os_error_message(err)
    assert message is not None and message.startswith(f"{tmp_path / 'afile'}: a file of that")


def test_a_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").touch()
    err = _raised(lambda: (tmp_path / "afile" / "rep").mkdir(parents=True))
    message = os_error_message(err)
    assert message is not None and "is a file, not a folder" in message


def test_a_rename_onto_a_folder_names_the_target_not_the_temporary(tmp_path: Path) -> None:
    tmp, target = tmp_path / ".out.jsonl.x.tmp", tmp_path / "out.jsonl"
    tmp.touch()
    target.mkdir()
    (target / "inside").touch()  # a non-empty folder: rename fails on every platform
    err = _raised(lambda: os.replace(tmp, target))
    message = os_error_message(err)
    assert message is not None and message.startswith(f"{target}: ")
    assert ".tmp" not in message


def test_a_wrapped_cause_is_found_and_an_unknown_error_is_left_alone(tmp_path: Path) -> None:
    inner = _raised(lambda: (tmp_path / "missing" / "x").open())
    try:
        raise RuntimeError("writer failed") from inner
    except RuntimeError as outer:
        message = os_error_message(outer)
    assert message is not None and "no such file or folder" in message
    assert os_error_message(ValueError("something else")) is None


@pytest.mark.parametrize(
    "text",
    [
        "[enforce fail at inline_container.cc:672] . unexpected pos 118848 vs 118740",
        "basic_ios::clear: iostream error",
    ],
)
def test_pytorchs_short_write_reads_as_a_full_disk(text: str) -> None:
    """Crash review D4: a checkpoint save on a full tmpfs said 'unexpected RuntimeError …
    This is a bug in textclf', exit 1."""
    message = os_error_message(RuntimeError(text))
    assert message is not None and "most likely because the disk is full" in message
    assert "--resume" in message
