"""Exception types whose messages tell the user how to fix the problem.

Every message is one sentence that names the file, the row or line where there is one,
and the fix. The CLI prints ``str(error)`` and exits with code 2; a traceback appears
only with ``--debug``.
"""

from __future__ import annotations


class TextclfError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(TextclfError):
    """The configuration (YAML file, flags or ``--set`` overrides) is invalid."""


class DataError(TextclfError):
    """An input file cannot be read or holds data that cannot be trained on."""


class ModelLoadError(TextclfError):
    """A model folder or checkpoint name cannot be loaded."""


class MissingExtraError(TextclfError):
    """An optional dependency is missing; the message names the extra to install."""


class TrackingError(TextclfError):
    """The experiment tracker cannot be used (unreachable server, bad credentials, bad records)."""


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
