"""Atomic file writes: a temporary file in the target folder, then a rename.

A crash never leaves a half-written model, report or prediction file: readers see the
old file or the new one (``os.replace`` is atomic on POSIX and Windows).

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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)
