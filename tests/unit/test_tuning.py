"""The search space → config mapping, the pruning callback, storages and the tune settings."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("optuna", reason="the 'tune' extra (optuna) is not installed")

import optuna

from textclf.config import ExperimentConfig, ParamSpec, apply_overrides, config_from_dict
from textclf.errors import ConfigError
from textclf.tracking.session import StopRun
from textclf.tuning import (
    PruningCallback,
    TrialPruned,
    absolute_url,
    config_with,
    default_params,
    mask_url,
    open_storage,
    search_space,
    storage_path,
    suggest,
    trial_base,
)


def test_default_space_covers_the_levers_and_reads_back_from_yaml() -> None:
    cfg = ExperimentConfig()
    names = [s.name for s in cfg.tune.space]
    assert {
        "train.learning_rate",
        "train.epochs",
        "train.batch_size",
        "train.warmup_ratio",
        "train.weight_decay",
        "train.head_lr_multiplier",
        "train.head_init",
        "train.layer_decay",
        "train.reinit_layers",
    } == set(names)
    text = cfg.to_yaml()
    lr = yaml.safe_load(text)["tune"]["space"][0]
    assert lr == {
        "name": "train.learning_rate",
        "type": "float",
        "low": 2e-5,
        "high": 3e-4,
        "log": True,
    }
    assert config_from_dict(yaml.safe_load(text)) == cfg


def test_space_edited_through_set() -> None:
    cfg = apply_overrides(
        ExperimentConfig(),
        ["tune.space=[{name: train.warmup_ratio, type: categorical, choices: [0.0, 0.1]}]"],
    )
    (spec,) = cfg.tune.space
    assert spec.choices == [0.0, 0.1]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "train.x", "type": "categorical"}, "needs choices"),
        ({"name": "train.x", "type": "float", "low": 1.0}, "needs low <= high"),
        ({"name": "train.x", "type": "float", "low": 2.0, "high": 1.0}, "needs low <= high"),
        ({"name": "train.x", "type": "float", "low": 0.0, "high": 1.0, "log": True}, "low > 0"),
    ],
)
def test_malformed_specs_are_config_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"tune": {"space": [spec]}})


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            "[{name: train.head_init, type: categorical, choices: [probe, bogus]}]",
            "train.head_init = 'bogus' is not a valid value (not one of random, probe)",
        ),
        (
            "[{name: train.warmup_ratio, type: float, low: 0.0, high: 2.0}]",
            "train.warmup_ratio = 2.0 is not a valid value (Input should be less than 1)",
        ),
    ],
)
def test_values_no_trial_could_use_are_refused_before_the_search(space: str, message: str):
    cfg = apply_overrides(ExperimentConfig(), [f"tune.space={space}"])
    with pytest.raises(ConfigError, match=re.escape(f"tune.space: {message}; fix the space.")):
        search_space(cfg)


def test_fixed_keys_and_max_steps_leave_the_space() -> None:
    cfg = ExperimentConfig()
    names = [s.name for s in search_space(cfg, fixed=["train.learning_rate"])]
    assert "train.learning_rate" not in names and "train.epochs" in names
    capped = apply_overrides(cfg, ["train.max_steps=10"])
    assert "train.epochs" not in [s.name for s in search_space(capped)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("train.learning_rte", "is not a config setting; did you mean 'train.learning_rate'"),
        ("data.train", "cannot be searched"),
        ("seed", "cannot be searched"),
    ],
)
def test_bad_names_are_refused_before_any_trial(name: str, message: str) -> None:
    cfg = ExperimentConfig()
    cfg.tune.space = [ParamSpec(name=name, type="categorical", choices=[1])]
    with pytest.raises(ConfigError, match=message):
        search_space(cfg)


def test_a_name_listed_twice_is_refused() -> None:
    cfg = ExperimentConfig()
    cfg.tune.space = [cfg.tune.space[0], cfg.tune.space[0]]
    with pytest.raises(ConfigError, match="listed twice"):
        search_space(cfg)


def test_sampled_values_land_in_the_config() -> None:
    cfg = ExperimentConfig()
    values = {
        "train.learning_rate": 3e-5,
        "train.epochs": 4,
        "train.batch_size": 64,
        "train.warmup_ratio": 0.1,
        "train.weight_decay": 0.05,
        "train.head_lr_multiplier": 5.0,
        "train.head_init": "probe",
        "train.layer_decay": 0.8,
        "train.reinit_layers": 1,
    }
    trial = optuna.trial.FixedTrial(values)
    params = {spec.name: suggest(trial, spec) for spec in search_space(cfg)}
    assert params == values
    out = config_with(cfg, params).train
    assert (out.learning_rate, out.epochs, out.batch_size, out.head_init) == (3e-5, 4, 64, "probe")
    assert (out.layer_decay, out.reinit_layers, out.head_lr_multiplier) == (0.8, 1, 5.0)
    assert out.warmup_ratio == 0.1 and out.weight_decay == 0.05
    assert cfg.train.learning_rate == 1e-4  # the base config is not modified


def test_a_value_outside_a_settings_range_fails_the_trial_not_the_search() -> None:
    with pytest.raises(ConfigError, match=r"train\.layer_decay"):
        config_with(ExperimentConfig(), {"train.layer_decay": 1.5})


def test_suggest_uses_bounds_log_and_step() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    log_spec = ParamSpec(name="train.learning_rate", type="float", low=1e-5, high=1e-3, log=True)
    int_spec = ParamSpec(name="train.epochs", type="int", low=2, high=8, step=2)
    for _ in range(20):
        trial = study.ask()
        lr = suggest(trial, log_spec)
        epochs = suggest(trial, int_spec)
        assert 1e-5 <= lr <= 1e-3 and epochs in (2, 4, 6, 8)
        study.tell(trial, 0.0)
    dist = study.trials[0].distributions
    assert dist["train.learning_rate"].log and dist["train.epochs"].step == 2


class FakeTrial:
    """Records reports; prunes from the evaluation ``prune_at`` on."""

    def __init__(self, prune_at: int | None = None):
        self.reports: list[tuple[float, int]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune_at is not None and len(self.reports) >= self.prune_at


def _evaluate(callback: PruningCallback, metrics: dict[str, float]) -> None:
    callback.on_evaluate(None, None, None, metrics=metrics)  # type: ignore[arg-type]


def test_pruning_callback_reports_each_evaluation_by_ordinal() -> None:
    trial = FakeTrial()
    callback = PruningCallback(trial, "f1_macro")
    _evaluate(callback, {"eval_f1_macro": 0.5, "eval_loss": 0.7})
    _evaluate(callback, {"eval_loss": 0.6})  # no headline metric: not reported
    _evaluate(callback, {"eval_f1_macro": float("nan")})
    _evaluate(callback, {"eval_f1_macro": 0.7})
    assert trial.reports == [(0.5, 1), (0.7, 2)]
    assert callback.last == 0.7


def test_pruning_callback_stops_the_run_when_the_pruner_says_so() -> None:
    trial = FakeTrial(prune_at=2)
    callback = PruningCallback(trial, "eval_f1_macro")
    _evaluate(callback, {"eval_f1_macro": 0.4})
    with pytest.raises(TrialPruned, match=r"pruned at evaluation 2 \(f1_macro 0.3000\)") as e:
        _evaluate(callback, {"eval_f1_macro": 0.3})
    assert isinstance(e.value, StopRun)  # its tracked run ends KILLED, not FAILED


def test_trial_base_holds_the_test_file_out_and_skips_the_extras() -> None:
    cfg = apply_overrides(ExperimentConfig(), ["data.train=a.csv", "data.test=b.csv"])
    base = trial_base(cfg, tracked=False)
    assert base.data.test is None and base.split.test_size == 0
    assert base.eval.baselines == [] and not base.diagnostics.enabled
    assert not base.tracking.enabled and not base.tracking.log_model
    carved = trial_base(apply_overrides(ExperimentConfig(), ["data.train=a.csv"]), tracked=True)
    assert carved.split.test_size == 0.1 and carved.tracking.enabled  # same carve as the final


def test_storage_urls(tmp_path: Path) -> None:
    assert storage_path(f"journal:{tmp_path}/s.log") == tmp_path / "s.log"
    assert storage_path(f"sqlite:///{tmp_path}/s.db") == tmp_path / "s.db"
    assert storage_path("postgresql://u:p@db/optuna") is None
    assert mask_url("mysql+pymysql://me:pw@db/x") == "mysql+pymysql://me:***@db/x"


def test_a_local_study_file_is_recorded_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        absolute_url("journal:out/tuning/s.journal") == f"journal:{tmp_path}/out/tuning/s.journal"
    )
    assert absolute_url("sqlite:///s.db") == f"sqlite:///{tmp_path}/s.db"
    assert absolute_url(f"sqlite:///{tmp_path}/s.db") == f"sqlite:///{tmp_path}/s.db"
    for unchanged in ("sqlite:///:memory:", "postgresql://u:p@db/optuna", "journal:"):
        assert absolute_url(unchanged) == unchanged
    journal = open_storage(f"journal:{tmp_path}/sub/study.log")
    study = optuna.create_study(storage=journal, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    again = optuna.load_study(
        storage=open_storage(f"journal:{tmp_path}/sub/study.log"), study_name="s"
    )
    assert len(again.trials) == 2
    sqlite = open_storage(f"sqlite:///{tmp_path}/db/study.db")
    assert optuna.create_study(storage=sqlite, study_name="t").study_name == "t"


@pytest.mark.parametrize("url", ["study.db", "redis://localhost", "journal:"])
def test_bad_storage_urls_name_the_accepted_forms(url: str) -> None:
    with pytest.raises(ConfigError, match="--storage"):
        open_storage(url)


def test_a_missing_optuna_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from textclf.errors import MissingExtraError
    from textclf.tuning.storage import import_optuna

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'textclf\[tune\]'"):
        import_optuna()


def test_default_params_are_the_configs_own_values_where_the_space_holds_them() -> None:
    cfg = apply_overrides(
        ExperimentConfig(),
        ["train.learning_rate=1e-6", "train.batch_size=12", "train.head_init=random"],
    )
    params = default_params(cfg, search_space(cfg), "multilabel")
    assert "train.learning_rate" not in params  # 1e-6 is below the space's low: sampled
    assert "train.batch_size" not in params  # 12 is not one of the choices: sampled
    # The default batch size, 'auto', is one of the choices: trial 0 keeps it.
    assert (
        default_params(ExperimentConfig(), search_space(cfg), "binary")["train.batch_size"]
        == "auto"
    )
    assert params["train.epochs"] == 5 and isinstance(params["train.epochs"], int)
    assert params["train.head_init"] == "random"
    # 'auto' resolves as training would: 10 for a random multi-label head.
    assert params["train.head_lr_multiplier"] == 10.0
    assert params["train.warmup_ratio"] == cfg.train.warmup_ratio


def _trial_folder(root: Path, name: str, truth: list[str], decided: list[str]) -> Path:
    """A trial folder with validation predictions as ``assess`` writes them."""
    import json

    folder = root / name
    (folder / "eval").mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "row": i,
                "text": f"text {i}",
                "label": d,
                "scores": {"neg": 0.9 if d == "neg" else 0.1, "pos": 0.1 if d == "neg" else 0.9},
                "true": t,
            }
        )
        for i, (t, d) in enumerate(zip(truth, decided, strict=True))
    ]
    (folder / "eval" / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


_TRUTH = ["pos", "neg"] * 100


def _trial(tmp_path: Path, number: int, wrong: range, **attrs: Any) -> Any:
    """A finished trial whose validation predictions are wrong on the rows ``wrong``."""
    from types import SimpleNamespace

    flip = {"pos": "neg", "neg": "pos"}
    decided = [flip[t] if i in wrong else t for i, t in enumerate(_TRUTH)]
    folder = _trial_folder(tmp_path, f"trial-{number}", _TRUTH, decided)
    return SimpleNamespace(number=number, user_attrs={"folder": str(folder), **attrs})


def _keep(best: Any, trials: list[Any]) -> Any:
    from textclf.tuning.selection import keep_trial

    return keep_trial(
        best,
        trials,
        task="binary",
        metric="accuracy",
        direction="maximize",
        confidence=0.95,
        n_resamples=500,
        seed=0,
    )


@pytest.mark.parametrize(
    ("wrong_untuned", "wrong_best", "kept"),
    [(60, 58, 0), (60, 20, 7)],  # 2 fewer errors in 200 is noise; 40 fewer is not
)
def test_the_untuned_trial_is_kept_unless_the_best_beats_it_by_more_than_noise(
    tmp_path: Path, wrong_untuned: int, wrong_best: int, kept: int
) -> None:
    untuned = _trial(tmp_path, 0, range(wrong_untuned), defaults=True)
    best = _trial(tmp_path, 7, range(wrong_best))
    chosen = _keep(best, [untuned, best])
    assert chosen.trial.number == kept
    assert chosen.note is not None
    assert ("untuned config" in chosen.note) == (kept == 0)
    # Without an untuned trial there is nothing to compare with.
    alone = _keep(best, [best])
    assert alone.trial is best and alone.note is None


def test_the_best_of_many_trials_must_clear_a_bar_raised_for_having_been_picked(
    tmp_path: Path,
) -> None:
    """Statistics review D6: picked among 20 equal trials on the same validation examples,
    the best one "beat" the untuned trial 20% of the time; Bonferroni over the rivals."""
    from types import SimpleNamespace

    # 25 rows only the untuned trial gets wrong, 8 only the best one: p about 0.005.
    untuned = _trial(tmp_path, 0, range(60), defaults=True)
    best = _trial(tmp_path, 7, range(25, 68))
    others = [SimpleNamespace(number=i, user_attrs={}) for i in range(8, 27)]
    alone = _keep(best, [untuned, best])  # one rival: the lead stands
    assert alone.trial is best and "Bonferroni" not in alone.note
    crowd = _keep(best, [untuned, best, *others])  # the same lead, the best of 20
    assert crowd.trial is untuned
    assert "picked as the best of 20 trials on these examples, so p × 20 = " in crowd.note


def test_trials_stopped_from_outside_are_run_again_not_counted(monkeypatch, tmp_path: Path):
    from textclf.tuning import search as search_module
    from textclf.tuning.storage import INTERRUPTED, counted_trials

    state = optuna.trial.TrialState
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    for error in (
        None,
        INTERRUPTED,
        "ValueError: bad",
        "not run: the study already had its trials",
    ):
        trial = study.ask()
        if error is not None:
            trial.set_user_attr("error", error)
        study.tell(trial, state=state.FAIL)
    # A killed worker (no error recorded), Ctrl-C and a surplus ask have no outcome; the
    # trial that failed on its own error has one and counts.
    assert counted_trials(study.get_trials(), state) == 1

    def run_trial(optuna_, study_, trial, *args, **kwargs):
        study_.tell(trial, 0.5)

    monkeypatch.setattr(search_module, "_run_trial", run_trial)
    config = apply_overrides(ExperimentConfig(), ["tune.trials=3"])
    ran = search_module._search(
        optuna, study, config, config, [], url=url, metric="f1_macro", output=tmp_path,
        tracker=None, data_args={}, callbacks=None,
    )  # fmt: skip
    assert ran == 2  # 1 counted failure + 2 new = the 3 trials asked for
    assert [t.state for t in study.get_trials()][-2:] == [state.COMPLETE, state.COMPLETE]
