"""Login: scrypt/PBKDF2 hashes checked against reference values, and users from files or env."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from textclf.auth import (
    LoginThrottle,
    authenticate,
    check_hash_format,
    hash_password,
    load_reviewers,
    load_users,
    verify_password,
)
from textclf.errors import ConfigError

CHEAP = {"n": 2**4, "r": 8, "p": 1}  # fast hashes for tests; the format is the same


def test_hash_and_verify():
    encoded = hash_password("correct horse", **CHEAP)
    assert encoded.startswith("scrypt$16$8$1$")
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("", encoded)
    # A fresh random salt each time.
    assert hash_password("correct horse", **CHEAP) != encoded


def test_default_cost_follows_owasp():
    encoded = hash_password("pw")
    assert encoded.split("$")[1:4] == ["32768", "8", "3"]
    assert verify_password("pw", encoded)


def test_scrypt_known_answer_rfc7914():
    # RFC 7914 section 12, second test vector.
    key = bytes.fromhex(
        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
        "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
    )
    encoded = "scrypt$1024$8$16${}${}".format(
        base64.b64encode(b"NaCl").decode(), base64.b64encode(key).decode()
    )
    assert verify_password("password", encoded)
    assert not verify_password("Password", encoded)


def test_pbkdf2_django_format_against_hashlib():
    key = hashlib.pbkdf2_hmac("sha256", b"letmein", b"seasalt", 1000)
    encoded = f"pbkdf2_sha256$1000$seasalt${base64.b64encode(key).decode()}"
    assert verify_password("letmein", encoded)
    assert not verify_password("letmeout", encoded)


@pytest.mark.parametrize("bad", ["", "plain-password", "scrypt$3$8$1$AA==$AA==", "md5$x$y"])
def test_malformed_hashes_never_match(bad: str):
    assert not verify_password("anything", bad)
    with pytest.raises(ValueError):
        check_hash_format(bad)


def test_empty_password_is_refused():
    with pytest.raises(ConfigError, match="empty"):
        hash_password("")


def test_authenticate():
    users = {"ann": hash_password("s3cret", **CHEAP)}
    assert authenticate(users, "ann", "s3cret")
    assert authenticate(users, "  ann ", "s3cret")
    assert not authenticate(users, "ann", "wrong")
    assert not authenticate(users, "bob", "s3cret")


def test_users_from_toml_both_forms(tmp_path: Path):
    ann, bob = hash_password("a", **CHEAP), hash_password("b", **CHEAP)
    path = tmp_path / "users.toml"
    path.write_text(f'[users]\nann = "{ann}"\n\n[users.bob]\npassword_hash = "{bob}"\n')
    users = load_users(path, environ={})
    assert users == {"ann": ann, "bob": bob}
    assert authenticate(users, "bob", "b")


def test_reviewers_from_the_file_role_and_the_environment(tmp_path: Path):
    ann, bob, cy = (hash_password(x, **CHEAP) for x in ("a", "b", "c"))
    path = tmp_path / "users.toml"
    path.write_text(
        f'[users]\nann = "{ann}"\n\n[users.bob]\npassword_hash = "{bob}"\nrole = "reviewer"\n'
        f'\n[users.cy]\npassword_hash = "{cy}"\nrole = "user"\n'
    )
    users = load_users(path, environ={})
    assert set(users) == {"ann", "bob", "cy"}
    assert load_reviewers(users, path, environ={}) == {"bob"}
    env = {"TEXTCLF_APP_REVIEWERS": "ann, cy"}
    assert load_reviewers(users, path, environ=env) == {"ann", "bob", "cy"}
    with pytest.raises(ConfigError, match=r"TEXTCLF_APP_REVIEWERS: 'dan' is not a user"):
        load_reviewers(users, path, environ={"TEXTCLF_APP_REVIEWERS": "dan"})
    path.write_text(f'[users.bob]\npassword_hash = "{bob}"\nrole = "admin"\n')
    with pytest.raises(ConfigError, match=r"users\.toml: user 'bob' has the unknown role 'admin'"):
        load_users(path, environ={})


def test_users_from_yaml_json_and_env_which_wins(tmp_path: Path):
    ann, ann2, cy = (hash_password(x, **CHEAP) for x in ("a", "a2", "c"))
    (tmp_path / "u.yaml").write_text(f"users:\n  ann: '{ann}'\n")
    (tmp_path / "u.json").write_text(json.dumps({"users": {"ann": ann}}))
    assert load_users(tmp_path / "u.yaml", environ={}) == {"ann": ann}
    assert load_users(tmp_path / "u.json", environ={}) == {"ann": ann}
    env = {
        "TEXTCLF_APP_AUTH_FILE": str(tmp_path / "u.yaml"),
        "TEXTCLF_APP_USERS": f"ann:{ann2}, cy:{cy}",
    }
    users = load_users(environ=env)
    assert users == {"ann": ann2, "cy": cy}
    assert load_users(environ={}) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[users]\nann = "hunter2"\n', r"user 'ann': the password hash is invalid"),
        ("[users]\n", "no \\[users\\] table"),
        ("[people]\nann = 1\n", "no \\[users\\] table"),
        ("[users\n", "cannot be parsed as TOML"),
        ("[users]\nann = 5\n", "user 'ann' has no password hash"),
    ],
)
def test_bad_users_files_name_the_problem(tmp_path: Path, content: str, message: str):
    path = tmp_path / "users.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_users(path, environ={})
    assert "users.toml" in str(info.value)


def test_missing_file_and_bad_env(tmp_path: Path):
    with pytest.raises(ConfigError, match="users file not found"):
        load_users(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match=r"TEXTCLF_APP_USERS.*name:hash"):
        load_users(environ={"TEXTCLF_APP_USERS": "justaname"})
    with pytest.raises(ConfigError, match="unknown users-file type"):
        (tmp_path / "u.ini").write_text("x")
        load_users(tmp_path / "u.ini", environ={})


def test_throttle_locks_a_name_after_repeated_failures():
    throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=30)
    for t in (0.0, 1.0):
        throttle.failed("ann", now=t)
    assert throttle.retry_after("ann", now=2.0) == 0.0
    throttle.failed(" ann ", now=2.0)
    assert throttle.retry_after("ann", now=3.0) == pytest.approx(29.0)
    assert throttle.retry_after("bob", now=3.0) == 0.0  # other names are not affected
    assert throttle.retry_after("ann", now=33.0) == 0.0  # the lockout ends
    throttle.failed("ann", now=100.0)  # old failures left the window
    assert throttle.retry_after("ann", now=101.0) == 0.0
    throttle.failed("ann", now=101.0)
    throttle.failed("ann", now=102.0)
    assert throttle.retry_after("ann", now=103.0) > 0
    throttle.succeeded("ann")
    assert throttle.retry_after("ann", now=103.0) == 0.0


def test_a_server_open_to_the_network_without_authentication_is_named():
    """Security review: serve --host 0.0.0.0 and app --address 0.0.0.0 started silently
    without keys or users."""
    from textclf.auth import open_to_network

    for local in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert open_to_network(local, "classify texts", "--api-key-file") is None, local
    warning = open_to_network("0.0.0.0", "classify texts", "--api-key-file")
    assert warning is not None and "without authentication" in warning
    assert "--api-key-file" in warning and "\n" not in warning
    assert open_to_network("my-host.example", "x", "--auth USERS_FILE") is not None
