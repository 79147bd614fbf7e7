"""The app's settings, read from environment variables, and finding the model folders.

``textclf app`` passes its options to the Streamlit script through these variables (a
Streamlit script has no command line of its own when it is tested or embedded):

==============================  ====================================================
``TEXTCLF_APP_MODELS``          model folders or folders of model folders, separated
                                by ``os.pathsep`` (``:`` on Linux/macOS, ``;`` on Windows)
``TEXTCLF_FEEDBACK_DB``         the feedback database (see :mod:`textclf.feedback`)
``TEXTCLF_APP_AUTH_FILE``       users file; login is required when it or
``TEXTCLF_APP_USERS``           this variable names at least one user (:mod:`textclf.auth`)
``TEXTCLF_APP_REVIEWERS``       users who see everyone's feedback, not only their own
``TEXTCLF_APP_MAX_UPLOAD_MB``   largest batch file accepted (default 50)
``TEXTCLF_APP_MAX_ROWS``        most rows predicted from one batch file (default 100,000)
==============================  ====================================================

Example:
    >>> settings = AppSettings.from_env({"TEXTCLF_APP_MODELS": "runs/demo"})  # doctest: +SKIP
    >>> settings.models  # doctest: +SKIP
    (PosixPath('runs/demo'),)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from textclf.auth import load_reviewers, load_users
from textclf.errors import ConfigError
from textclf.feedback import default_db_path
from textclf.persistence import discover_models

MODELS_ENV = "TEXTCLF_APP_MODELS"
MAX_UPLOAD_MB_ENV = "TEXTCLF_APP_MAX_UPLOAD_MB"
MAX_ROWS_ENV = "TEXTCLF_APP_MAX_ROWS"
EXAMPLES_ENV = "TEXTCLF_APP_EXAMPLES"
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_ROWS = 100_000


def model_names(models: Iterable[Path]) -> dict[Path, str]:
    """Short display names: the folder name, with its parent when two folders share it."""
    models = list(models)
    names = {m: m.name for m in models}
    clashes = {n for n in names.values() if list(names.values()).count(n) > 1}
    for m in models:
        if m.name in clashes:
            names[m] = f"{m.parent.name}/{m.name}"
    return names


def _positive(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ConfigError(f"${key}={raw!r} is not a number; set it to a positive number.") from e
    if value <= 0:
        raise ConfigError(f"${key}={raw!r} must be positive.")
    return value


@dataclass(frozen=True)
class AppSettings:
    """Everything the app is told from outside.

    Attributes:
        models: Model folders found (at least one).
        feedback_db: The feedback database file.
        users: User name → password hash; empty means no login.
        reviewers: Users who see and export everyone's feedback (the others: their own).
        max_upload_mb: Largest batch file accepted, in MB.
        max_rows: Most rows predicted from one batch file.
        examples: Offer an Example button with texts from the model's test split (the
            data's own texts, which every user of the app then sees; off by default).
    """

    models: tuple[Path, ...]
    feedback_db: Path
    users: dict[str, str] = field(default_factory=dict)
    reviewers: frozenset[str] = frozenset()
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_rows: int = DEFAULT_MAX_ROWS
    examples: bool = False

    @property
    def login_required(self) -> bool:
        return bool(self.users)

    def sees_all_feedback(self, user: str | None) -> bool:
        """Whether ``user`` may see everyone's verdicts (and the texts in them): anyone
        without login, a reviewer with it."""
        return not self.login_required or user in self.reviewers

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        """Read the settings (see the module docstring).

        Raises:
            ConfigError: no models, a bad number, or a bad users file, with the fix.
        """
        env = os.environ if environ is None else environ
        raw = env.get(MODELS_ENV, "").strip()
        if not raw:
            raise ConfigError(
                f"no model given; start the app with 'textclf app --model DIR' (or set "
                f"${MODELS_ENV} to a model folder)."
            )
        models = discover_models([p for p in raw.split(os.pathsep) if p.strip()])
        users = load_users(environ=env)
        return cls(
            models=tuple(models),
            feedback_db=default_db_path(env),
            users=users,
            reviewers=load_reviewers(users, environ=env),
            max_upload_mb=_positive(env, MAX_UPLOAD_MB_ENV, DEFAULT_MAX_UPLOAD_MB),
            max_rows=int(_positive(env, MAX_ROWS_ENV, DEFAULT_MAX_ROWS)),
            examples=env.get(EXAMPLES_ENV, "") == "1",
        )
