"""The search loop: ask for a trial, train it with :func:`run_experiment`, tell the study.

Every trial is isolated: a crash, an out-of-memory error or a bad sampled value ends that
trial FAILED (one log line, the error kept in the study) and the search goes on; memory
is freed between trials. A pruned trial stops at the evaluation the pruner rejects and is
recorded PRUNED; its tracked run ends KILLED.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from textclf.atomic import write_text_atomic
from textclf.config import ExperimentConfig, ParamSpec, apply_overrides
from textclf.data.prepare import prepare_data
from textclf.errors import ConfigError, TextclfError
from textclf.evaluation.metrics import check_metric, greater_is_better, headline_metric
from textclf.experiment import dataset_records, run_experiment
from textclf.persistence import read_info
from textclf.tracking.base import Tracker
from textclf.tracking.session import StopRun, TrackingSession
from textclf.tuning.results import (
    TRIALS_DIR,
    TUNING_DIR,
    TuneResult,
    finish,
    mark_weights_removed,
)
from textclf.tuning.space import (
    config_with,
    default_params,
    describe,
    search_space,
    suggest,
    trial_base,
)
from textclf.tuning.storage import (
    INTERRUPTED,
    NOT_RUN,
    absolute_url,
    ask_lock,
    counted_trials,
    import_optuna,
    make_pruner,
    make_sampler,
    mask_url,
    open_storage,
)

logger = logging.getLogger(__name__)

SEARCH_FILE = "search.json"
"""``OUTPUT/tuning/search.json``: which study the folder belongs to (checked on restart)."""


class TrialPruned(StopRun):
    """The pruner stopped this trial: its validation metric trails the others'."""


class PruningCallback(TrainerCallback):
    """Reports each validation evaluation to an Optuna trial and stops the run when pruned.

    The step reported is the evaluation's ordinal (1, 2, …), not the global step: trials
    with other batch sizes reach the end of an epoch at other global steps, and the
    median pruner compares only values reported at the same step. A collapsed run that
    restarts keeps counting: it is judged by the evaluations it has spent, as Hyperband
    counts resources.

    Args:
        trial: An ``optuna.Trial`` (anything with ``report`` and ``should_prune``).
        metric: The validation metric, with or without the ``eval_`` prefix.

    Raises:
        TrialPruned: from ``on_evaluate`` when the pruner says so; the run ends there.
    """

    def __init__(self, trial: Any, metric: str):
        self.trial = trial
        self.key = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.evaluations = 0
        self.last: float | None = None

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metrics or self.key not in metrics:
            return
        value = float(metrics[self.key])
        if not math.isfinite(value):
            return
        self.evaluations += 1
        self.last = value
        self.trial.report(value, self.evaluations)
        if self.trial.should_prune():
            raise TrialPruned(
                f"pruned at evaluation {self.evaluations} ({self.key[5:]} {value:.4f})"
            )


def _worker() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_orphans(optuna: Any, study: Any) -> None:
    """Mark FAILED the running trials of dead workers on this machine (killed, not stopped)."""
    state = optuna.trial.TrialState
    here = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        worker = t.user_attrs.get("worker") or {}
        pid = worker.get("pid")
        if worker.get("host") == here and isinstance(pid, int) and not _alive(pid):
            with contextlib.suppress(Exception):  # another worker may have done it first
                study.tell(t.number, state=state.FAIL)
                logger.warning(
                    "Trial %d: its worker (pid %d) died; recorded FAILED.", t.number, pid
                )


def _check_output(output: Path, study: str) -> bool:
    """Whether ``output`` holds this study's earlier work (a restart, another worker).

    Raises:
        ConfigError: when it holds another study's search or anything else.
    """
    marker = output / TUNING_DIR / SEARCH_FILE
    if marker.is_file():
        earlier = json.loads(marker.read_text(encoding="utf-8"))
        if earlier.get("study") != study:
            raise ConfigError(
                f"{output}: this folder holds the search '{earlier.get('study')}'; pass "
                f"--study {earlier.get('study')} to continue it, or choose a new --output."
            )
        return True
    # (A tuning/ folder alone: another worker is writing the marker right now.)
    if output.is_dir() and any(p.name != TUNING_DIR for p in output.iterdir()):
        raise ConfigError(
            f"{output}: the output folder already holds something other than a search; "
            "choose a new --output."
        )
    return False


