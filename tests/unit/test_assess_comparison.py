"""assess's paired comparison with the best baseline: its direction, its choice, its method.

Stub models (fixed logits per text, the text being its index) keep these tests free of any
training; the statistics are exercised as they run in ``train`` and ``evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textclf.assess import assess, assessed_metric, baseline_verdict
from textclf.baselines import BaselineClassifier
from textclf.config import EvalConfig
from textclf.evaluation.decision import DecisionRule
from textclf.evaluation.report import comparison_sentence
from textclf.inference.pipeline import Predictor
from textclf.persistence import ModelInfo

N = 300


class StubPredictor(Predictor):
    def __init__(self, task: str, labels: list[str], logits: np.ndarray) -> None:
        self.info = ModelInfo(task=task, labels=labels, rule=DecisionRule(task=task))
        self._logits = logits
        self.folder = None
        self.backend = "stub"
        self.batch_size = 8

    def logits(self, texts, *, progress=False):
        return self._logits[[int(t) for t in texts]]


class StubBaseline:
    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, texts):
        return self.proba[[int(t) for t in texts]]


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, N)

    def scores(quality: float) -> np.ndarray:
        s = 1 / (1 + np.exp(-(quality * (2 * y - 1) + rng.normal(size=N))))
        return np.column_stack([1 - s, s])

    model = StubPredictor("binary", ["neg", "pos"], np.log(scores(1.5)))
    baselines = {
        "tfidf_lr": StubBaseline(scores(1.0)),
        "tfidf_cnb": StubBaseline(scores(0.2)),
        "embed_lr": StubBaseline(scores(0.6)),
    }
    data = ([str(i) for i in range(N)], [["neg", "pos"][v] for v in y])
    return model, baselines, data


def _assess(binary, **kwargs):
    model, baselines, data = binary
    kwargs.setdefault("eval_config", EvalConfig(n_resamples=300))
    return assess(model, data, baselines=baselines, progress=False, **kwargs).document


def test_a_loss_is_compared_with_the_baseline_of_least_loss_and_lower_wins(binary):
    doc = _assess(binary, metric="log_loss")
    losses = {k: b["metrics"]["log_loss"]["value"] for k, b in doc["baselines"].items()}
    comp = doc["comparison"]
    assert comp["baseline"] == min(losses, key=losses.get) == "tfidf_lr"
    assert comp["greater_is_better"] is False and comp["difference"]["ci_high"] < 0
    assert baseline_verdict(doc) is None  # the model's log-loss is clearly lower: it wins
    assert "on log_loss, lower is better: difference -" in comparison_sentence(doc)


def test_a_loss_the_model_loses_on_is_called_so(binary):
    model, baselines, data = binary
    swapped = {"tfidf_lr": StubBaseline(np.exp(model._logits)), "majority": baselines["tfidf_lr"]}
    doc = assess(
        StubPredictor("binary", ["neg", "pos"], np.log(baselines["tfidf_cnb"].proba)),
        data,
        baselines=swapped,
        eval_config=EvalConfig(n_resamples=300),
        progress=False,
        metric="log_loss",
    ).document
    assert doc["comparison"]["difference"]["value"] > 0
    assert baseline_verdict(doc).startswith("The fine-tuned model does not beat")


def test_the_trainers_loss_is_measured_as_log_loss_or_the_headline():
    assert assessed_metric("multiclass", "eval_loss") == "log_loss"
    assert assessed_metric("multilabel", "loss") == "f1_micro"
    assert assessed_metric("binary", None) == "f1_macro"
    assert assessed_metric("binary", "eval_f1_macro") == "f1_macro"


def test_metric_loss_is_assessed_without_error(binary):
    assert _assess(binary, metric="loss")["comparison"]["metric"] == "log_loss"


def test_the_comparison_uses_the_configured_interval_method(binary):
    doc = _assess(binary, eval_config=EvalConfig(n_resamples=300, ci_method="bca"))
    assert doc["comparison"]["method"] == "bca"


def test_a_baseline_chosen_elsewhere_is_the_one_compared_and_the_sentence_says_where(binary):
    here = _assess(binary)
    assert here["comparison"]["chosen_on"] == "test"
    assert "(the best baseline on these examples, which favours it)" in comparison_sentence(here)
    there = _assess(binary, compare_with="embed_lr")
    assert there["comparison"]["baseline"] == "embed_lr"
    assert there["comparison"]["chosen_on"] == "validation"
    assert "(the best baseline on validation)" in comparison_sentence(there)


def test_an_undefined_headline_is_not_compared_and_nothing_crashes(tmp_path: Path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, N)  # classes a and b only: roc_auc over three is undefined
    logits = rng.normal(size=(N, 3)) + 2 * np.eye(3)[y]
    model = StubPredictor("multiclass", ["a", "b", "c"], logits)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    result = assess(
        model,
        ([str(i) for i in range(N)], [["a", "b", "c"][v] for v in y]),
        baselines={"tfidf_lr": StubBaseline(proba)},
        eval_config=EvalConfig(n_resamples=200),
        progress=False,
        metric="roc_auc",
    )
    result.write(tmp_path)
    assert "not defined on this split" in comparison_sentence(result.document)
    assert baseline_verdict(result.document) is None
    assert "not defined on this split" in (tmp_path / "metrics.md").read_text()


class _ProbaBaseline(BaselineClassifier):
    """A fitted binary baseline whose probabilities are given (row i for text "i")."""

    def __init__(self, proba: np.ndarray) -> None:
        super().__init__("tfidf_lr")
        self.proba, self.task_, self.labels_, self._multilabel = (
            proba,
            "binary",
            ["neg", "pos"],
            False,
        )

    def predict_proba(self, texts):
        return self.proba[[int(t) for t in texts]]


def test_a_baseline_is_scored_under_thresholds_tuned_as_the_models_are(binary):
    """Statistics review: the model was scored under its tuned thresholds, the baselines at
    0.5, which handicapped them in the comparison."""
    from textclf.evaluation.report import metrics_markdown

    model, _, (texts, labels) = binary
    y = np.array([lab == "pos" for lab in labels], dtype=int)
    rng = np.random.default_rng(1)
    # Good scores placed too low: at 0.5 the baseline misses most positives.
    s = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(size=N) - 2.0)))
    proba = np.column_stack([1 - s, s])
    tuned = _ProbaBaseline(proba)
    val, test = np.arange(N // 2), np.arange(N // 2, N)
    rule = tuned.fit_rule([texts[i] for i in val], y[val], eval_config=EvalConfig(n_resamples=300))
    assert rule.temperature == 1.0 and rule.thresholds is not None and rule.thresholds < 0.5
    assert tuned.thresholds_ == rule.thresholds

    def measure(baseline):
        return assess(
            model,
            ([texts[i] for i in test], [labels[i] for i in test]),
            baselines={"tfidf_lr": baseline},
            rule=DecisionRule(task="binary", thresholds=0.5),
            eval_config=EvalConfig(n_resamples=300),
            progress=False,
        ).document

    doc, plain = measure(tuned), measure(StubBaseline(proba))
    assert doc["baselines"]["tfidf_lr"]["decision_rule"]["thresholds"] == rule.thresholds
    assert plain["baselines"]["tfidf_lr"]["decision_rule"] is None
    head = doc["headline_metric"]
    f1 = doc["baselines"]["tfidf_lr"]["metrics"][head]["value"]
    assert f1 > plain["baselines"]["tfidf_lr"]["metrics"][head]["value"] + 0.1
    assert doc["comparison"]["a"]["value"] == pytest.approx(f1)  # the comparison uses it too
    assert "thresholds were fitted on the validation split" in metrics_markdown(doc)
    assert "scored at the default threshold (0.5)" in metrics_markdown(plain)


def test_the_baseline_to_beat_is_chosen_at_the_plain_rule_not_its_tuned_one(binary):
    """Thresholds tuned on the examples that choose the baseline inflate its score there:
    a baseline tuned in-sample can outscore a stronger one there and be chosen."""
    model, _, (texts, labels) = binary
    y = np.array([lab == "pos" for lab in labels], dtype=int)
    rng = np.random.default_rng(2)
    s_good = 1 / (1 + np.exp(-(1.0 * (2 * y - 1) + rng.normal(size=N))))
    # Better scores placed far too low: poor at 0.5, the best of the two at 0.1.
    s_low = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(size=N) - 3.0)))
    good = StubBaseline(np.column_stack([1 - s_good, s_good]))
    low = _ProbaBaseline(np.column_stack([1 - s_low, s_low]))
    low.rule_ = DecisionRule(task="binary", thresholds=0.1)  # as if tuned on these examples
    doc = assess(
        model,
        (texts, labels),
        baselines={"tfidf_lr": good, "tfidf_cnb": low},
        eval_config=EvalConfig(n_resamples=200),
        progress=False,
    ).document
    head = doc["headline_metric"]
    tuned = doc["baselines"]["tfidf_cnb"]["metrics"][head]["value"]
    assert tuned > doc["baselines"]["tfidf_lr"]["metrics"][head]["value"]  # higher once tuned
    assert doc["comparison"]["baseline"] == "tfidf_lr"  # but chosen at the plain rule


def test_a_baseline_chosen_elsewhere_that_is_not_the_best_here_gets_a_second_comparison(binary):
    """On a small validation split the chosen baseline can be a weaker one on test (the
    demo: TF-IDF + NB chosen, TF-IDF + LR best on test): the model is compared with both."""
    from textclf.evaluation.report import comparison_sentences, metrics_markdown

    weaker = _assess(binary, compare_with="tfidf_cnb")  # 0.2 quality, not the best here
    assert weaker["comparison"]["baseline"] == "tfidf_cnb"
    here = weaker["comparison_best_here"]
    assert here["baseline"] == "tfidf_lr" and here["chosen_on"] == "test"
    assert here["difference"]["value"] < weaker["comparison"]["difference"]["value"]
    lines = comparison_sentences(weaker)
    assert len(lines) == 2 and lines[1].startswith(
        "Against the best baseline on these examples instead: Transformer vs TF-IDF"
    )
    assert lines[1] in metrics_markdown(weaker)
    assert "comparison_best_here" not in _assess(binary, compare_with="tfidf_lr")
