"""evaluation/report.py: metrics.json assembly and the metrics.md / table helpers.

(Named apart from tests/integration/test_report.py: test basenames must be unique here.)
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from textclf.config import EvalConfig
from textclf.evaluation.bootstrap import BootstrapResult, Interval
from textclf.evaluation.report import (
    comparison_sentence,
    decision_rule_lines,
    fmt_interval,
    fmt_p,
    headline_table,
    interval_digits,
    interval_notes,
    metrics_document,
    metrics_markdown,
    result_dict,
)

WIDENED = "the percentile interval [0.2863, 0.5238] excludes the estimate: widened to reach it"


def _doc() -> dict[str, Any]:
    """A small hand-made binary metrics document, as metrics.json holds it."""

    def iv(value: float | None, lo: float | None, hi: float | None) -> dict[str, Any]:
        return {"value": value, "ci_low": lo, "ci_high": hi}

    return {
        "task": "binary",
        "split": "test",
        "n_examples": 40,
        "labels": ["neg", "pos"],
        "confidence": 0.9,
        "n_resamples": 200,
        "ci_method": "bca",
        "metrics": {
            "accuracy": iv(0.875, 0.775, 0.95),
            "f1_macro": iv(0.8, 0.7, 0.9),
            "roc_auc": iv(None, None, None),
            "ece": {**iv(0.05, 0.05, 0.12), "fallback": WIDENED},
            "brier": iv(0.1, 0.05, 0.15),  # not a headline metric
        },
        "per_label": {
            "neg": {
                "precision": iv(0.9, 0.8, 1.0),
                "recall": iv(0.85, 0.7, 0.95),
                "f1": iv(0.87, 0.78, 0.94),
                "support": 20,
            },
            "pos": {
                "precision": iv(0.86, 0.7, 0.95),
                "recall": iv(0.9, 0.8, 1.0),
                "f1": {**iv(0.88, 0.8, 0.96), "fallback": "BCa fell back to percentile"},
                "support": 20,
            },
        },
        "thresholds": {
            "values": 0.4,
            "decision_rule": {
                "temperature": 1.5,
                "thresholds": 0.4,
                "validation_ece_before": 0.08,
                "validation_ece_after": 0.03,
                "threshold_tuning": {
                    "metric": "f1",
                    "validation_before": 0.7,
                    "validation_after": 0.75,
                },
            },
        },
        "at_default_threshold": {"metrics": {"accuracy": iv(0.85, 0.75, 0.93)}},
        "baselines": {
            "tfidf_lr": {"name": "TF-IDF + LR", "metrics": {"accuracy": iv(0.7, 0.6, 0.8)}}
        },
        "comparison": {
            "baseline": "tfidf_lr",
            "metric": "f1_macro",
            "difference": iv(0.1, 0.02, 0.18),
            "p_value": 0.012,
            "mcnemar_p_value": 0.03,
        },
    }


def test_fmt_interval():
    assert fmt_interval({"value": 0.90654, "ci_low": 0.896, "ci_high": 0.9166}) == (
        "0.907 [0.896, 0.917]"
    )
    assert fmt_interval({"value": 0.90654, "ci_low": 0.896, "ci_high": 0.9166}, digits=4) == (
        "0.9065 [0.8960, 0.9166]"
    )
    assert fmt_interval({"value": 0.5, "ci_low": None, "ci_high": 0.6}, digits=2) == "0.50"
    assert fmt_interval({"value": None}) == "n/a"
    assert fmt_interval({"value": math.nan, "ci_low": 0.1, "ci_high": 0.2}) == "n/a"
    assert fmt_interval(None) == "n/a"


@pytest.mark.parametrize(
    ("n", "digits"),
    [(50, 2), (300, 3), (1000, 3), (100_000, 4)],
)
def test_digits_follow_the_width_of_a_binomial_interval(n: int, digits: int):
    # A 95% interval of an accuracy near 0.9 is about 4 * sqrt(0.09 / n) wide.
    width = 4 * math.sqrt(0.09 / n)
    iv = {"value": 0.9, "ci_low": 0.9 - width / 2, "ci_high": 0.9 + width / 2}
    assert interval_digits(iv) == digits
    # Never fewer than two decimals, never more than four, four without an interval.
    assert interval_digits({"value": 0.5, "ci_low": 0.0, "ci_high": 1.0}) == 2
    assert interval_digits({"value": 0.5, "ci_low": 0.5, "ci_high": 0.5}) == 4
    assert interval_digits({"value": 0.5, "ci_low": None, "ci_high": None}, None) == 4
    # Bounds that are not numbers, or infinite, say nothing of the precision.
    assert interval_digits({"value": 0.5, "ci_low": -math.inf, "ci_high": math.inf}) == 4
    assert interval_digits({"value": 0.5, "ci_low": math.nan, "ci_high": 0.6}) == 4


def test_headline_table_has_the_model_the_fixed_threshold_and_each_baseline():
    header, rows = headline_table(_doc())
    assert header == ["metric", "model", "model at 0.5", "TF-IDF+LR"]
    # Headline metrics of the task, in their order, only those in the document.
    assert [r[0] for r in rows] == ["accuracy", "f1_macro", "roc_auc", "ece"]
    # Intervals 0.16-0.20 wide: two decimals for the whole row.
    assert rows[0] == [
        "accuracy",
        "0.88 [0.78, 0.95]",
        "0.85 [0.75, 0.93]",
        "0.70 [0.60, 0.80]",
    ]
    assert rows[2][1] == "n/a" and rows[1][2:] == ["n/a", "n/a"]


def test_comparison_sentence_names_the_baseline_and_both_p_values():
    sentence = comparison_sentence(_doc())
    assert sentence == (
        "Transformer vs TF-IDF + LR on f1_macro: difference +0.10 (90% CI [+0.02, "
        "+0.18]), paired bootstrap p = 0.012; McNemar's test on accuracy p = 0.03."
    )
    assert comparison_sentence({**_doc(), "comparison": None}) is None


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.012, "0.012"),
        (0.35, "0.35"),
        (1.0, "1"),
        (0.001, "0.001"),
        (1 / 1001, "< 0.001"),
        (None, "n/a"),
        (math.nan, "n/a"),
    ],
)
def test_fmt_p_prints_no_precision_the_bootstrap_cannot_give(p, text):
    assert fmt_p(p) == text


def test_comparison_sentence_at_the_smallest_bootstrap_p():
    doc = _doc()
    doc["comparison"].update(p_value=1 / 1001, mcnemar_p_value=2e-9)
    sentence = comparison_sentence(doc)
    assert sentence is not None
    assert sentence.endswith("paired bootstrap p < 0.001; McNemar's test on accuracy p < 0.001.")


def test_decision_rule_lines():
    assert decision_rule_lines(_doc()) == [
        "temperature: 1.500",
        "validation ECE: 0.0800 before, 0.0300 after temperature scaling",
        "threshold on 'pos': 0.400",
        "validation f1: 0.7000 at 0.5, 0.7500 tuned (in-sample)",
    ]
    doc = _doc()
    doc["thresholds"]["decision_rule"].update(thresholds=[0.3, 0.6], threshold_tuning=None)
    assert decision_rule_lines(doc)[2] == "per-label thresholds: neg 0.30, pos 0.60"
    assert decision_rule_lines({**doc, "thresholds": {"decision_rule": None}}) == []
    multilabel = _doc()
    multilabel["thresholds"]["decision_rule"]["threshold_tuning"].update(
        metric="f1_macro",
        judged_by={"metric": "f1_micro", "validation_before": 0.8, "validation_after": 0.79},
    )
    assert decision_rule_lines(multilabel)[3] == (
        "validation f1_macro: 0.7000 at 0.5, 0.7500 tuned (in-sample); f1_micro, on which "
        "they are kept or not: 0.8000 at 0.5, 0.7900 tuned (in-sample)"
    )


def test_interval_notes_list_every_fallback_once():
    assert interval_notes(_doc()) == [f"ece: {WIDENED}", "pos/f1: BCa fell back to percentile"]
    doc = _doc()
    doc["comparison"]["difference"]["fallback"] = "widened"
    assert interval_notes(doc)[-1] == "difference in f1_macro: widened"
    assert interval_notes({"metrics": {"accuracy": {"value": 1.0}}}) == []


def test_metrics_markdown_sections():
    md = metrics_markdown(_doc())
    assert md.startswith("# Evaluation: test split (40 examples, binary)\n")
    assert "90% bootstrap confidence intervals (200 resamples, bca)" in md
    assert "| metric | model | model at 0.5 | TF-IDF+LR |" in md
    assert "| pos | 0.86 [0.70, 0.95] | 0.90 [0.80, 1.00] | 0.88 [0.80, 0.96] | 20 |" in md
    notes = md.index("## Interval notes")
    assert md.index("## Per label") < notes < md.index("## Decision rule")
    assert f"- ece: {WIDENED}" in md
    assert "Transformer vs TF-IDF + LR" in md and md.endswith("\n")
    plain = _doc()
    del plain["metrics"]["ece"]["fallback"], plain["per_label"]["pos"]["f1"]["fallback"]
    assert "Interval notes" not in metrics_markdown(plain)


def test_an_undefined_per_label_score_reads_n_a_with_its_meaning():
    assert "n/a: 0/0" not in metrics_markdown(_doc())
    doc = _doc()
    doc["per_label"]["pos"]["recall"] = {"value": None, "ci_low": None, "ci_high": None}
    md = metrics_markdown(doc)
    assert "| pos | 0.86 [0.70, 0.95] | n/a | 0.88" in md
    assert "n/a: 0/0, not measured: recall of a label with no example in this split" in md


def test_metrics_document_from_a_bootstrap_result_is_json_with_its_fallbacks():
    result = BootstrapResult(
        metrics={
            "accuracy": Interval(0.8, 0.7, 0.9),
            "pr_auc": Interval(0.28, 0.28, 0.52, fallback=WIDENED),
            "roc_auc": Interval(math.nan, math.nan, math.nan),
        },
        per_label={"neg": {"precision": Interval(0.9, 0.8, 1.0), "support": 3}},
        n_resamples=200,
        confidence=0.95,
        method="percentile",
        seed=0,
        fallbacks={"pr_auc": WIDENED},
    )
    assert result_dict(result)["per_label"]["neg"] == {
        "precision": {"value": 0.9, "ci_low": 0.8, "ci_high": 1.0},
        "support": 3,
    }
    cfg = EvalConfig()
    doc = metrics_document(
        task="binary",
        split="test",
        labels=["neg", "pos"],
        result=result,
        cfg=cfg,
        n_examples=7,
        extra={"note": "hand-made"},
    )
    back = json.loads(json.dumps(doc, allow_nan=False))  # NaN became null: valid JSON
    assert back["metrics"]["pr_auc"] == {
        "value": 0.28,
        "ci_low": 0.28,
        "ci_high": 0.52,
        "fallback": WIDENED,
    }
    assert back["metrics"]["roc_auc"] == {"value": None, "ci_low": None, "ci_high": None}
    assert "fallback" not in back["metrics"]["accuracy"]
    assert back["ci_method"] == cfg.ci_method and back["confidence"] == cfg.confidence
    assert back["thresholds"] == {"values": None, "decision_rule": None}
    assert back["comparison"] is None and back["baselines"] == {}
    assert back["note"] == "hand-made"
    assert interval_notes(back) == [f"pr_auc: {WIDENED}"]


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_headline_table_follows_the_task(task: str):
    doc = {"task": task, "metrics": {"f1_micro": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}}}
    header, rows = headline_table(doc)
    assert header == ["metric", "model"]
    assert rows == ([["f1_micro", "0.50 [0.40, 0.60]"]] if task == "multilabel" else [])


def test_metrics_markdown_says_the_seed_the_caveats_and_where_the_rule_was_fitted():
    doc = _doc()
    doc["seed"] = 7
    doc["per_label"]["pos"]["support"] = 4
    doc["validation_comparison"] = doc["comparison"]
    doc["thresholds"]["decision_rule"]["fitted_on"] = "dev.csv"
    md = metrics_markdown(doc)
    assert "(200 resamples, bca, seed 7)" in md
    assert "On the validation split (optimistic: it also chose the checkpoint" in md
    assert "Few examples of pos (4): its intervals, and the macro averages'" in md
    assert "## Decision rule (fitted on dev.csv)" in md
