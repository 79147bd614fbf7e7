"""Experiment tracking: MLflow (default) or Weights & Biases behind one ``Tracker`` protocol.

Importing this package imports neither MLflow nor wandb; their modules
(:mod:`textclf.tracking.mlflow`, :mod:`textclf.tracking.wandb`) load only when used.
"""

from textclf.tracking.base import (
    DatasetRecord,
    NullTracker,
    RunContext,
    RunStatus,
    Tracker,
    TrackingInfo,
)

__all__ = [
    "DatasetRecord",
    "NullTracker",
    "RunContext",
    "RunStatus",
    "Tracker",
    "TrackingInfo",
]
