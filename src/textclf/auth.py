"""Optional login for the app: users with salted, memory-hard password hashes.

Passwords are never stored, only hashes in a self-describing format, so that the cost
parameters can rise later without breaking stored hashes:

- ``scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>`` (RFC 7914; the default, with
  n=2^15, r=8, p=3: one of OWASP's recommended settings, 32 MiB and ~0.3 s per check);
- ``pbkdf2_sha256$<iterations>$<salt>$<key, base64>`` (Django's format, so existing
  hashes can be reused).

Users come from a TOML, YAML or JSON file (``$TEXTCLF_APP_AUTH_FILE``)::

    [users]
    alice = "scrypt$32768$8$3$…$…"

    [users.bob]                      # the table form also works, and takes a role
    password_hash = "scrypt$…"
    role = "reviewer"

and/or from ``$TEXTCLF_APP_USERS`` as ``name:hash`` pairs separated by commas,
semicolons or newlines. ``textclf app hash-password`` prints a hash for a password.

A user's role is ``user`` (the default) or ``reviewer``. The feedback holds the texts each
user classified; a user sees and exports their own verdicts, a reviewer everyone's
(:func:`load_reviewers`; ``$TEXTCLF_APP_REVIEWERS`` names more, separated by commas).

Example:
    >>> encoded = hash_password("s3cret", n=2**4)
    >>> verify_password("s3cret", encoded), verify_password("wrong", encoded)
    (True, False)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textclf.errors import ConfigError

AUTH_FILE_ENV = "TEXTCLF_APP_AUTH_FILE"
USERS_ENV = "TEXTCLF_APP_USERS"
REVIEWERS_ENV = "TEXTCLF_APP_REVIEWERS"
ROLES = ("user", "reviewer")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
_SCRYPT_MAXMEM = 512 * 1024 * 1024  # scrypt needs 128·n·r·p bytes; the default cap is 32 MiB
_KEY_BYTES = 32
_USERNAME = re.compile(r"[^\s:,;]+")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """Hash a password with scrypt and a random 16-byte salt.

    Args:
        password: The password (UTF-8 encoded before hashing).
        n, r, p: scrypt cost parameters (``n`` a power of two); the defaults follow OWASP.

    Returns:
        ``scrypt$n$r$p$salt$key``.

    Raises:
        ConfigError: an empty password or invalid parameters.
    """
    if not password:
        raise ConfigError("the password is empty; choose a non-empty password.")
    if n < 2 or n & (n - 1):
        raise ConfigError(f"scrypt n={n} must be a power of two above 1.")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=_KEY_BYTES
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[str, list[str]]:
    parts = encoded.strip().split("$")
    algorithm = parts[0]
    if algorithm == "scrypt" and len(parts) == 6:
        return algorithm, parts[1:]
    if algorithm == "pbkdf2_sha256" and len(parts) == 4:
        return algorithm, parts[1:]
    raise ValueError("not a scrypt$n$r$p$salt$key or pbkdf2_sha256$iterations$salt$key hash")


def check_hash_format(encoded: str) -> None:
    """Raise ``ValueError`` when ``encoded`` is not a hash :func:`verify_password` reads."""
    algorithm, fields = _parse(encoded)
    try:
        if algorithm == "scrypt":
            n, r, p = (int(x) for x in fields[:3])
            if n < 2 or n & (n - 1) or r < 1 or p < 1:
                raise ValueError("scrypt parameters out of range")
            base64.b64decode(fields[3], validate=True)
            base64.b64decode(fields[4], validate=True)
        else:
            if int(fields[0]) < 1:
                raise ValueError("pbkdf2 iterations must be positive")
            base64.b64decode(fields[2], validate=True)
    except binascii.Error as e:
        raise ValueError(f"bad base64 ({e})") from e


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; compares in constant time.

    A malformed hash never matches (it is reported when the users are loaded).
    """
    try:
        algorithm, fields = _parse(encoded)
        if algorithm == "scrypt":
            n, r, p = (int(x) for x in fields[:3])
            salt, expected = base64.b64decode(fields[3]), base64.b64decode(fields[4])
            key = hashlib.scrypt(
                password.encode("utf-8"),
                salt=salt,
                n=n,
                r=r,
                p=p,
                maxmem=_SCRYPT_MAXMEM,
                dklen=len(expected),
            )
        else:
            iterations, salt_text = int(fields[0]), fields[1]
            expected = base64.b64decode(fields[2])
            key = hashlib.pbkdf2_hmac(
                "sha256", password.encode("utf-8"), salt_text.encode("utf-8"), iterations
            )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(key, expected)


