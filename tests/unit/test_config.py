from __future__ import annotations

from pathlib import Path

import pytest

from textclf.config import ExperimentConfig, apply_overrides, load_config
from textclf.errors import ConfigError


def test_dotted_overrides_are_typed_and_validated():
    cfg = apply_overrides(
        ExperimentConfig(),
        ["train.learning_rate=3e-5", "model.max_length=64", "data.label_columns=[a, b]", "seed=7"],
    )
    assert cfg.train.learning_rate == pytest.approx(3e-5)
    assert cfg.model.max_length == 64
    assert cfg.data.label_columns == ["a", "b"]
    assert cfg.seed == 7


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.no_such_key=1", "unknown setting 'train.no_such_key'"),
        ("nosection.key=1", "unknown section 'nosection'"),
        ("train.learning_rate=-1", "train.learning_rate"),
        ("train.epochs", "expected key=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, fragment: str):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        apply_overrides(ExperimentConfig(), [override])


def test_yaml_round_trip(tmp_path: Path):
    cfg = apply_overrides(ExperimentConfig(), ["train.epochs=2", "data.train=x.csv"])
    path = cfg.save(tmp_path / "c.yaml")
    assert load_config(path) == cfg


def test_yaml_errors_name_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: [1,\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml line \d+"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'train\.epoch'"):
        load_config(unknown)


def test_steps_strategy_needs_eval_steps():
    with pytest.raises(ConfigError, match="eval_steps"):
        apply_overrides(ExperimentConfig(), ["train.eval_strategy=steps"])


def test_configs_default_yaml_is_generated_from_the_config_model():
    from pathlib import Path

    from textclf.config import default_config_yaml

    path = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"
    assert path.read_text(encoding="utf-8") == default_config_yaml(), (
        "configs/default.yaml is out of date: python -m textclf.config > configs/default.yaml"
    )


def test_configs_default_yaml_loads_as_the_defaults():
    from pathlib import Path

    from textclf.config import ExperimentConfig, load_config

    path = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"
    assert load_config(path) == ExperimentConfig()


def test_errors_name_the_flag_and_suggest_the_nearest_value():
    import pytest

    from textclf.config import ExperimentConfig, apply_overrides
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--task 'binry' is not one of .*did you mean 'binary'"):
        apply_overrides(ExperimentConfig(), ['data.task="binry"'], flags={"data.task": "--task"})
    with pytest.raises(ConfigError, match=r"did you mean 'train\.learning_rate'"):
        apply_overrides(ExperimentConfig(), ["train.learnig_rate=1e-4"])
    with pytest.raises(ConfigError, match="unknown section 'trian'; did you mean 'train'"):
        apply_overrides(ExperimentConfig(), ["trian.epochs=1"])


@pytest.mark.parametrize(
    ("n_train", "processes", "expected"),
    [
        *[(100, 1, 8), (403, 1, 8), (800, 1, 16), (1599, 1, 16), (1600, 1, 32)],
        *[(10_000, 1, 32), (1600, 2, 16), (3200, 2, 32)],  # per device: all processes count
    ],
)
def test_auto_batch_size_keeps_fifty_steps_per_epoch(
    n_train: int, processes: int, expected: int
) -> None:
    train = ExperimentConfig().train
    assert train.batch_size == "auto"
    assert train.batch_size_for(n_train, processes) == expected
    fixed = apply_overrides(ExperimentConfig(), ["train.batch_size=24"]).train
    assert fixed.batch_size_for(n_train, processes) == 24


def test_a_union_setting_names_the_setting_and_both_accepted_forms() -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(ExperimentConfig(), ["train.batch_size=0"])
    message = str(info.value)
    assert "'train.batch_size'" in message and "constrained" not in message
    assert "greater than or equal to 1" in message and "'auto'" in message


@pytest.mark.parametrize(
    ("n_train", "processes", "expected"),
    [(403, 1, 400), (1599, 1, 400), (1600, 1, None), (10_000, 1, None), (3000, 2, 400)],
)
def test_auto_min_steps_floors_only_small_data(
    n_train: int, processes: int, expected: int | None
) -> None:
    train = ExperimentConfig().train
    assert train.min_steps == "auto"
    assert train.min_steps_for(n_train, processes) == expected
    assert (
        apply_overrides(ExperimentConfig(), ["train.min_steps=null"]).train.min_steps_for(
            n_train, processes
        )
        is None
    )
    assert (
        apply_overrides(ExperimentConfig(), ["train.min_steps=50"]).train.min_steps_for(
            n_train, processes
        )
        == 50
    )


def test_a_seed_numpy_cannot_take_is_refused_in_the_config() -> None:
    from textclf.config import apply_overrides
    from textclf.errors import ConfigError

    for bad in ("-1", str(2**31)):
        with pytest.raises(ConfigError, match="seed"):
            apply_overrides(ExperimentConfig(), [f"seed={bad}"])
