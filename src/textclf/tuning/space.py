"""The search space: dotted config keys with bounds or choices, sampled into configs.

Example:
    >>> [s.name for s in search_space(ExperimentConfig())][:2]
    ['train.learning_rate', 'train.epochs']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from textclf.config import ExperimentConfig, ParamSpec, apply_overrides
from textclf.config.overrides import dotted_keys
from textclf.errors import ConfigError, did_you_mean

logger = logging.getLogger(__name__)

# Sections a search may change. Data, splits and the seed are fixed: trials must be
# compared on the same examples, and searching over seeds only selects noise.
SEARCHABLE_SECTIONS = ("train.", "model.", "eval.")


def search_space(config: ExperimentConfig, *, fixed: Sequence[str] = ()) -> list[ParamSpec]:
    """The parameters to search: ``config.tune.space`` less the keys the user fixed.

    A key given on the command line (``--learning-rate``, ``--set train.x=…``) is fixed
    for every trial, so it leaves the space; with ``train.max_steps`` set, the number of
    epochs no longer matters and leaves it too.

    Args:
        config: The experiment config (its ``tune.space`` is read).
        fixed: Dotted keys fixed by the user.

    Returns:
        The specs to sample, in order.

    Raises:
        ConfigError: for a name that is not a config key, or one outside
            :data:`SEARCHABLE_SECTIONS`, or a name given twice.

    Example:
        >>> cfg = ExperimentConfig()
        >>> [s.name for s in search_space(cfg, fixed=["train.learning_rate"])][:2]
        ['train.epochs', 'train.batch_size']
    """
    data = config.model_dump(mode="json")
    seen: set[str] = set()
    specs: list[ParamSpec] = []
    dropped = set(fixed)
    if config.train.max_steps is not None:
        dropped |= {"train.epochs", "train.min_steps"}
    for spec in config.tune.space:
        if spec.name in seen:
            raise ConfigError(f"tune.space: '{spec.name}' is listed twice; keep one entry.")
        seen.add(spec.name)
        if not spec.name.startswith(SEARCHABLE_SECTIONS):
            raise ConfigError(
                f"tune.space: '{spec.name}' cannot be searched; search keys under "
                f"{', '.join(s.rstrip('.') for s in SEARCHABLE_SECTIONS)} (data, splits and the "
                "seed stay fixed so that trials are compared on the same examples)."
            )
        node: Any = data
        for part in spec.name.split("."):
            if not isinstance(node, dict) or part not in node:
                known = [k for k in dotted_keys(data) if k.startswith(SEARCHABLE_SECTIONS)]
                hint = did_you_mean(spec.name, known) or "; check its spelling against config.yaml."
                raise ConfigError(f"tune.space: '{spec.name}' is not a config setting{hint}")
            node = node[part]
        if spec.name in dropped:
            why = (
                "fixed for every trial"
                if spec.name in fixed
                else "moot with train.max_steps set (it fixes the run's length)"
            )
            logger.info("%s is %s: it is left out of the search.", spec.name, why)
            continue
        _check_values(config, spec)
        specs.append(spec)
    return specs


def _check_values(config: ExperimentConfig, spec: ParamSpec) -> None:
    """Every choice (or both bounds) must be a valid value, before any trial runs.

    Raises:
        ConfigError: naming the setting and the value, e.g. a categorical choice that
            is not one of the setting's values (each trial sampling it would fail).
    """
    if spec.type == "categorical":
        values: list[Any] = list(spec.choices or [])
    else:
        # Both bounds are there: ParamSpec checks low <= high for int and float.
        bounds = [b for b in (spec.low, spec.high) if b is not None]
        values = [int(b) if spec.type == "int" else float(b) for b in bounds]
    for value in values:
        try:
            config_with(config, {spec.name: value})
        except ConfigError as e:
            # "--set: setting 'x' is invalid (why); fix …" or "… is not one of a, b": the why.
            why = str(e).partition(" is ")[2].split("; ")[0].rstrip(".")
            why = why.removeprefix("invalid (").removesuffix(")") or str(e)
            raise ConfigError(
                f"tune.space: {spec.name} = {value!r} is not a valid value ({why}); fix the space."
            ) from None


def default_params(
    config: ExperimentConfig, space: Sequence[ParamSpec], task: str
) -> dict[str, Any]:
    """The config's own values of the searched keys, where the space can express them.

    The search enqueues them as its first trial, so a study can never report a best
    trial below the untuned config on validation. A value outside its parameter's range
    or choices is left out (Optuna samples it), and so is ``auto`` where it cannot be
    resolved to a number.

    Example:
        >>> cfg = ExperimentConfig()
        >>> default_params(cfg, search_space(cfg), "binary")["train.learning_rate"]
        0.0001
    """
    data = config.model_dump(mode="json")
    params: dict[str, Any] = {}
    for spec in space:
        node: Any = data
        for part in spec.name.split("."):
            node = node[part]
        value = node
        if spec.name == "train.head_lr_multiplier" and value == "auto":
            value = config.train.head_lr_multiplier_for(task)
        if spec.type == "categorical":
            if value in (spec.choices or []):
                params[spec.name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if spec.type == "int":
            if float(value) != int(value):
                continue
            value = int(value)
        if float(spec.low or 0) <= value <= float(spec.high or 0):
            params[spec.name] = value
    return params


def suggest(trial: Any, spec: ParamSpec) -> Any:
    """Sample one value of ``spec`` from an Optuna trial (``suggest_float/int/categorical``)."""
    if spec.type == "categorical":
        return trial.suggest_categorical(spec.name, list(spec.choices or []))
    low, high = float(spec.low or 0), float(spec.high or 0)
    if spec.type == "int":
        step = int(spec.step or 1)
        return trial.suggest_int(spec.name, int(low), int(high), step=step, log=spec.log)
    return trial.suggest_float(spec.name, low, high, step=spec.step, log=spec.log)


def config_with(config: ExperimentConfig, params: Mapping[str, Any]) -> ExperimentConfig:
    """``config`` with the sampled ``params`` (dotted key → value) set.

    Raises:
        ConfigError: when a value does not validate (e.g. outside a setting's range).

    Example:
        >>> config_with(ExperimentConfig(), {"train.learning_rate": 3e-5}).train.learning_rate
        3e-05
    """
    return apply_overrides(config, [f"{k}={json.dumps(v)}" for k, v in params.items()])


def trial_base(config: ExperimentConfig, *, tracked: bool) -> ExperimentConfig:
    """What every trial shares: the user's config made fast and kept off the test split.

    No report and no baselines (they describe the final model, not a trial); a test file
    is held out until the best model is chosen (with ``split.test_size=0`` the carved
    validation split is the same one the final evaluation sees); trials log no model.
    """
    overrides = [
        "diagnostics.enabled=false",
        "eval.baselines=[]",
        "tracking.log_model=false",
        "tracking.registered_model=null",
    ]
    if not tracked:
        overrides.append("tracking.enabled=false")
    if config.data.test is not None:
        overrides += ["data.test=null", "split.test_size=0"]
    return apply_overrides(config, overrides)


def describe(params: Mapping[str, Any]) -> str:
    """Sampled values in one short line, e.g. ``learning_rate=3e-05, head_init=probe``."""
    parts = []
    for key, value in params.items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key.partition('.')[2] or key}={shown}")
    return ", ".join(parts) or "(no parameters to search)"