# A fixed hash checked for unknown users, so a wrong name costs as long as a wrong password
# and response times do not reveal which user names exist.
_DUMMY_HASH = "scrypt$32768$8$3$AAAAAAAAAAAAAAAAAAAAAA==$" + _b64(bytes(_KEY_BYTES))


def authenticate(users: Mapping[str, str], username: str, password: str) -> bool:
    """Whether ``username`` is a known user and ``password`` is theirs.

    Args:
        users: User name → password hash (see :func:`load_users`).
        username: As typed (surrounding spaces ignored).
        password: As typed.
    """
    encoded = users.get(username.strip())
    if encoded is None:
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, encoded)


class LoginThrottle:
    """Refuses logins for a user name after repeated failures, for a while.

    A browser session is cheap to replace, so the count is kept per user name for the
    whole process (one instance shared by every session), not per session.

    Args:
        max_failures: Failures within ``window_s`` that lock the name.
        window_s: Seconds over which failures are counted.
        lockout_s: Seconds the name stays locked.

    Example:
        >>> throttle = LoginThrottle(max_failures=2, window_s=60, lockout_s=30)
        >>> throttle.failed("ann", now=0.0); throttle.failed("ann", now=1.0)
        >>> throttle.retry_after("ann", now=2.0)
        29.0
    """

    def __init__(
        self, *, max_failures: int = 5, window_s: float = 300.0, lockout_s: float = 60.0
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, *, now: float | None = None) -> float:
        """Seconds until ``username`` may try again (0 when it may now)."""
        t = time.monotonic() if now is None else now
        with self._lock:
            recent = [f for f in self._failures.get(username.strip(), []) if t - f < self.window_s]
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[-1] + self.lockout_s - t)

    def failed(self, username: str, *, now: float | None = None) -> None:
        """Count a failed login."""
        t = time.monotonic() if now is None else now
        with self._lock:
            kept = [f for f in self._failures.get(username.strip(), []) if t - f < self.window_s]
            self._failures[username.strip()] = [*kept, t][-self.max_failures :]

    def succeeded(self, username: str) -> None:
        """Forget the failures of a user who logged in."""
        with self._lock:
            self._failures.pop(username.strip(), None)


def _read_config(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(
            f"{path}: users file not found; check --auth or ${AUTH_FILE_ENV}, or create it "
            "with a [users] table (see 'textclf app hash-password')."
        )
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        if suffix == ".json":
            return json.loads(text)
    except Exception as e:
        raise ConfigError(f"{path}: cannot be parsed as {suffix[1:].upper()} ({e}); fix it.") from e
    raise ConfigError(f"{path}: unknown users-file type '{suffix}'; use .toml, .yaml or .json.")


def _users_from_mapping(obj: Any, where: str) -> dict[str, str]:
    table = obj.get("users") if isinstance(obj, dict) else None
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f"{where}: no [users] table; add one with 'name = \"<hash>\"' lines "
            "(hashes from 'textclf app hash-password')."
        )
    users: dict[str, str] = {}
    for name, value in table.items():
        encoded = value.get("password_hash") if isinstance(value, dict) else value
        users[str(name)] = _checked(str(name), encoded, where)
        role = value.get("role", "user") if isinstance(value, dict) else "user"
        if role not in ROLES:
            raise ConfigError(
                f"{where}: user {name!r} has the unknown role {role!r}; use "
                + " or ".join(repr(r) for r in ROLES)
                + "."
            )
    return users


