"""The cross-validation summary: mean ± sd over folds and the corrected resampled t-test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from textclf.evaluation.folds import corrected_ttest, summarise, summary_markdown


@settings(max_examples=60, deadline=None)
@given(
    diffs=st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=10).filter(
        lambda d: np.std(d) > 1e-6
    ),
    n=st.integers(50, 5000),
)
def test_the_correction_only_widens_the_plain_t_test(diffs, n):
    k = len(diffs)
    r = corrected_ttest(diffs, n_train=n * (k - 1) / k, n_test=n / k)
    plain = stats.ttest_1samp(diffs, 0.0)
    assert r["p_value"] >= plain.pvalue - 1e-12
    assert r["ci_low"] <= r["value"] <= r["ci_high"]
    assert r["value"] == pytest.approx(np.mean(diffs)) and r["df"] == k - 1


def test_too_few_or_identical_differences_give_no_test():
    one = corrected_ttest([0.1, None], n_train=90, n_test=10)
    assert one["value"] == 0.1 and one["p_value"] is None and one["ci_low"] is None
    # Folds that agree exactly are no evidence of certainty: no p-value, and a note why.
    same = corrected_ttest([0.02, 0.02], n_train=90, n_test=10)
    assert same["value"] == 0.02 and same["p_value"] is None and same["ci_low"] is None
    assert "same difference" in same["note"]


def _doc(value: float, baseline: float, p: float, metric: str = "f1_macro") -> dict:
    return {
        "task": "binary",
        "n_examples": 100,
        "headline_metric": metric,
        "metrics": {metric: {"value": value, "ci_low": value - 0.1, "ci_high": value + 0.1}},
        "baselines": {
            "tfidf_lr": {"name": "TF-IDF + LR", "metrics": {metric: {"value": baseline}}}
        },
        "comparison": {
            "baseline": "tfidf_lr",
            "difference": {"value": value - baseline, "ci_low": -0.2, "ci_high": 0.3},
            "p_value": p,
        },
    }


def test_the_summary_averages_the_folds_and_counts_wins_in_the_metric_s_direction():
    plan = {"folds": 3, "seed": 0, "source": "data.csv"}
    doc = summarise([_doc(0.8, 0.7, 0.01), _doc(0.6, 0.7, 0.2), _doc(0.9, 0.7, 0.3)], plan)
    stats_ = doc["metrics"]["f1_macro"]
    assert stats_["folds"] == [0.8, 0.6, 0.9]
    assert stats_["mean"] == pytest.approx(np.mean([0.8, 0.6, 0.9]))
    assert stats_["sd"] == pytest.approx(np.std([0.8, 0.6, 0.9], ddof=1))
    cmp = doc["comparison"]
    assert cmp["folds_ahead"] == 2 and cmp["folds_ahead_significant"] == 1
    assert cmp["mean_difference"]["value"] == pytest.approx(np.mean([0.1, -0.1, 0.2]))
    # Lower is better for log loss: a negative difference is a win.
    lower = summarise([_doc(0.3, 0.5, 0.01, "log_loss"), _doc(0.6, 0.5, 0.01, "log_loss")], plan)
    assert lower["comparison"]["folds_ahead"] == 1
    text = summary_markdown(doc)
    assert "| model | 0.800 | 0.600 | 0.900 |" in text
    assert "ahead in 2 of 3 folds" in text and "Nadeau & Bengio" in text


def test_without_baselines_there_is_no_comparison():
    doc = _doc(0.8, 0.7, 0.01)
    doc.pop("comparison")
    doc["baselines"] = {}
    summary = summarise([doc, doc], {"folds": 2, "seed": 0, "source": "x"})
    assert summary["comparison"] is None
    assert "ahead in" not in summary_markdown(summary)
