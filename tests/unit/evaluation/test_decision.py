"""The decision rule: applying it, overriding it, storing it, and fitting it robustly."""

from __future__ import annotations

import numpy as np
import pytest

from textclf.evaluation.bootstrap import bootstrap_metrics
from textclf.evaluation.calibration import apply_temperature
from textclf.evaluation.decision import ABSTAIN, DecisionRule, decide, fit_decision_rule


def test_multiclass_reject_option_abstains_below_the_confidence():
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1]])
    assert DecisionRule("multiclass").decide(proba).tolist() == [0, 1]
    assert DecisionRule("multiclass").with_threshold(0.6).decide(proba).tolist() == [ABSTAIN, 1]


def test_with_threshold_means_the_documented_thing_per_task():
    assert DecisionRule("binary", thresholds=0.3).with_threshold(0.9).thresholds == 0.9
    ml = DecisionRule("multilabel", thresholds=[0.2, 0.7]).with_threshold(0.4)
    assert ml.thresholds == 0.4
    assert DecisionRule("multiclass").with_threshold(0.6).reject_below == 0.6
    assert DecisionRule("binary").with_threshold(None).thresholds is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        DecisionRule("binary").with_threshold(1.5)


def test_round_trip_through_the_stored_form():
    rule = DecisionRule(
        "multilabel", temperature=1.7, thresholds=[0.3, 0.6], at_least_one=True, notes=["x"]
    )
    again = DecisionRule.from_dict(rule.to_dict())
    assert again == rule


def test_probabilities_apply_the_temperature():
    logits = np.array([[2.0, 0.0]])
    hot = DecisionRule("binary", temperature=2.0).probabilities(logits)
    np.testing.assert_allclose(hot, [[np.exp(1) / (np.exp(1) + 1), 1 / (np.exp(1) + 1)]])


def test_per_label_thresholds_for_the_app():
    assert DecisionRule("multilabel").per_label_thresholds(3) == [0.5] * 3
    assert DecisionRule("multilabel", thresholds=0.4).per_label_thresholds(2) == [0.4, 0.4]
    assert DecisionRule("binary", thresholds=0.7).per_label_thresholds(2) == [0.7]
    assert DecisionRule("multiclass").per_label_thresholds(3) is None


def test_perfectly_separated_validation_does_not_drive_the_temperature_to_a_bound():
    # Log-loss falls forever as T -> 0 here; plain maximum likelihood ran to the bound.
    logits = np.array([[5.0, -5.0], [-5.0, 5.0]] * 10)
    y = np.array([0, 1] * 10)
    rule = fit_decision_rule("binary", ["a", "b"], logits, y, tune_thresholds=False)
    assert abs(np.log(rule.temperature)) < 0.05


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_no_sharpening_from_a_validation_split_without_a_mistake(task: str):
    # Every example decided right, with small margins: the NLL fit sharpens (T < 1), but
    # nothing in the split shows how far that is safe.
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 30)
    margin = 0.5 + rng.random(60)
    if task == "binary":
        logits = np.stack([-margin * (2 * y - 1), margin * (2 * y - 1)], axis=1) / 2
        labels = y
    else:
        labels = np.stack([y, 1 - y], axis=1)
        logits = np.where(labels == 1, 1, -1) * margin[:, None]
    rule = fit_decision_rule(task, ["a", "b"], logits, labels, tune_thresholds=False)
    assert rule.temperature == 1.0
    assert any("all decided correctly" in n and "T = 0." in n for n in rule.notes), rule.notes
    # One mistake, and the fitted temperature is the data's to decide again.
    wrong = logits.copy()
    wrong[0] = -wrong[0]
    refit = fit_decision_rule(task, ["a", "b"], wrong, labels, tune_thresholds=False)
    assert not any("all decided correctly" in n for n in refit.notes)


