"""Exception types whose messages tell the user how to fix the problem.

Every message is one sentence that names the file, the row or line where there is one,
and the fix. The CLI prints ``str(error)`` and exits with code 2; a traceback appears
only with ``--debug``.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence


class TextclfError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(TextclfError):
    """The configuration (YAML file, flags or ``--set`` overrides) is invalid."""


class RunFinishedError(ConfigError):
    """``--resume`` on a run that has already finished: there is nothing to do."""


class DataError(TextclfError):
    """An input file cannot be read or holds data that cannot be trained on."""


class ModelLoadError(TextclfError):
    """A model folder or checkpoint name cannot be loaded."""


class ModelOutputError(TextclfError, ValueError):
    """The model's scores are unusable (NaN or infinite): broken weights or an overflow."""


class MissingExtraError(TextclfError):
    """An optional dependency is missing; the message names the extra to install."""


class OutputLostError(TextclfError):
    """The run's folder changed under it (removed or cleaned), so its result cannot be kept."""


class TrackingError(TextclfError):
    """The experiment tracker cannot be used (unreachable server, bad credentials, bad records)."""


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """``"; did you mean 'X'?"`` for the candidate nearest to a mistyped ``word``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def missing_extra(package: str, extra: str) -> MissingExtraError:
    """Build the error for an optional dependency that is not installed.

    Args:
        package: The importable package that is missing, e.g. ``"mlflow"``.
        extra: The textclf extra that installs it, e.g. ``"tracking"``.

    Returns:
        An exception to raise ``from`` the original ``ImportError``.
    """
    return MissingExtraError(
        f"The optional package '{package}' is not installed; "
        f"install it with: pip install 'textclf[{extra}]'."
    )


_DISK_FULL = ("no space left on device", "disk quota exceeded", "file write failed")
# PyTorch's checkpoint writer reports a short write on a full disk in its own words, with
# no errno (crash review D4: "[enforce fail at inline_container.cc:672] . unexpected pos
# 118848 vs 118740", "basic_ios::clear: iostream error").
_SHORT_WRITE = ("inline_container.cc", "unexpected pos", "basic_ios::clear", "iostream error")


def os_error_message(err: BaseException) -> str | None:
    """One line for a file-system failure anywhere in ``err``'s chain, or ``None``.

    Writers deep in PyTorch or safetensors wrap ``ENOSPC`` in their own exception types,
    so the whole ``__cause__``/``__context__`` chain and the message text are examined.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # A rename names its target second: that is the path the user gave.
        where = getattr(current, "filename2", None) or getattr(current, "filename", None)
        prefix = f"{where}: " if where else ""
        code = getattr(current, "errno", None)
        text = str(current).lower()
        if code in (errno.ENOSPC, errno.EDQUOT) or any(s in text for s in _DISK_FULL):
            return (
                f"{prefix}the disk is full; free some space (or choose another --output) and "
                "run again — a training run continues with --resume."
            )
        if any(s in text for s in _SHORT_WRITE):
            return (
                f"{prefix}PyTorch could not write a file completely, most likely because the "
                "disk is full; free some space (or choose another --output) and run again — "
                "a training run continues with --resume."
            )
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return (
                f"{prefix}cannot write here ({current.strerror if isinstance(current, OSError) else text}); "
                "choose a folder you can write to, or fix its permissions."
            )
        if where and code in _PATH_FIXES:
            return f"{where}: {_PATH_FIXES[code]}"
        current = current.__cause__ or current.__context__
    return None


# Output paths that clash with what is on disk: the user's path, not a bug.
_PATH_FIXES = {
    errno.EEXIST: "a file of that name is in the way of a folder that must be created here; remove it or "
    "choose another --output.",
    errno.EISDIR: "is a folder, where a file must be written; give a file name, or remove the folder.",
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose another --output.",
    errno.ENOENT: "no such file or folder, and it cannot be created there; check the path.",
}
