"""The option groups the commands share: the config keys they set, and their errors."""

from __future__ import annotations

import pytest

from textclf.cli._common import Columns, Measurement, export_hint, flag_name, folder_lines
from textclf.errors import TextclfError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_resamples": 50}, "--n-resamples 50: input should be greater than or equal to 100."),
        ({"ci_method": "bcaa"}, "--ci-method bcaa: input should be 'percentile' or 'bca'."),
        ({"confidence": 1.5}, "--confidence 1.5: input should be less than 1."),
        ({"seed": -1}, "--seed -1: must be from 0 to 2^31-1."),
    ],
)
def test_a_bad_measurement_option_is_named_as_typed(options: dict, message: str):
    with pytest.raises(TextclfError) as info:
        Measurement(**options).kwargs()
    assert str(info.value) == message


def test_the_column_options_set_the_data_keys_train_reads():
    flags = Columns(text_column="body", label_columns="a, b", id_column="ticket").flags()
    assert flags["data.text_column"] == "body"
    assert flags["data.label_columns"] == ["a", "b"]
    assert flags["data.id_column"] == "ticket"
    spec = Columns(id_column="ticket").spec()
    assert spec.id_column == "ticket"
    assert flag_name("data.id_column") == "--id-column"


@pytest.mark.parametrize(
    ("flags", "overrides", "named"),
    [
        ({"train.learning_rate": -1.0}, [], "--learning-rate -1.0 is invalid"),
        (
            {"train.learning_rate": None},
            ["train.learning_rate=abc"],
            "setting 'train.learning_rate'",
        ),
        (
            {"train.learning_rate": 1e-4},
            ["train.learning_rate=abc"],
            "setting 'train.learning_rate'",
        ),
    ],
)
def test_a_bad_value_is_named_as_it_was_typed(flags: dict, overrides: list, named: str):
    from textclf.cli._common import ConfigOptions

    with pytest.raises(TextclfError) as info:
        ConfigOptions(overrides=overrides).build(flags)
    assert named in str(info.value)


def test_every_config_key_tune_sets_is_named_by_an_option_tune_has():
    import typer.main

    from textclf.cli import app

    command = typer.main.get_command(app).commands["tune"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts}
    for key in ("tune.trials", "tune.timeout_s", "tune.storage", "tune.study", "train.epochs"):
        assert flag_name(key) in options, key


def test_ctrl_c_in_train_says_how_to_continue(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import textclf.experiment
    from textclf.cli import app
    from textclf.training.checkpoints import mark_complete

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(textclf.experiment, "run_experiment", interrupted)
    out = tmp_path / "run"
    args = ["train", "--train", "t.csv", "--output", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 130
    assert first.stderr.endswith(
        "\ninterrupted: no checkpoint was complete yet, so it starts from the beginning; run "
        "the same command with --resume to continue.\n"
    )
    done = out / "checkpoints" / "checkpoint-45"
    done.mkdir(parents=True)
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt", "model.safetensors"):
        (done / name).write_text("x")
    mark_complete(done)
    (out / "checkpoints" / "checkpoint-90").mkdir()  # never finished: not the one kept
    second = CliRunner().invoke(app, args)
    assert "interrupted: its last complete checkpoint (checkpoint-45) is kept" in second.stderr


def test_sigterm_stops_a_command_as_ctrl_c_does_and_the_handler_is_restored():
    import os
    import signal

    import typer

    from textclf.cli._common import run

    cleaned: list[str] = []

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not stop the body")
        finally:
            cleaned.append("finally ran")

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(typer.Exit) as e:
        run(body, interrupted=lambda: "interrupted: resume with --resume")
    assert e.value.exit_code == 143 and cleaned == ["finally ran"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_summary_suggests_an_onnx_export_only_for_a_folder_without_one(tmp_path):
    model = tmp_path / "run"
    (model / "eval").mkdir(parents=True)
    lines = folder_lines(model)
    assert f"Predict:      textclf predict --model {model} --input FILE --output OUT.jsonl" in lines
    [hint] = [line for line in lines if line.startswith("Faster start:")]
    assert f"textclf export --model {model}" in hint
    (model / "onnx").mkdir()
    assert export_hint(model, "x") == []
    assert not [line for line in folder_lines(model) if "export" in line]