def test_a_real_temperature_is_kept():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), y] += 1.5
    rule = fit_decision_rule("multiclass", ["a", "b", "c"], logits * 3.0, y)
    assert 2.0 < rule.temperature < 4.5  # the logits were blown up 3x: T undoes it
    assert any(n.startswith("temperature") and "fitted" in n for n in rule.notes)
    note = next(n for n in rule.notes if n.startswith("temperature"))
    # The note gives what the temperature did: log-loss (what it is fitted to) and ECE.
    before, after = (float(v) for v in note.split("log-loss ")[1].split(",")[0].split(" -> "))
    assert after < before
    assert f"ECE {rule.ece_before:.4f} -> {rule.ece_after:.4f}" in note
    assert ("ECE rose" in note) == (rule.ece_after > rule.ece_before)


def test_tuned_threshold_kept_only_when_it_beats_the_plain_rule_beyond_noise():
    rng = np.random.default_rng(1)
    # Scores shifted down: the best threshold is far below 0.5 and the gain is large.
    y = rng.integers(0, 2, 800)
    p1 = np.clip(0.15 + 0.3 * y + rng.normal(0, 0.08, 800), 0.001, 0.999)
    logits = np.log(np.stack([1 - p1, p1], axis=1))
    kept = fit_decision_rule("binary", ["n", "p"], logits, y, calibrate=False)
    assert kept.thresholds is not None and kept.thresholds < 0.45
    # Well-centred scores on a tiny validation split: tuning is noise and is not kept.
    y2 = rng.integers(0, 2, 24)
    p2 = np.clip(0.5 + 0.2 * (y2 - 0.5) + rng.normal(0, 0.2, 24), 0.001, 0.999)
    plain = fit_decision_rule(
        "binary", ["n", "p"], np.log(np.stack([1 - p2, p2], axis=1)), y2, calibrate=False
    )
    assert plain.thresholds is None
    assert any("not kept" in n for n in plain.notes)
    assert plain.tuning is not None and "cross_fitted_gain" in plain.tuning


def test_multilabel_thresholds_are_kept_or_not_on_micro_f1_and_say_so():
    rng = np.random.default_rng(2)
    y = (rng.random((600, 3)) < 0.3).astype(int)
    p = np.clip(0.1 + 0.35 * y + rng.normal(0, 0.1, y.shape), 0.001, 0.999)  # best t < 0.5
    rule = fit_decision_rule("multilabel", ["a", "b", "c"], np.log(p / (1 - p)), y, calibrate=False)
    tuning = rule.tuning
    assert tuning is not None and tuning["metric"] == "f1_macro"  # what is maximised
    assert tuning["cross_fitted_gain"]["metric"] == tuning["judged_by"]["metric"] == "f1_micro"
    note = next(n for n in rule.notes if n.startswith("tuned threshold(s)"))
    assert "f1_micro" in note and "f1_macro" not in note


def test_the_plain_decide_primitive():
    assert decide(np.array([[0.3, 0.7], [0.8, 0.2]]), "binary", threshold=0.75).tolist() == [0, 0]
    ml = decide(np.array([[0.1, 0.2]]), "multilabel", at_least_one=True)
    assert ml.tolist() == [[0, 1]]


def test_margins_are_the_distance_to_a_changed_decision():
    multiclass = DecisionRule(task="multiclass")
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(multiclass.margins(proba), [0.5, 0.05])
    abstaining = DecisionRule(task="multiclass", reject_below=0.45)
    np.testing.assert_allclose(abstaining.margins(proba), [0.25, 0.05])
    binary = DecisionRule(task="binary", thresholds=0.3)
    np.testing.assert_allclose(binary.margins(np.array([[0.6, 0.4], [0.1, 0.9]])), [0.1, 0.6])
    multilabel = DecisionRule(task="multilabel", thresholds=[0.5, 0.2])
    np.testing.assert_allclose(
        multilabel.margins(np.array([[0.9, 0.25], [0.45, 0.9]])), [0.05, 0.05]
    )
    assert multiclass.margins(np.zeros((0, 3))).shape == (0,)
    # A row is at margin 0 exactly where a nudge flips its decision.
    rows = np.random.default_rng(0).dirichlet(np.ones(3), size=200)
    for row, m in zip(rows, multiclass.margins(rows), strict=True):
        nudged = row.copy()
        second = np.argsort(row)[-2]
        nudged[second] += m + 1e-9
        assert multiclass.decide(nudged[None])[0] != multiclass.decide(row[None])[0]


