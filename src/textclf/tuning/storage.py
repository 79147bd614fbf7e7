"""Where a study lives (Optuna storages), and the sampler and pruner that drive it.

``journal:FILE`` (Optuna's journal file, safe for several processes and on NFS),
``sqlite:///FILE``, or a PostgreSQL/MySQL URL for workers on several machines.

Example:
    >>> mask_url("postgresql://me:secret@db:5432/optuna")
    'postgresql://me:***@db:5432/optuna'
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from textclf.config import ExperimentConfig
from textclf.config.secrets import mask_url
from textclf.errors import ConfigError, missing_extra

logger = logging.getLogger(__name__)


def import_optuna() -> Any:
    """The ``optuna`` module, imported on first use.

    Raises:
        MissingExtraError: naming the ``tune`` extra when Optuna is not installed.
    """
    try:
        import optuna
    except ImportError as e:
        raise missing_extra("optuna", "tune") from e
    return optuna


def storage_path(url: str) -> Path | None:
    """The local file behind a ``journal:`` or ``sqlite:///`` storage; ``None`` for a server."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :]).expanduser()
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :]
        return Path(rest) if rest and rest != ":memory:" else None
    return None


def absolute_url(url: str) -> str:
    """``url`` with a local ``journal:`` or ``sqlite:///`` file made absolute.

    The study's records (``study.json``, the search marker, the tracking run) then name a
    file that can be found from any folder, not one relative to where tune was started.

    Example:
        >>> absolute_url("postgresql://db/optuna")
        'postgresql://db/optuna'
    """
    path = storage_path(url)
    scheme = "journal:" if url.startswith("journal:") else "sqlite:///"
    if path is None or path.is_absolute() or not url[len(scheme) :].strip():
        return url
    return f"{scheme}{path.resolve()}"


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``: ``journal:FILE``, ``sqlite:///FILE`` or a database URL.

    Raises:
        ConfigError: for an unknown scheme, a missing database driver or a store that
            does not answer.
    """
    optuna = import_optuna()
    path = storage_path(url)
    if url.startswith("journal:"):
        if path is None or not url[len("journal:") :].strip():
            raise ConfigError(f"--storage {url!r}: give the journal file, e.g. journal:study.log.")
        from optuna.storages.journal import JournalFileBackend

        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    scheme = url.partition("://")[0].split("+")[0]
    if scheme not in ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql"):
        raise ConfigError(
            f"--storage {mask_url(url)!r}: expected sqlite:///FILE, journal:FILE, "
            "postgresql://… or mysql://…."
        )
    engine: dict[str, Any] = {}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several workers write to one SQLite file: wait for its lock instead of failing
        # after SQLite's default 5 s.
        engine = {"connect_args": {"timeout": 60}}
    try:
        return _rdb_storage(optuna, url, engine)
    except ImportError as e:
        raise ConfigError(
            f"--storage {mask_url(url)}: the database driver is not installed ({e.name}); "
            "pip install it (psycopg2-binary for PostgreSQL, PyMySQL for mysql+pymysql://)."
        ) from e
    except Exception as e:  # SQLAlchemy's OperationalError and friends
        raise ConfigError(
            f"--storage {mask_url(url)}: cannot open the study storage "
            f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); check the URL and that "
            "the database answers."
        ) from e


def _rdb_storage(optuna: Any, url: str, engine: dict[str, Any]) -> Any:
    # Workers that start together race to create the schema of a new database (SQLite:
    # "UNIQUE constraint failed: alembic_version"): a local file is opened under a lock,
    # and a server's schema race is retried once, when the winner has created it.
    with _local_lock(url, ".open.lock"):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except Exception as e:
            if "IntegrityError" not in type(e).__name__ and "UNIQUE" not in str(e):
                raise
            time.sleep(2.0)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)


@contextlib.contextmanager
def _local_lock(url: str, suffix: str) -> Iterator[None]:
    """A file lock beside a local storage file; nothing for a database server."""
    path = storage_path(url)
    if path is None:
        yield
        return
    with FileLock(str(path) + suffix):
        yield


@contextlib.contextmanager
def ask_lock(url: str) -> Iterator[None]:
    """Serialise "count the trials, then ask for one" among workers on this machine.

    With the lock, workers that share a local storage never start more trials than
    ``tune.trials``; workers on several machines (a database server) can overshoot by
    one trial each in a race, which the count after asking in :func:`_search` turns into a
    skipped trial.
    """
    with _local_lock(url, ".ask.lock"):
        yield


#: The ``error`` a trial stopped by Ctrl-C records.
INTERRUPTED = "interrupted"
#: The ``error`` of a trial asked for when the study already had its trials (a race).
NOT_RUN = "not run: the study already had its trials"


def stopped_from_outside(trial: Any, state: Any) -> bool:
    """A trial with no outcome: stopped by Ctrl-C, left by a worker that was killed, or
    asked for when the study was already full.

    It does not count toward ``tune.trials``: the search runs another in its place, so a
    study interrupted and continued still gets the trials asked for. A trial that failed
    on its own (an error while training) has an outcome and counts.
    """
    if trial.state != state.FAIL:
        return False
    error = trial.user_attrs.get("error")
    return error in (None, INTERRUPTED, NOT_RUN)


def counted_trials(trials: Any, state: Any) -> int:
    """How many of ``trials`` count toward ``tune.trials`` (see :func:`stopped_from_outside`)."""
    return sum(1 for t in trials if not stopped_from_outside(t, state))


def make_sampler(optuna: Any, config: ExperimentConfig, number: int) -> Any:
    """TPE for the trial about to be asked for (``number`` trials exist so far)."""
    # Seeded per trial number: one worker reproduces its search, and workers that share
    # a study do not draw the same random start-up trials from the same seed.
    return optuna.samplers.TPESampler(
        seed=config.seed + number,
        n_startup_trials=config.tune.sampler_startup_trials,
        constant_liar=True,  # running trials count as bad guesses: workers spread out
    )


def make_pruner(optuna: Any, config: ExperimentConfig) -> Any:
    """The pruner ``tune.pruner`` names; its steps are a trial's evaluation ordinals."""
    tc = config.tune
    if tc.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tc.pruner_startup_trials,
            n_warmup_steps=tc.pruner_warmup_evals + 1,  # steps are evaluation ordinals
        )
    if tc.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, tc.pruner_warmup_evals))
    return optuna.pruners.NopPruner()
