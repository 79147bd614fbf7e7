"""The one experiment configuration: strict pydantic sections, YAML in and out, dotted overrides.

Unknown keys are errors (``extra="forbid"``), as in spaCy's config system: a typo in a
YAML file or a ``--set`` flag must stop the run before any work, not be ignored.

Example:
    >>> cfg = ExperimentConfig()
    >>> cfg = apply_overrides(cfg, ["train.learning_rate=3e-5", "model.max_length=64"])
    >>> cfg.train.learning_rate
    3e-05
"""

from textclf.config.overrides import apply_overrides, config_from_dict, load_config
from textclf.config.schema import (
    AUTO_BATCH_STEPS,
    AUTO_MIN_STEPS,
    DEFAULT_MODEL,
    Baseline,
    DataConfig,
    DiagnosticsConfig,
    EvalConfig,
    ExperimentConfig,
    ModelConfig,
    ParamSpec,
    SplitConfig,
    Task,
    TaskOrAuto,
    TrackingConfig,
    TrainConfig,
    TuneConfig,
    default_config_yaml,
)

__all__ = [
    "AUTO_BATCH_STEPS",
    "AUTO_MIN_STEPS",
    "DEFAULT_MODEL",
    "Baseline",
    "DataConfig",
    "DiagnosticsConfig",
    "EvalConfig",
    "ExperimentConfig",
    "ModelConfig",
    "ParamSpec",
    "SplitConfig",
    "Task",
    "TaskOrAuto",
    "TrackingConfig",
    "TrainConfig",
    "TuneConfig",
    "apply_overrides",
    "config_from_dict",
    "default_config_yaml",
    "load_config",
]
