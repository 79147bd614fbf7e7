"""The one-line verdict when the model does not clearly beat the baselines."""

from __future__ import annotations

from textclf.assess import baseline_verdict


def _comparison(baseline: str, value: float, low: float, high: float, p: float) -> dict:
    return {
        "baseline": baseline,
        "metric": "f1_macro",
        "difference": {"value": value, "ci_low": low, "ci_high": high},
        "p_value": p,
    }


def test_a_clear_win_on_every_split_needs_no_verdict():
    win = _comparison("tfidf_lr", 0.2, 0.1, 0.3, 0.001)
    assert baseline_verdict({"split": "test", "comparison": win}, win) is None


def test_each_split_is_named_with_its_own_baseline():
    validation = _comparison("tfidf_cnb", 0.02, -0.05, 0.09, 0.4)
    test = _comparison("embed_lr", 0.01, -0.03, 0.05, 0.6)
    line = baseline_verdict({"split": "test", "comparison": test}, validation)
    assert line is not None
    assert line.startswith("The fine-tuned model is not clearly better than its best baseline (")
    assert "validation, against TF-IDF + complement naive Bayes: f1_macro difference" in line
    assert "test, against frozen sentence embeddings + logistic regression: f1_macro" in line


def test_one_baseline_on_both_splits_is_named_once_and_a_loss_says_so():
    validation = _comparison("tfidf_lr", -0.02, -0.09, 0.05, 0.5)
    test = _comparison("tfidf_lr", 0.01, -0.03, 0.05, 0.6)
    line = baseline_verdict({"split": "test", "comparison": test}, validation)
    assert line is not None
    assert line.startswith("The fine-tuned model does not beat TF-IDF + logistic regression (")
    assert "validation: f1_macro difference" in line and "against" not in line
