"""The app's settings, read from environment variables, and finding the model folders.

``textclf app`` passes its options to the Streamlit script through these variables (a
Streamlit script has no command line of its own when it is tested or embedded):

==============================  ====================================================
``TEXTCLF_APP_MODELS``          model folders or folders of model folders, separated
                                by ``os.pathsep`` (``:`` on Linux/macOS, ``;`` on Windows)
``TEXTCLF_FEEDBACK_DB``         the feedback database (see :mod:`textclf.feedback`)
``TEXTCLF_APP_AUTH_FILE``       users file; login is required when it or
``TEXTCLF_APP_USERS``           this variable names at least one user (:mod:`textclf.auth`)
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

from textclf.auth import load_users
from textclf.errors import ConfigError
from textclf.feedback import default_db_path

MODELS_ENV = "TEXTCLF_APP_MODELS"
MAX_UPLOAD_MB_ENV = "TEXTCLF_APP_MAX_UPLOAD_MB"
MAX_ROWS_ENV = "TEXTCLF_APP_MAX_ROWS"
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_ROWS = 100_000

# Folders never searched for models: checkpoints hold weights but are not finished models.
_SKIP = {"checkpoints", "eval", ".git", "__pycache__", "node_modules", ".venv"}


def is_model_folder(path: Path, *, strict: bool = True) -> bool:
    """A finished textclf model folder (``textclf.json``); with ``strict=False`` also a
    plain Hugging Face classifier folder (``config.json`` and safetensors weights)."""
    if (path / "textclf.json").is_file():
        return True
    return not strict and (path / "config.json").is_file() and any(path.glob("model*.safetensors"))


def discover_models(paths: Iterable[str | os.PathLike[str]], *, depth: int = 2) -> list[Path]:
    """Model folders among ``paths``: each path itself, or the model folders below it.

    A path given directly may be a plain Hugging Face folder; below a path only folders
    with ``textclf.json`` count (so training checkpoints are not offered).

    Args:
        paths: Folders given by the user.
        depth: How many levels below each path to search.

    Returns:
        Model folders, in the order given, sorted by name below each path; no duplicates.

    Raises:
        ConfigError: a path does not exist, or no model folder is found at all.
    """
    found: list[Path] = []
    given = [Path(p).expanduser() for p in paths]
    for root in given:
        if not root.is_dir():
            raise ConfigError(
                f"{root}: model folder not found; pass the --output folder of 'textclf train'."
            )
        if is_model_folder(root, strict=False):
            found.append(root)
            continue
        level = [root]
        for _ in range(depth):
            children = sorted(
                c
                for d in level
                for c in d.iterdir()
                if c.is_dir() and c.name not in _SKIP and not c.name.startswith(".")
            )
            found += [c for c in children if is_model_folder(c)]
            level = [c for c in children if not is_model_folder(c)]
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        where = ", ".join(str(p) for p in given) or "(none given)"
        raise ConfigError(
            f"no model folder found in {where}; pass a folder made by 'textclf train' with "
            "--model (or in TEXTCLF_APP_MODELS)."
        )
    return unique


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
        max_upload_mb: Largest batch file accepted, in MB.
        max_rows: Most rows predicted from one batch file.
    """

    models: tuple[Path, ...]
    feedback_db: Path
    users: dict[str, str] = field(default_factory=dict)
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_rows: int = DEFAULT_MAX_ROWS

    @property
    def login_required(self) -> bool:
        return bool(self.users)

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
        return cls(
            models=tuple(models),
            feedback_db=default_db_path(env),
            users=load_users(environ=env),
            max_upload_mb=_positive(env, MAX_UPLOAD_MB_ENV, DEFAULT_MAX_UPLOAD_MB),
            max_rows=int(_positive(env, MAX_ROWS_ENV, DEFAULT_MAX_ROWS)),
        )
