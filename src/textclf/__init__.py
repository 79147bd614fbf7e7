"""textclf: fine-tune transformer encoders for text classification, carefully."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textclf._version import __version__

__all__ = [
    "ExperimentConfig",
    "TextClassifier",
    "__version__",
    "cross_validate",
    "load_config",
    "run_experiment",
]

if TYPE_CHECKING:
    from textclf.config import ExperimentConfig, load_config
    from textclf.crossval import cross_validate
    from textclf.estimator import TextClassifier
    from textclf.experiment import run_experiment


def __getattr__(name: str) -> Any:
    # Lazy: `import textclf` must not import torch (the CLI's --help and data commands stay fast).
    if name in ("ExperimentConfig", "load_config"):
        from textclf import config

        return getattr(config, name)
    if name == "TextClassifier":
        from textclf.estimator import TextClassifier

        return TextClassifier
    if name == "run_experiment":
        from textclf.experiment import run_experiment

        return run_experiment
    if name == "cross_validate":
        from textclf.crossval import cross_validate

        return cross_validate
    raise AttributeError(f"module 'textclf' has no attribute {name!r}")
