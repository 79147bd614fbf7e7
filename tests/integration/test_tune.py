"""``textclf tune`` end to end on the tiny model: workers sharing a study, failures, pruning.

- two worker processes on one SQLite storage complete a 4-trial study: every trial runs
  once (trial numbers, parameters and folders), the best trial is exported as a model
  folder, and its value is its best checkpoint's validation metric; running again
  continues the study and runs nothing;
- a crashing trial is recorded FAILED and a pruned one PRUNED, the search goes on, and
  the tracked runs are nested under one parent (FAILED and KILLED);
- a search whose every trial fails ends with one line naming the trials file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optuna", reason="the 'tune' extra (optuna) is not installed")

import optuna
from transformers import TrainerCallback
from typer.testing import CliRunner

from conftest import _texts_for
from textclf import tuning
from textclf.cli import app
from textclf.config import ExperimentConfig, apply_overrides
from textclf.errors import ModelLoadError
from textclf.persistence import load_model_folder, read_info

pytestmark = pytest.mark.slow

# Short trials: 10 steps, an evaluation every 5 (two reports to the pruner).
FAST = [
    "train.eval_strategy=steps",
    "train.eval_steps=5",
    "train.early_stopping_patience=null",
    "train.max_restarts=0",  # the tiny model's collapsed runs are not restarted
    "eval.n_resamples=100",
    "eval.baselines=[majority]",
    "diagnostics.projections=[pca]",
    "diagnostics.attribution_examples=0",
    "tune.pruner_startup_trials=1",
    "tune.pruner_warmup_evals=0",
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    frame = _texts_for("multiclass")
    k = frame.groupby("label").cumcount()
    parts = {
        "train": frame[(k % 3 != 0) & (k != 1)],
        "validation": frame[k == 1],
        "test": frame[k % 3 == 0],
    }
    paths = {}
    for name, part in parts.items():
        paths[name] = tmp_path / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    return paths


def _args(files: dict[str, Path], model: Path, output: Path, *extra: str) -> list[str]:
    args = [
        "tune",
        "--train",
        str(files["train"]),
        "--validation",
        str(files["validation"]),
        "--test",
        str(files["test"]),
        "--output",
        str(output),
        "--model",
        str(model),
        "--max-length",
        "32",
        "--max-steps",
        "10",
        "--no-track",
        *extra,
    ]
    for item in FAST:
        args += ["--set", item]
    return args


def test_two_workers_share_one_study_and_every_trial_runs_once(
    files: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "search"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = _args(files, tiny_model_dir, output, "--trials", "4", "--storage", storage)
    args += ["--study", "shared"]
    env = {**os.environ, "TEXTCLF_TRACKING": "off", "TOKENIZERS_PARALLELISM": "false"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "textclf", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    for worker, out in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out[-3000:]

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert all(t.state in finished for t in trials), [t.state for t in trials]
    # Trial 0 ran the untuned config, enqueued once although two workers started.
    assert [t.number for t in trials if t.user_attrs.get("defaults")] == [0]
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == 4  # no configuration drawn twice
    ran = sum(
        int(line.split()[3])
        for out in outputs
        for line in out.splitlines()
        if line.startswith("This worker ran")
    )
    assert ran == 4, outputs  # 4 in total, not 4 each
    assert sorted(p.name for p in (output / "trials").iterdir()) == [
        f"trial-{n:03d}" for n in range(4)
    ]
    assert {t.user_attrs["folder"] for t in trials} == {
        str((output / "trials" / f"trial-{n:03d}").resolve()) for n in range(4)
    }

    # The exported trial is the best one, or the untuned trial 0 when the best beats it
    # only by noise on the same validation examples (the paired bootstrap says which).
    info = read_info(output)
    kept_number = info.training["tuning"]["trial"]
    assert kept_number in {study.best_trial.number, 0}
    best = next(t for t in trials if t.number == kept_number)
    if kept_number != study.best_trial.number:
        assert any("Kept the untuned config (trial 0)" in out for out in outputs), outputs
    best_folder = Path(best.user_attrs["folder"])
    for folder in (best_folder, output):
        assert (folder / "textclf.json").is_file() and (folder / "model.safetensors").is_file()
    assert best.value == read_info(best_folder).training["best_metric"]["f1_macro"]
    assert info.metrics["split"] == "test" and info.metrics["n_examples"] == 9
    doc = json.loads((output / "eval" / "metrics.json").read_text())
    assert doc["split"] == "test" and "majority" in doc["baselines"]
    report = (output / "eval" / "report.html").read_text()
    assert 'id="tuning"' in report and "Optimisation history" in report
    summary = json.loads((output / "tuning" / "study.json").read_text())
    assert summary["best"]["trial"] == best.number and len(summary["trials"]) == 4
    assert len((output / "tuning" / "trials.csv").read_text().splitlines()) == 5
    assert (output / "tuning" / "figures" / "history.png").stat().st_size > 1000
    others = [t for t in trials if t.number != best.number]
    assert not any(Path(t.user_attrs["folder"], "model.safetensors").exists() for t in others)
    # A dropped trial's folder says why it cannot load, and how to keep trials' models.
    for t in others:
        reason = (
            "was pruned" if t.state == optuna.trial.TrialState.PRUNED else "deleted the weights"
        )
        with pytest.raises(ModelLoadError, match=rf"trial {t.number}\b.*keep_trial_models"):
            load_model_folder(t.user_attrs["folder"])
        assert reason in Path(t.user_attrs["folder"], "WEIGHTS-REMOVED.txt").read_text()

    # The same command again continues the study: it is complete, so nothing runs.
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "This worker ran 0 trial(s)" in again.output
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 4


class _CrashSecondTrial(TrainerCallback):
    """Raises when trial 1 starts training, as a crash or an OOM would.

    (Recognised by its folder: a trial may start training more than once, when a
    collapsed run restarts.)
    """

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if "trial-001" in Path(args.output_dir).parts:
            raise RuntimeError("boom: simulated crash")


class _PruneTrial(optuna.pruners.BasePruner):
    def __init__(self, number: int):
        self.number = number

    def prune(self, study: Any, trial: Any) -> bool:
        return bool(trial.number == self.number)


def test_failed_and_pruned_trials_are_recorded_and_tracked_under_one_parent(
    files: dict[str, Path],
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")
    from mlflow import MlflowClient

    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    monkeypatch.setattr(tuning.search, "make_pruner", lambda optuna, config: _PruneTrial(2))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    output = tmp_path / "search"
    cfg = apply_overrides(
        ExperimentConfig(),
        [
            f"output_dir={output}",
            f"data.train={files['train']}",
            f"data.validation={files['validation']}",
            f"data.test={files['test']}",
            f"model.name={tiny_model_dir}",
            "model.max_length=32",
            "train.max_steps=10",
            "tune.trials=3",
            f"tracking.uri={store}",
            "tracking.experiment=search",
            "diagnostics.enabled=false",
            *FAST,
        ],
    )
    result = tuning.tune(cfg, callbacks=[_CrashSecondTrial()])
    assert result.counts == {"COMPLETE": 1, "FAIL": 1, "PRUNED": 1}
    assert result.ran == 3 and result.best_trial == 0
    journal = tuning.open_storage(f"journal:{output}/tuning/study.journal")
    study = optuna.load_study(study_name="search", storage=journal)
    failed = study.trials[1]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert failed.user_attrs["error"] == "RuntimeError: boom: simulated crash"
    pruned = study.trials[2]
    assert pruned.state == optuna.trial.TrialState.PRUNED and pruned.intermediate_values == {
        1: pytest.approx(pruned.intermediate_values[1])
    }
    assert not (output / "trials" / "trial-002" / "checkpoints").exists()
    assert (output / "textclf.json").is_file()

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("search")
    parent = client.get_run(result.tracking["run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["textclf.best_trial"] == "0"
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    status = {r.info.run_name: r.info.status for r in children}
    assert status == {"trial-000": "FINISHED", "trial-001": "FAILED", "trial-002": "KILLED"}
    assert parent.data.metrics["tune_trials_pruned"] == 1.0
    assert "tuning/trials.csv" in {
        a.path for a in client.list_artifacts(parent.info.run_id, "tuning")
    }
    (logged,) = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert logged.source_run_id == parent.info.run_id  # only the exported model is logged


def test_a_search_with_no_completed_trial_says_where_the_errors_are(
    files: dict[str, Path], tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textclf.errors import ConfigError
    from textclf.tuning import search

    def failing(*args: object, **kwargs: object) -> None:
        raise ConfigError("this trial's settings cannot train (a stand-in failure)")

    # A value no trial can use is refused before the search now: every trial fails here.
    monkeypatch.setattr(search, "run_experiment", failing)
    output = tmp_path / "search"
    space = "tune.space=[{name: train.layer_decay, type: categorical, choices: [0.9, 1.0]}]"
    result = CliRunner().invoke(
        app, _args(files, tiny_model_dir, output, "--trials", "2", "--set", space)
    )
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: no trial of study 'search' completed (2 trial(s): 0 completed")
    assert str(output / "tuning" / "trials.csv") in last
    rows = (output / "tuning" / "trials.csv").read_text()
    assert rows.count("FAIL") == 2 and "train.layer_decay" in rows


def test_no_trial_asked_of_a_new_study_is_one_line(
    files: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "none"
    result = CliRunner().invoke(app, _args(files, tiny_model_dir, output, "--trials", "0"))
    assert result.exit_code == 2, result.output
    assert "has no trial yet and --trials asked for none; give --trials 1 or more." in result.output
    assert not (output / "tuning" / "trials.csv").exists()
