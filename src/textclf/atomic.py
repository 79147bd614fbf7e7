"""Atomic file writes: a temporary file in the target folder, then a rename.

A crash never leaves a half-written model, report or prediction file: readers see the
old file or the new one (``os.replace`` is atomic on POSIX and Windows). ``mkstemp`` and
``mkdtemp`` create private files (0600) and folders (0700); before the rename they get the
mode a plain ``open()`` or ``mkdir`` would have given under the process umask, so another
account or a container user can read the model folder.

Example:
    >>> with atomic_path("predictions.jsonl") as tmp:  # doctest: +SKIP
    ...     frame.to_json(tmp, orient="records", lines=True)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere the only way to read it is to set it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def public_mode(path: str | os.PathLike[str]) -> None:
    """Give a file made by ``mkstemp`` (or a folder made by ``mkdtemp``) the umask's mode."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


def make_temp_dir(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A temporary folder inside ``parent`` (to be renamed into place) with the umask's mode."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    public_mode(tmp)
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    Args:
        path: The final file path. Its parent folder is created if missing.

    Yields:
        A temporary path in the same folder (same file system, so the rename is atomic).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as e:
        raise _naming(e, final) from e
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        public_mode(tmp)
        os.replace(tmp, final)
    except OSError as e:
        if e.filename in (str(tmp), tmp) or e.filename2 in (str(tmp), tmp):
            raise _naming(e, final) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _naming(error: OSError, final: Path) -> OSError:
    """``error`` naming the file the user knows, not its temporary stand-in."""
    return OSError(error.errno, error.strerror, str(final))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)
