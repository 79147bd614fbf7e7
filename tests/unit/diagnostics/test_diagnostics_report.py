"""The diagnostics report's parts that need no model: the learning-curves section and the
choice of examples to explain.

The whole report, with a trained model, is tested in ``tests/integration/test_report.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from textclf.data.labels import LabelSpace
from textclf.diagnostics.errors import error_table
from textclf.diagnostics.report import _curves_section, _reliability
from textclf.diagnostics.report_model import pick_examples
from textclf.diagnostics.report_parts import Builder, ReportInputs
from textclf.evaluation.calibration import expected_calibration_error
from textclf.evaluation.decision import DecisionRule, decide
from textclf.evaluation.metrics import classification_metrics


def _inputs(log_history: list[dict[str, Any]], **kw: Any) -> ReportInputs:
    return ReportInputs(
        space=LabelSpace("multiclass", ("a", "b", "c")),
        split="test",
        texts=["x"],
        y_true=np.array([0]),
        proba=np.array([[0.6, 0.3, 0.1]]),
        rule=DecisionRule(),
        metrics={},
        log_history=log_history,
        **kw,
    )


#: Validation log_loss lowest at step 20; the Trainer, told log_loss is lower-is-better,
#: kept step 20. Read as higher-is-better the curves would mark step 30.
_LOG = [
    {"loss": 1.0, "epoch": 0.5, "step": 5},
    {"eval_loss": 0.8, "eval_log_loss": 0.80, "eval_f1_macro": 0.5, "epoch": 1.0, "step": 10},
    {"loss": 0.6, "epoch": 1.5, "step": 15},
    {"eval_loss": 0.6, "eval_log_loss": 0.60, "eval_f1_macro": 0.6, "epoch": 2.0, "step": 20},
    {"loss": 0.3, "epoch": 2.5, "step": 25},
    {"eval_loss": 0.9, "eval_log_loss": 0.90, "eval_f1_macro": 0.7, "epoch": 3.0, "step": 30},
]


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "old-folder"])
def test_curves_mark_the_kept_checkpoint_for_a_lower_is_better_metric(
    tmp_path: Path, record: bool
) -> None:
    kw: dict[str, Any] = {"best_metric": "log_loss"}
    if record:
        kw["best_step"] = 20
    html = _curves_section(Builder(tmp_path), _inputs(_LOG, **kw))
    assert "step 20, log_loss 0.600" in html
    assert "step 30, log_loss" not in html
    if record:
        assert "marks the checkpoint that was kept" in html
    else:
        assert "best evaluation by log_loss (lower is better)" in html
    assert (tmp_path / "figures" / "learning_curves.png").is_file()


def test_recorded_step_wins_over_the_metric_rule(tmp_path: Path) -> None:
    html = _curves_section(Builder(tmp_path), _inputs(_LOG, best_metric="f1_macro", best_step=20))
    # f1_macro is highest at step 30, but the record says step 20 was kept.
    assert "step 20, f1_macro 0.600" in html and "step 30, f1_macro" not in html


def test_no_log_says_so(tmp_path: Path) -> None:
    html = _curves_section(Builder(tmp_path), _inputs([]))
    assert "No training log" in html


def test_multilabel_picks_explain_the_decisions_that_made_them():
    proba = np.array(
        [
            [0.999, 0.02, 0.97],  # right; the least sure decision is c at 0.97
            [0.999, 0.55, 0.01],  # right (b true at 0.55): least sure of the three rows
            [0.999, 0.30, 0.99],  # true a|b: b missed; c extra
        ]
    )
    y = np.array([[1, 0, 1], [1, 1, 0], [1, 1, 0]])
    inputs = ReportInputs(
        space=LabelSpace("multilabel", ("a", "b", "c")),
        split="test",
        texts=["x", "y", "z"],
        y_true=y,
        proba=proba,
        rule=DecisionRule(),
        metrics={},
        log_history=[],
    )
    pred = (proba >= 0.5).astype(int)
    errors = error_table(texts=inputs.texts, y_true=y, proba=proba, task="multilabel", labels="abc")
    picks = pick_examples(inputs, pred, errors, 2)
    # Not label a, scored 0.999 everywhere: it says nothing about why a pick is hard.
    assert picks == [
        ("most confident error", 2, [1, 2]),
        ("least confident correct", 1, [1]),
        ("least confident correct", 0, [2]),
    ]


class _Capture(Builder):
    """Keeps the figures instead of writing them."""

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}

    def figure(self, name: str, fig: Any, *, alt: str, caption: str = "") -> str:
        self.kept[name] = (fig, caption)
        return ""


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_the_reliability_diagram_judges_probabilities_not_a_tuned_threshold(task: str):
    rng = np.random.default_rng(3)
    n = 400
    if task == "binary":
        y = rng.integers(0, 2, n)
        p1 = np.clip(0.35 * y + rng.random(n) * 0.6, 0, 1)
        proba = np.column_stack([1 - p1, p1])
        rule = DecisionRule(task="binary", thresholds=0.3)
    else:
        y = rng.integers(0, 2, (n, 3))
        proba = np.clip(0.3 * y + rng.random((n, 3)) * 0.65, 0, 1)
        rule = DecisionRule(task="multilabel", thresholds=[0.3, 0.6, 0.45])
    labels = ("a", "b") if task == "binary" else ("a", "b", "c")
    inputs = ReportInputs(
        space=LabelSpace(task, labels),  # type: ignore[arg-type]
        split="test",
        texts=["t"] * n,
        y_true=y,
        proba=proba,
        rule=rule,
        metrics={},
        log_history=[],
    )
    b = _Capture()
    _reliability(b, inputs)
    fig, caption = b.kept["reliability"]
    if task == "binary":  # the ece of metrics.json
        reported = classification_metrics(task, y, proba, threshold=rule.thresholds)["ece"]
    else:  # multi-label reports no ECE; the diagram's is that of every label probability
        reported = expected_calibration_error(y, proba, multilabel=True)
    assert f"ECE {reported:.3f}" in fig.axes[0].get_title()
    assert "whatever the decision threshold" in caption
    # The threshold changes decisions, so a diagram of decisions would show another ECE.
    pred = decide(proba, task, threshold=rule.thresholds)
    assert not np.array_equal(pred, decide(proba, task))