def _users_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    file = path if path is not None else env.get(AUTH_FILE_ENV) or None
    return None if file is None else Path(file).expanduser()


def _checked(name: str, encoded: Any, where: str) -> str:
    if not _USERNAME.fullmatch(name):
        raise ConfigError(f"{where}: user name {name!r} must not contain spaces, ':', ',' or ';'.")
    if not isinstance(encoded, str):
        raise ConfigError(
            f"{where}: user {name!r} has no password hash; set it to the output of "
            "'textclf app hash-password'."
        )
    try:
        check_hash_format(encoded)
    except ValueError as e:
        raise ConfigError(
            f"{where}: user {name!r}: the password hash is invalid ({e}); never store a plain "
            "password, use the output of 'textclf app hash-password'."
        ) from e
    return encoded.strip()


def load_users(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Users allowed to log in: from a file and/or the environment (which wins on a clash).

    Args:
        path: TOML/YAML/JSON users file; ``None`` → ``$TEXTCLF_APP_AUTH_FILE`` if set.
        environ: Environment to read (default ``os.environ``).

    Returns:
        User name → password hash; empty when no login is configured.

    Raises:
        ConfigError: a missing or malformed file, or a malformed hash, naming the user.
    """
    env = os.environ if environ is None else environ
    users: dict[str, str] = {}
    p = _users_file(path, env)
    if p is not None:
        users.update(_users_from_mapping(_read_config(p), str(p)))
    spec = env.get(USERS_ENV, "").strip()
    if spec:
        for item in re.split(r"[\s,;]+", spec):
            if not item:
                continue
            name, sep, encoded = item.partition(":")
            if not sep:
                raise ConfigError(
                    f"${USERS_ENV}: entry {item[:20]!r}… is not 'name:hash'; separate name and "
                    "hash with ':' and entries with ','."
                )
            users[name] = _checked(name, encoded, f"${USERS_ENV}")
    return users


def load_reviewers(
    users: Mapping[str, str],
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> frozenset[str]:
    """The users with the ``reviewer`` role: in the users file, or named in
    ``$TEXTCLF_APP_REVIEWERS``.

    Args:
        users: The users :func:`load_users` loaded from the same ``path`` and ``environ``.
        path, environ: As in :func:`load_users`.

    Raises:
        ConfigError: a reviewer who is not a user, naming them.

    Example:
        >>> load_reviewers({"ann": "…"}, environ={"TEXTCLF_APP_REVIEWERS": "ann"})
        frozenset({'ann'})
    """
    env = os.environ if environ is None else environ
    names: set[str] = set()
    p = _users_file(path, env)
    if p is not None:
        obj = _read_config(p)
        _users_from_mapping(obj, str(p))  # load_users's checks: a bad file fails in one line
        names |= {
            str(n)
            for n, v in obj["users"].items()
            if isinstance(v, dict) and v.get("role") == "reviewer"
        }
    names |= {n for n in re.split(r"[\s,;]+", env.get(REVIEWERS_ENV, "")) if n}
    unknown = sorted(names - set(users))
    if unknown:
        raise ConfigError(
            f"${REVIEWERS_ENV}: {', '.join(map(repr, unknown))} "
            f"{'is not a user' if len(unknown) == 1 else 'are not users'}; add them to the "
            "users file or remove them from the reviewers."
        )
    return frozenset(names)


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, it may be reached from outside


def open_to_network(host: str, what: str, how: str) -> str | None:
    """The warning for a server on ``host`` that anyone on the network may use, or ``None``
    when it listens on this machine only.

    Args:
        host: The address it binds.
        what: What an unauthenticated client can do there.
        how: The option that turns authentication on.
    """
    if is_loopback(host):
        return None
    return (
        f"listening on {host} without authentication: anyone who can reach it can {what}; "
        f"give {how}, or bind 127.0.0.1 behind a proxy that authenticates."
    )
