"""Passwords in URLs never reach a file, a tracked parameter or a line of output.

A tracking URI may carry a user name and password (``https://user:pass@host``), and so may
a study storage URL (``postgresql://user:pass@db/optuna``). The tracking URI is stripped of
them as soon as it is read (:func:`use_credentials`): MLflow gets them for this process
through ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``, its documented way,
and every record of the run holds the clean URI. A storage URL needs its password to
connect, so it is kept, and masked (:func:`mask_url`) wherever it is written or shown.

Example:
    >>> split_credentials("https://alice:s3cret@mlflow.example:5000/x")
    ('https://mlflow.example:5000/x', 'alice', 's3cret')
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit


def mask_url(url: str) -> str:
    """The URL without its password, for logs and files.

    Example:
        >>> mask_url("postgresql://me:secret@db:5432/optuna")
        'postgresql://me:***@db:5432/optuna'
    """
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``uri`` without its user name and password, and the two (``None`` when absent).

    Only ``http(s)`` URIs are split: MLflow sends such credentials as HTTP basic auth.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return uri, None, None
    host = parts.netloc.rpartition("@")[2]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return urlunsplit(parts._replace(netloc=host)), user, password


def use_credentials(uri: str) -> str:
    """``uri`` without credentials; they are handed to MLflow for this process instead.

    They go to ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (a URI that
    names them explicitly wins over what the environment held), so MLflow still
    authenticates while the config, the tracked parameters, the journal, the model card and
    the console see only the clean URI. A later ``textclf tracking sync`` in another shell
    needs them in those variables.
    """
    clean, user, password = split_credentials(uri)
    if user is not None:
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
    if password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    return clean