def test_a_sidecar_of_either_format_gives_the_same_rule():
    rule = DecisionRule(
        task="multilabel", temperature=1.7, thresholds=[0.3, 0.6], at_least_one=True
    )
    nested = {"task": "multilabel", "decision_rule": rule.to_dict()}
    flat = {
        "task": "multilabel",
        "temperature": 1.7,
        "thresholds": [0.3, 0.6],
        "at_least_one": True,
    }
    for sidecar in (nested, flat):
        read = DecisionRule.from_sidecar(sidecar)
        assert (read.task, read.temperature, read.thresholds, read.at_least_one) == (
            "multilabel",
            1.7,
            [0.3, 0.6],
            True,
        )
    plain = DecisionRule.from_sidecar({"task": "binary"})
    assert (plain.temperature, plain.thresholds, plain.at_least_one) == (1.0, None, False)


def test_test_labels_cannot_change_the_decision_rule():
    """Fitted on validation, evaluated on test: no change to the test labels reaches the
    rule, while a change to the validation labels does (so the check can fail)."""
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c"]

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random((n, 3)) < [0.4, 0.15, 0.6]).astype(int)
        return 2.5 * (y - 0.5) + rng.normal(size=(n, 3)), y  # over-confident logits

    val_logits, y_val = split(300)
    test_logits, y_test = split(200)
    val_copy = (val_logits.copy(), y_val.copy())
    rule = fit_decision_rule("multilabel", labels, val_logits, y_val, min_positives_per_label=5)
    fitted = rule.to_dict()
    np.testing.assert_array_equal(val_logits, val_copy[0])  # fitting mutates nothing
    np.testing.assert_array_equal(y_val, val_copy[1])

    proba = apply_temperature(test_logits, rule.temperature, multilabel=True)
    pred = decide(proba, "multilabel", threshold=rule.thresholds)
    scores = []
    for y_other in (y_test, 1 - y_test, rng.permutation(y_test), np.zeros_like(y_test)):
        # The evaluation path: metrics with intervals of the rule's decisions on test.
        res = bootstrap_metrics(
            "multilabel", y_other, proba, labels=labels, threshold=rule.thresholds, n_resamples=20
        )
        scores.append(res.metrics["f1_micro"].value)
        assert rule.to_dict() == fitted  # evaluating on test never touches the rule
    assert len(set(scores)) > 1  # the test labels did change what was measured
    # Fitting again after all that gives the same rule and the same test decisions.
    refit = fit_decision_rule("multilabel", labels, *val_copy, min_positives_per_label=5)
    assert refit.to_dict() == fitted
    np.testing.assert_array_equal(decide(proba, "multilabel", threshold=refit.thresholds), pred)
    flipped = fit_decision_rule(
        "multilabel", labels, val_logits, 1 - y_val, min_positives_per_label=5
    )
    assert flipped.to_dict() != fitted  # the rule does follow its validation labels


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_are_refused_not_decided(bad: float):
    """Statistics review D8: a NaN row was decided as the first label and counted, and a
    temperature fitted on NaN logits was arbitrary (0.49 where 2 was right) yet kept."""
    from textclf.errors import ModelOutputError

    logits = np.array([[2.0, -1.0], [bad, 0.5], [0.1, 0.2]])
    with pytest.raises(ModelOutputError, match=r"non-finite scores .* for 1 of 3 texts"):
        DecisionRule(task="binary").probabilities(logits)
    with pytest.raises(ModelOutputError, match="--precision fp32"):
        fit_decision_rule("binary", ["a", "b"], logits, np.array([0, 1, 1]))
