"""Hyperparameter search on Optuna: each trial is :func:`run_experiment` on an updated config.

The search space is the config's ``tune.space``: dotted config keys with bounds or
choices. Optuna's TPE sampler proposes values, each trial trains a model in
``OUTPUT/trials/trial-NNN`` (no report, no baselines, the test split held out), and a
median (or Hyperband) pruner stops trials whose validation metric trails the others at
the same evaluation. When the search ends, the best trial's model (its best checkpoint,
which is what its folder holds) becomes an ordinary model folder at ``OUTPUT``, evaluated
on the test split with baselines and the report, which gains the search's figures.

Around Hugging Face's ``Trainer.hyperparameter_search`` (Optuna backend):

- a trial's value is the validation metric of its *best* checkpoint, read from the
  training record, not its last evaluation (transformers #25247);
- the best model is kept and exported, not left to be retrained (transformers #10550,
  #23120);
- a trial that crashes or runs out of memory is recorded FAILED and the search goes on;
  memory is released between trials (GPU memory built up across trials, transformers #13019);
- trials are nested tracked runs under a parent run opened here (optuna-integration's
  MLflowCallback opens none, optuna #5148).

Several workers (processes or machines) share one study through Optuna's storage:
``journal:FILE`` (the default, ``OUTPUT/tuning/study.journal``), ``sqlite:///FILE``, or a
PostgreSQL/MySQL URL. ``tune.trials`` is the size of the whole study: workers stop when
it has that many trials, so every trial runs once, and re-running a worker continues
the study.

Example:
    >>> cfg = apply_overrides(ExperimentConfig(), ["data.train=train.csv"])  # doctest: +SKIP
    >>> cfg = apply_overrides(cfg, ["output_dir=runs/tuned", "tune.trials=12"])  # doctest: +SKIP
    >>> result = tune(cfg)  # doctest: +SKIP
    >>> result.best_value, result.best_params  # doctest: +SKIP
"""

from textclf.tuning.results import TuneResult, study_figures
from textclf.tuning.search import PruningCallback, TrialPruned, tune
from textclf.tuning.space import (
    SEARCHABLE_SECTIONS,
    config_with,
    default_params,
    search_space,
    suggest,
    trial_base,
)
from textclf.tuning.storage import absolute_url, mask_url, open_storage, storage_path

__all__ = [
    "SEARCHABLE_SECTIONS",
    "PruningCallback",
    "TrialPruned",
    "TuneResult",
    "absolute_url",
    "config_with",
    "default_params",
    "mask_url",
    "open_storage",
    "search_space",
    "storage_path",
    "study_figures",
    "suggest",
    "trial_base",
    "tune",
]
