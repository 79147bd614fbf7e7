"""Reading a configuration from the user: YAML files, dotted ``--set`` overrides, and
errors that name the setting, the allowed values and the nearest valid key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from textclf.config.schema import ExperimentConfig
from textclf.errors import ConfigError, did_you_mean


def dotted_keys(data: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config dict (sections and their fields)."""
    keys: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}{k}"
            keys.append(key)
            if isinstance(v, dict) and k not in ("tags",):
                keys += dotted_keys(v, key + ".")
    return keys


def _allowed_values(ctx: dict[str, Any] | None) -> list[str]:
    expected = str((ctx or {}).get("expected", ""))
    return [v.strip().strip("'") for v in expected.replace(" or ", ",").split(",") if v.strip()]


def _setting_path(loc: tuple[Any, ...]) -> list[str]:
    """The setting's dotted parts of a pydantic error location, without union member tags
    (``train.batch_size.constrained-int`` is the setting ``train.batch_size``)."""
    tags = {"int", "float", "str", "bool", "none"}
    return [
        str(p)
        for p in loc
        if isinstance(p, int) or not ("-" in str(p) or "[" in str(p) or str(p) in tags)
    ]


def format_validation_error(
    err: ValidationError,
    source: str,
    flags: dict[str, str] | None = None,
    *,
    known: list[str] | None = None,
    listed_in: str = "configs/default.yaml",
) -> str:
    """One sentence for a pydantic error: the setting (or the flag the user typed for it),
    what is wrong, and the nearest valid key or value.

    Args:
        err: The error.
        source: What held the settings (a file, ``--set``, ``TextClassifier``).
        flags: Dotted key → what the user typed for it (``--task``, ``epochs=``).
        known: The valid keys, for an unknown one (default: every dotted config key).
        listed_in: Where the valid keys are listed, for an unknown one.
    """
    errors = err.errors()
    first = errors[0]
    where = ".".join(_setting_path(first["loc"])) or "(top level)"
    # A union setting (a number or 'auto') fails once per member: say all of them.
    msg = " or ".join(
        dict.fromkeys(
            e["msg"] for e in errors if _setting_path(e["loc"]) == _setting_path(first["loc"])
        )
    )
    if first["type"] == "extra_forbidden":
        if known is None:
            known = dotted_keys(ExperimentConfig().model_dump(mode="json"))
        return (
            f"{source}: unknown setting '{where}'{did_you_mean(where, known)} "
            f"(every setting is listed in {listed_in})."
        )
    flag = (flags or {}).get(where)
    shown = f"{flag} {first.get('input')!r}" if flag else f"{source}: setting '{where}'"
    if first["type"] == "literal_error":
        allowed = _allowed_values(first.get("ctx"))
        hint = did_you_mean(str(first.get("input")), allowed)
        return f"{shown} is not one of {', '.join(allowed)}{hint or '; use one of them.'}"
    return f"{shown} is invalid ({msg}); fix the value and run again."


def config_from_dict(
    data: dict[str, Any], *, source: str = "config", flags: dict[str, str] | None = None
) -> ExperimentConfig:
    """Validate a plain dict into an :class:`ExperimentConfig`.

    Args:
        data: Sections and their settings.
        source: Named in error messages (a file name, ``--set``).
        flags: Dotted key → the command-line option the user typed for it, so an error
            names ``--task`` rather than ``data.task``.

    Raises:
        ConfigError: naming the first bad key (or flag), what is wrong, and the nearest
            valid key or value.
    """
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, flags)) from e


def load_config(path: str | os.PathLike[str]) -> ExperimentConfig:
    """Read and validate a YAML config file.

    Raises:
        ConfigError: if the file is missing, is not YAML, or holds an invalid setting.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found; check the path given to --config.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise ConfigError(f"{p}{where}: not valid YAML; fix the syntax there.") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of sections (data:, model:, train:, …).")
    return config_from_dict(data, source=str(p))


def apply_overrides(
    config: ExperimentConfig, overrides: list[str], *, flags: dict[str, str] | None = None
) -> ExperimentConfig:
    """Apply dotted ``key=value`` overrides, e.g. ``train.learning_rate=3e-5``.

    Values are parsed as YAML scalars, so ``3e-5``, ``true`` and ``[a, b]`` have their
    natural types.

    Args:
        config: The config to start from (not modified).
        overrides: Strings of the form ``section.key=value``.
        flags: Dotted key → the command-line option it came from (named in errors).

    Returns:
        A new, validated config.

    Raises:
        ConfigError: for a malformed override or a value that does not validate.
    """
    data = config.model_dump(mode="json")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.learning_rate=3e-5.")
        node = data
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                known = [k for k in dotted_keys(data) if k.count(".") == i]
                raise ConfigError(
                    f"--set {item!r}: unknown section '{'.'.join(parts[: i + 1])}'"
                    f"{did_you_mean('.'.join(parts[: i + 1]), known)} "
                    "(every setting is listed in configs/default.yaml)."
                )
            node = node[part]
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if value == "" and raw.strip():
            # YAML reads a bare "|" or ">" as an empty block scalar; the user meant the character.
            value = raw.strip()
        # YAML reads "1e-4" as a string (YAML 1.1 needs a dot); pydantic coerces numeric strings.
        node[parts[-1]] = value
    return config_from_dict(data, source="--set", flags=flags)