def tune(
    config: ExperimentConfig,
    *,
    fixed: Sequence[str] = (),
    train: Any = None,
    validation: Any = None,
    test: Any = None,
    callbacks: list[Any] | None = None,
) -> TuneResult:
    """Run (or continue, or join) a hyperparameter search and export its best model.

    Args:
        config: The experiment config; ``output_dir`` is the search's folder and
            ``tune`` the search settings.
        fixed: Dotted keys the user fixed (left out of the search space).
        train, validation, test: Data objects overriding the paths in ``config.data``.
        callbacks: Extra Trainer callbacks for every trial.

    Returns:
        The study's counts, the best trial and the exported model's evaluation.

    Raises:
        ConfigError, DataError, ModelLoadError: before any trial, for bad settings or data.
        MissingExtraError: when Optuna is not installed.
        TextclfError: when no trial completed, so there is no model to export.
    """
    optuna = import_optuna()
    started = time.perf_counter()
    if not config.output_dir:
        raise ConfigError("no output folder: pass --output DIR (or output_dir in the config).")
    output = Path(config.output_dir)
    tc = config.tune
    space = search_space(config, fixed=fixed)
    study_name = tc.study or output.resolve().name
    url = absolute_url(tc.storage or f"journal:{output / TUNING_DIR / 'study.journal'}")
    data = prepare_data(config, train=train, validation=validation, test=test)
    from textclf.modeling import load_tokenizer

    load_tokenizer(config.model.name, revision=config.model.revision)  # fail before trials
    check_metric(data.space.task, config.train.metric_for_best_model)  # before any trial
    metric = (
        headline_metric(data.space.task)
        if config.train.metric_for_best_model == "auto"
        else config.train.metric_for_best_model
    )
    direction = "maximize" if greater_is_better(metric) else "minimize"
    if not _check_output(output, study_name):
        write_text_atomic(
            output / TUNING_DIR / SEARCH_FILE,
            json.dumps({"study": study_name, "storage": mask_url(url)}, indent=1) + "\n",
        )
    storage = open_storage(url)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own one line per trial
    session = TrackingSession(config)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            direction=direction,
            pruner=make_pruner(optuna, config),
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise ConfigError(
                f"study '{study_name}' {study.direction.name.lower()}s, but {metric} is to be "
                f"{direction}d; use another --study or the metric it was created with."
            )
        study.set_user_attr("metric", metric)
        _fail_orphans(optuna, study)
        earlier = len(study.get_trials(deepcopy=False))
        if earlier:
            logger.info(
                "Continuing study '%s' in %s: %d of %d trials exist.",
                study_name,
                mask_url(url),
                earlier,
                tc.trials,
            )
        if tc.start_from_defaults and space and tc.trials > 0:
            with ask_lock(url):  # one worker enqueues, into a study with no trial yet
                if not study.get_trials(deepcopy=False):
                    params = default_params(config, space, data.space.task)
                    study.enqueue_trial(params, user_attrs={"defaults": True})
                    logger.info(
                        "Trial 0 runs the config's own values (%d of %d searched keys).",
                        len(params),
                        len(space),
                    )
        session.check()
        session.begin(
            output,
            resume=False,
            task=data.space.task,
            labels=data.space.labels,
            datasets=dataset_records(data),
        )
        session.tracker.set_tags({"textclf.study": study_name, "textclf.kind": "tune"})
        base = trial_base(config, tracked=session.active)
        ran = _search(
            optuna,
            study,
            config,
            base,
            space,
            url=url,
            metric=metric,
            output=output,
            tracker=session.tracker if session.active else None,
            data_args={"train": train, "validation": validation},
            callbacks=callbacks,
        )
        result = finish(
            optuna, study, config, data, output=output, metric=metric, url=url, session=session
        )
    except BaseException as e:
        session.fail(e)
        raise
    finally:
        optuna.logging.set_verbosity(verbosity)
    result.ran = ran
    result.total_runtime_s = time.perf_counter() - started
    return result


