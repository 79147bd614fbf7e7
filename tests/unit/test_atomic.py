"""Atomic writes: all or nothing, with the mode a plain open() would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from textclf.atomic import atomic_path, make_temp_dir, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_respect_the_umask(tmp_path: Path, umask_022):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = write_text_atomic(tmp_path / "atomic.txt", "x")
    assert _mode(atomic) == _mode(plain) == 0o644
    os.umask(0o077)
    assert _mode(write_text_atomic(tmp_path / "private.txt", "x")) == 0o600


def test_temporary_folders_respect_the_umask(tmp_path: Path, umask_022):
    assert _mode(make_temp_dir(tmp_path, ".x-")) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    target = write_text_atomic(tmp_path / "f.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_failed_write_names_the_file_not_its_temporary(tmp_path: Path):
    import errno

    target = tmp_path / "state.json"
    with pytest.raises(OSError) as e, atomic_path(target) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert e.value.filename == str(target) and e.value.errno == errno.ENOSPC


def test_a_folder_refusing_the_temporary_is_named_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import errno
    import tempfile

    def refused(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}abc{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(OSError) as e:
        write_text_atomic(tmp_path / "x.json", "x")
    assert e.value.filename == str(tmp_path / "x.json") and e.value.errno == errno.EACCES
