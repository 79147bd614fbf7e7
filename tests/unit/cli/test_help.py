"""Every option has help text, and the defaults it states are the config's."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import typer.main

from textclf.cli import app
from textclf.config import ExperimentConfig

COMMAND = typer.main.get_command(app)


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    if hasattr(group, "commands"):  # typer vendors its own click: duck-type the group
        for name, cmd in group.commands.items():
            out += _commands(cmd, f"{prefix} {name}".strip())
    else:
        out.append((prefix, group))
    return out


@pytest.mark.parametrize(("name", "command"), _commands(COMMAND), ids=lambda x: str(x))
def test_every_option_has_help(name: str, command: Any):
    missing = [
        p.opts[0]
        for p in command.params
        if p.opts[0].startswith("-") and not (getattr(p, "help", "") or "").strip()
    ]
    assert not missing, f"textclf {name}: options without help: {missing}"


def test_train_help_states_the_config_defaults():
    cfg = ExperimentConfig()
    expected = {
        "--epochs": cfg.train.epochs,
        "--batch-size": cfg.train.batch_size,
        "--learning-rate": cfg.train.learning_rate,
        "--max-length": cfg.model.max_length,
        "--seed": cfg.seed,
        "--model": cfg.model.name,
        "--task": cfg.data.task,
    }
    train = COMMAND.commands["train"]  # type: ignore[attr-defined]
    helps = {p.opts[0]: getattr(p, "help", "") for p in train.params}
    for flag, value in expected.items():
        stated = re.search(r"\(default: ([^):]+)", helps[flag] or "")
        assert stated, f"{flag} does not state its default"
        assert (
            float(stated.group(1)) == float(value)
            if isinstance(value, int | float)
            else (stated.group(1) == str(value))
        ), f"{flag}: help says {stated.group(1)}, the config says {value}"


def test_explain_steps_default_is_the_reports_and_the_python_apis():
    import inspect

    from textclf.config.schema import IG_STEPS
    from textclf.diagnostics.attributions import explain, explain_many

    (steps,) = [p for p in COMMAND.commands["explain"].params if p.name == "steps"]
    assert steps.default == IG_STEPS == ExperimentConfig().diagnostics.attribution_steps
    for fn in (explain, explain_many):
        assert inspect.signature(fn).parameters["n_steps"].default == IG_STEPS


@pytest.mark.parametrize(("name", "command"), _commands(COMMAND), ids=lambda x: str(x))
def test_descriptions_reflow_to_the_terminal(name: str, command: Any):
    # typer 0.29 kept a docstring's source line breaks after its first paragraph, so a
    # line wrapped at 80 columns left one word on a line of its own ("trial" in tune).
    from typer.testing import CliRunner

    out = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=80).output
    prose = [line.strip() for line in out.split("Usage:", 1)[1].split("╭", 1)[0].splitlines()]
    early = [
        f"{line} / {after}"
        for line, after in itertools.pairwise(prose[1:])
        if line and after and len(line) + 1 + len(after.split()[0]) <= 78
    ]
    assert not early, f"textclf {name} --help: lines broken before the terminal's edge: {early}"


@pytest.mark.parametrize(("name", "command"), _commands(COMMAND), ids=lambda x: str(x))
def test_arguments_of_many_values_show_their_elements_type(name: str, command: Any):
    from typer.testing import CliRunner

    out = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=100).output
    assert "<list[" not in out, out


@pytest.mark.parametrize(("name", "command"), _commands(COMMAND), ids=lambda x: str(x))
def test_options_given_many_times_say_so(name: str, command: Any):
    many = [p for p in command.params if p.opts[0].startswith("-") and p.multiple]
    quiet = [p.opts[0] for p in many if "repeatable" not in (p.help or "")]
    assert not quiet, f"textclf {name}: options that take many values without saying so: {quiet}"