def _search(
    optuna: Any,
    study: Any,
    config: ExperimentConfig,
    base: ExperimentConfig,
    space: list[ParamSpec],
    *,
    url: str,
    metric: str,
    output: Path,
    tracker: Tracker | None,
    data_args: dict[str, Any],
    callbacks: list[Any] | None,
) -> int:
    """Ask for trials until the study has ``tune.trials`` of them (or time is up); run each."""
    tc = config.tune
    state = optuna.trial.TrialState
    started = time.monotonic()
    ran = 0
    while True:
        if tc.timeout_s is not None and time.monotonic() - started > tc.timeout_s:
            logger.info("tune.timeout_s (%.0f s) reached: no new trial is started.", tc.timeout_s)
            break
        with ask_lock(url):
            existing = study.get_trials(deepcopy=False)
            if counted_trials(existing, state) >= tc.trials:
                break
            study.sampler = make_sampler(optuna, config, len(existing))
            trial = study.ask()
            trial.set_user_attr("worker", _worker())
        if counted_trials(study.get_trials(deepcopy=False), state) > tc.trials:
            # A worker on another machine asked at the same moment: the study is full.
            trial.set_user_attr("error", NOT_RUN)
            study.tell(trial, state=state.FAIL)
            break
        ran += 1
        _run_trial(
            optuna,
            study,
            trial,
            base,
            space,
            metric=metric,
            output=output,
            tracker=tracker,
            data_args=data_args,
            callbacks=callbacks,
            keep_models=tc.keep_trial_models,
        )
    return ran


def _run_trial(
    optuna: Any,
    study: Any,
    trial: Any,
    base: ExperimentConfig,
    space: list[ParamSpec],
    *,
    metric: str,
    output: Path,
    tracker: Tracker | None,
    data_args: dict[str, Any],
    callbacks: list[Any] | None,
    keep_models: bool,
) -> None:
    """Train one trial and tell the study how it went; never raises but for Ctrl-C."""
    state = optuna.trial.TrialState
    number = trial.number
    folder = output / TRIALS_DIR / f"trial-{number:03d}"
    trial.set_user_attr("folder", str(folder.resolve()))
    started = time.perf_counter()
    pruning = PruningCallback(trial, metric)
    try:
        params = {spec.name: suggest(trial, spec) for spec in space}
        cfg = config_with(base, params)
        cfg = apply_overrides(
            cfg,
            [
                f"output_dir={json.dumps(str(folder))}",
                f"tracking.run_name=trial-{number:03d}",
                f"tracking.tags={json.dumps({**base.tracking.tags, 'textclf.trial': str(number)})}",
            ],
        )
        logger.info("Trial %d: %s", number, describe(params))
        run_experiment(
            cfg,
            overwrite=True,
            callbacks=[*(callbacks or []), pruning],
            tracker=tracker,
            **data_args,
        )
        value = _best_value(folder, metric)
        trial.set_user_attr("best_step", read_info(folder).training.get("best_step"))
        study.tell(trial, value)
        logger.info(
            "Trial %d finished in %.0f s: best %s %.4f (study best %.4f, trial %d).",
            number,
            time.perf_counter() - started,
            metric,
            value,
            study.best_value,
            study.best_trial.number,
        )
        if tracker is not None:
            tracker.log_metrics({f"trial_{metric}": value}, step=number)
    except TrialPruned as e:
        study.tell(trial, state=state.PRUNED)
        logger.info("Trial %d %s after %.0f s.", number, e, time.perf_counter() - started)
        if not keep_models:
            shutil.rmtree(folder / "checkpoints", ignore_errors=True)
            if folder.is_dir():
                mark_weights_removed(
                    folder, f"trial {number} was pruned (stopped early), so it has no model"
                )
    except KeyboardInterrupt:
        trial.set_user_attr("error", INTERRUPTED)
        study.tell(trial, state=state.FAIL)
        raise
    except Exception as e:
        message = f"{type(e).__name__}: {e}".splitlines()[0][:500]
        trial.set_user_attr("error", message)
        study.tell(trial, state=state.FAIL)
        logger.warning("Trial %d failed (%s); the search goes on.", number, message)
    finally:
        _free_memory()


def _best_value(folder: Path, metric: str) -> float:
    """The trial's value: its best checkpoint's validation metric, from its training record."""
    best = read_info(folder).training.get("best_metric") or {}
    value = best.get(metric)
    if value is None:
        raise TextclfError(
            f"{folder}: the run recorded no best validation {metric}; a search needs a "
            "validation split (give --validation or keep split.validation_size > 0)."
        )
    return float(value)


def _free_memory() -> None:
    # A trial's model, optimizer and Trainer are garbage once run_experiment returns; free
    # them now, and the allocator's cache with them (transformers #13019).
    gc.collect()
    from textclf.training.resources import free_accelerator_memory

    free_accelerator_memory()
