"""What the report's sections share: its inputs as arrays, the page builder, decision confidence."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textclf.atomic import atomic_path
from textclf.data.labels import LabelSpace
from textclf.diagnostics import html as H
from textclf.diagnostics import plots
from textclf.evaluation.decision import DecisionRule

if TYPE_CHECKING:
    from matplotlib.figure import Figure


logger = logging.getLogger(__name__)


@dataclass
class ReportInputs:
    """What the report shows, as arrays: one evaluated split plus the run's context.

    Attributes:
        space: Task and label order.
        split: Name of the evaluated split (``test``, a file name, …).
        texts: The ``n`` evaluated texts.
        y_true: ``(n,)`` label ids, or ``(n, k)`` 0/1 for multi-label.
        proba: ``(n, k)`` calibrated probabilities.
        rule: The decision rule the probabilities were turned into labels with.
        metrics: The ``metrics.json`` document for this split.
        rows: Row numbers of ``texts`` in their source file.
        log_history: The Trainer's log history (for learning curves), if known.
        best_metric: The metric that chose the kept checkpoint (the Trainer's
            ``metric_for_best_model``, with or without ``eval_``), from the training record.
        best_step: Step of the checkpoint the Trainer kept, from the training record. With
            both, the curves mark that checkpoint; without them (older run folders) it is
            re-derived from the log with the shared lower-is-better rule
            (:func:`textclf.evaluation.metrics.greater_is_better`).
        splits: Texts and label ids of every split, for the data summary.
        findings: Data-check findings (``ValidationReport.to_dict()["findings"]``).
        max_length: The model's truncation length, drawn on the length histogram.
        title: Report title.
        facts: Extra ``(name, value)`` lines for the header (model, backbone, run time).
    """

    space: LabelSpace
    split: str
    texts: Sequence[str]
    y_true: np.ndarray
    proba: np.ndarray
    rule: DecisionRule
    metrics: dict[str, Any]
    rows: Sequence[int] | None = None
    log_history: list[dict[str, Any]] | None = None
    best_metric: str | None = None
    best_step: int | None = None
    splits: Mapping[str, tuple[Sequence[str], np.ndarray]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    max_length: int | None = None
    title: str = "textclf report"
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReportResult:
    """Where the report went, how long each part took, and what was left out and why."""

    paths: dict[str, Path]
    timings: dict[str, float]
    notes: list[str]
    n_errors: int = 0


class Builder:
    """Collects sections, figures and timings while the report is assembled."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.figures: dict[str, Path] = {}
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self._started = time.perf_counter()

    def figure(self, name: str, fig: Figure, *, alt: str, caption: str = "") -> str:
        """Save ``fig`` as ``figures/NAME.png`` and return it embedded."""
        png = plots.figure_png(fig)
        path = self.out / "figures" / f"{name}.png"
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
        self.figures[name] = path
        return H.image(png, alt=alt, caption=caption)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self._started
        self._started = now
        logger.info("Report: %s in %.1f s.", stage, self.timings[stage])


def calibration_pairs(inputs: ReportInputs) -> tuple[np.ndarray, np.ndarray]:
    """What the ECE of ``metrics.json`` judges: the probabilities, whatever the decision rule.

    Single-label: the top class's probability and whether it is the true class (with a
    tuned binary threshold the decision may differ from it; the probability is what is
    calibrated). Multi-label: every (example, label) probability and whether the label is
    true (``metrics.json`` has no multi-label ECE; this is the one the diagram shows).
    The reliability diagram plots these, so its ECE is the one in ``metrics.json``.
    """
    if inputs.space.multilabel:
        return inputs.proba.reshape(-1), inputs.y_true.reshape(-1).astype(bool)
    return inputs.proba.max(axis=1), inputs.proba.argmax(axis=1) == inputs.y_true


def flat_confidence(inputs: ReportInputs, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence in each decision and whether it was right.

    Single-label: the predicted label's probability, per example. Multi-label: every
    (example, label) decision, with confidence ``p`` for a predicted label and ``1 − p``
    for a label left out, so the two read the same way.
    """
    if inputs.space.multilabel:
        p = inputs.proba.reshape(-1)
        decided = pred.reshape(-1).astype(bool)
        return np.where(decided, p, 1 - p), decided == inputs.y_true.reshape(-1).astype(bool)
    conf = inputs.proba[np.arange(len(pred)), pred]
    return conf, pred == inputs.y_true
