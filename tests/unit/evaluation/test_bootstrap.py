"""Bootstrap intervals (textclf.evaluation.bootstrap, with its engine in resampling and
weighted_metrics): point values against sklearn, intervals against scipy, paired tests.

The vectorised engine writes every metric as a function of per-example weights, so the
strongest checks are exact: weights of 1 must give sklearn's values, integer weights
must give sklearn's values with ``sample_weight``, and the closed-form leave-one-out
values must equal recomputing without the example. Intervals are then compared with
``scipy.stats.bootstrap``, which draws a different random stream, so those comparisons
carry a Monte Carlo tolerance (derived where it is used).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from textclf.evaluation.bootstrap import (
    CONSTANT_NOTE,
    ECE_NOTE,
    Interval,
    _interval,
    bootstrap_metrics,
    mcnemar,
    paired_bootstrap,
)
from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import (
    classification_metrics,
    expected_calibration_error,
    per_label_metrics,
)
from textclf.evaluation.resampling import Engine, weight_blocks
from textclf.evaluation.weighted_metrics import borrow_undefined

TASKS = ("binary", "multiclass", "multilabel")


def _data(task: str, n: int, seed: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Seeded labels and informative probabilities; ``ties`` rounds them to 0.1."""
    rng = np.random.default_rng(seed)
    if task == "multilabel":
        y = (rng.random((n, 5)) < rng.uniform(0.1, 0.5, 5)).astype(np.int64)
        p = np.clip(0.45 * y + 0.6 * rng.random((n, 5)), 0, 1)
        return y, np.round(p, 1) if ties else p
    k = 2 if task == "binary" else 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    if ties:
        logits = np.round(logits)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


def _sklearn(task: str, y: np.ndarray, p: np.ndarray, pred: np.ndarray, w: np.ndarray):
    """Every metric straight from sklearn with ``sample_weight`` (ECE by repetition)."""
    sw = {"sample_weight": w}
    out: dict[str, float] = {}
    if task == "multilabel":
        present = (y * w[:, None]).sum(0) > 0
        out |= {
            "subset_accuracy": skm.accuracy_score(y, pred, **sw),
            "hamming_loss": skm.hamming_loss(y, pred, **sw),
            "jaccard_samples": skm.jaccard_score(y, pred, average="samples", zero_division=1, **sw),
            "roc_auc_macro": skm.roc_auc_score(y[:, present], p[:, present], **sw),
            "pr_auc_macro": skm.average_precision_score(y[:, present], p[:, present], **sw),
            "roc_auc_micro": skm.roc_auc_score(y, p, average="micro", **sw),
            "pr_auc_micro": skm.average_precision_score(y, p, average="micro", **sw),
            "lrap": skm.label_ranking_average_precision_score(y, p, **sw),
            "coverage_error": skm.coverage_error(y, p, **sw),
        }
        averages: tuple[str, ...] = ("micro", "macro", "weighted", "samples")
        kw: dict = {}
    else:
        k = p.shape[1]
        kw = {"labels": np.arange(k)}
        rep = np.repeat(np.arange(len(y)), w.astype(int))
        out |= {
            "accuracy": skm.accuracy_score(y, pred, **sw),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred, **sw),
            "mcc": skm.matthews_corrcoef(y, pred, **sw),
            "cohen_kappa": skm.cohen_kappa_score(y, pred, **sw),
            "log_loss": skm.log_loss(y, p, labels=np.arange(k), **sw),
            "ece": expected_calibration_error(y[rep], p[rep]),
        }
        if k == 2:
            out["brier"] = skm.brier_score_loss(y, p[:, 1], **sw)
            out["roc_auc"] = out["roc_auc_weighted"] = skm.roc_auc_score(y, p[:, 1], **sw)
            out["pr_auc"] = skm.average_precision_score(y, p[:, 1], **sw)
        else:
            out["brier"] = skm.brier_score_loss(y, p, labels=np.arange(k), **sw)
            for avg, name in (("macro", "roc_auc"), ("weighted", "roc_auc_weighted")):
                out[name] = skm.roc_auc_score(y, p, multi_class="ovr", average=avg, **sw)
            out["pr_auc"] = np.mean(
                [skm.average_precision_score(y == c, p[:, c], **sw) for c in range(k)]
            )
        averages = ("micro", "macro", "weighted")
    for avg in averages:
        prf = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0, **kw, **sw)
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = prf[:3]
    if task == "multilabel":  # a row with no true and no predicted label scores 1 sample-wise
        both_empty = np.average((y.sum(1) == 0) & (pred.sum(1) == 0), weights=w)
        out["precision_samples"] += both_empty
        out["recall_samples"] += both_empty
        out["f1_samples"] = skm.f1_score(y, pred, average="samples", zero_division=1, **sw)
    return out


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied"])
@pytest.mark.parametrize("task", TASKS)
def test_point_values_equal_sklearn_for_every_metric(task: str, ties: bool):
    y, p = _data(task, 300, seed=1, ties=ties)
    threshold = [0.5, 0.4, 0.6, 0.5, 0.3] if task == "multilabel" else 0.45
    pred = decide(p, task, threshold=threshold)
    ref = _sklearn(task, y, p, pred, np.ones(len(y)))
    engine_values, engine_per_label = Engine(task, y, p, threshold=threshold).point()
    result = bootstrap_metrics(
        task, y, p, labels=list("abcde")[: p.shape[1]], threshold=threshold, n_resamples=50
    )
    point = classification_metrics(task, y, p, threshold=threshold)
    assert set(result.metrics) == set(point) == set(ref)
    for name in ref:
        assert result.metrics[name].value == point[name], name  # exactly the point function
        assert engine_values[name][0] == pytest.approx(ref[name], rel=1e-9, abs=1e-12), name
    per_label = per_label_metrics(task, y, pred, list("abcde")[: p.shape[1]])
    for i, (label, values) in enumerate(per_label.items()):
        assert result.per_label[label]["support"] == values["support"]
        for key in ("precision", "recall", "f1"):
            iv = result.per_label[label][key]
            assert isinstance(iv, Interval) and iv.value == values[key]
            assert engine_per_label[key][i, 0] == pytest.approx(values[key], abs=1e-12)


def test_per_label_scores_that_are_0_over_0_are_undefined_not_zero():
    # Labels: a (true and predicted), b (true, never predicted), c (predicted, never true),
    # d (neither).
    y = np.array([0, 0, 1, 1, 0, 0])
    p = np.zeros((6, 4))
    p[np.arange(6), [0, 0, 0, 0, 2, 0]] = 1.0
    result = bootstrap_metrics("multiclass", y, p, labels=list("abcd"), n_resamples=50)
    undefined = {
        label: sorted(k for k in ("precision", "recall", "f1") if math.isnan(v[k].value))
        for label, v in result.per_label.items()
    }
    assert undefined == {
        "a": [],
        "b": ["precision"],
        "c": ["recall"],
        "d": sorted(["precision", "recall", "f1"]),
    }
    assert result.per_label["b"]["f1"].value == 0.0  # 2TP / (2TP + FP + FN) = 0 / 2
    assert result.per_label["c"]["precision"].value == 0.0 and result.per_label["d"]["support"] == 0
    # The macro averages still count the undefined ones as 0, as scikit-learn does.
    assert result.metrics["precision_macro"].value == pytest.approx((3 / 5) / 4)  # a: 3 of 5


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied"])
@pytest.mark.parametrize("task", TASKS)
def test_integer_weights_equal_sklearn_sample_weight(task: str, ties: bool):
    """A resample is a vector of integer weights: the engine must equal sklearn's weighting.

    This covers the rank metrics the brief singles out (weighted Mann–Whitney ROC AUC and
    tie-grouped average precision) as well as every other metric; weights include 0.
    """
    y, p = _data(task, 300, seed=2, ties=ties)
    pred = decide(p, task)
    engine = Engine(task, y, p)
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 4, size=(len(y), 3)).astype(float)
    values, _ = engine.evaluate(weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b in range(weights.shape[1]):
            ref = _sklearn(task, y, p, pred, weights[:, b])
            for name, expected in ref.items():
                assert values[name][b] == pytest.approx(expected, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied"])
@pytest.mark.parametrize("task", TASKS)
def test_jackknife_closed_form_equals_leaving_each_example_out(task: str, ties: bool):
    y, p = _data(task, 120, seed=4, ties=ties)
    engine = Engine(task, y, p)
    closed, closed_per_label = engine.jackknife()
    generic, generic_per_label = engine.jackknife(generic=True)
    for name in closed:
        np.testing.assert_allclose(closed[name], generic[name], rtol=1e-9, atol=1e-12)
    for key in closed_per_label:
        np.testing.assert_allclose(closed_per_label[key], generic_per_label[key], atol=1e-12)
    for j in (0, 7, 63):  # brute force on a few examples
        keep = np.arange(len(y)) != j
        ref = classification_metrics(task, y[keep], p[keep])
        for name, value in ref.items():
            assert closed[name][j] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True)


def _edge_cases():
    rng = np.random.default_rng(0)
    p4 = rng.dirichlet(np.ones(4), 12)
    yield "multiclass", np.array([0, 1, 2] * 4), p4  # class 3 absent: macro AUC undefined
    yield "multiclass", np.zeros(12, int), p4  # one class only
    yield "binary", np.ones(8, int), np.tile([0.3, 0.7], (8, 1))  # one class, all tied
    yield "binary", np.array([0, 1, 0, 1]), np.array([[0.5, 0.5]] * 4)  # every score tied
    y = (rng.random((10, 4)) < 0.5).astype(int)
    y[:, 0], y[:, 1] = 0, 1  # a label never positive, a label always positive
    yield "multilabel", y, np.round(rng.random((10, 4)), 1)
    yield "multilabel", np.zeros((5, 3), int), rng.random((5, 3))  # no positives at all


@pytest.mark.parametrize("case", list(_edge_cases()), ids=lambda c: c[0])
def test_edge_cases_match_the_point_function_nan_for_nan(case):
    """Undefined metrics are NaN in the engine exactly where the point function says so."""
    task, y, p = case
    engine = Engine(task, y, p)
    values, _ = engine.point()
    point = classification_metrics(task, y, p)
    for name, expected in point.items():
        assert values[name][0] == pytest.approx(expected, abs=1e-12, nan_ok=True), name
    closed, _ = engine.jackknife()
    generic, _ = engine.jackknife(generic=True)
    for name in closed:
        np.testing.assert_allclose(closed[name], generic[name], atol=1e-12, err_msg=name)
    res = bootstrap_metrics(task, y, p, labels=list("abcd")[: p.shape[1]], method="bca")
    assert set(res.metrics) == set(point)


# --- intervals against scipy.stats.bootstrap ------------------------------------------
#
# Both sides use 5,000 resamples but different random streams. The Monte Carlo standard
# deviation of an estimated 2.5 % quantile is sqrt(0.025 * 0.975 / B) / f(q); for a
# roughly normal bootstrap distribution with standard error se, f(q) = φ(1.96) / se.
# Here se ≈ 0.028 (accuracy or F1 on 300 examples), so the sd is about 0.0011 per side
# and 0.0016 for the difference of two independent runs: a tolerance of 0.01 is > 6 sd,
# yet a tenth of the interval's width, so a wrong method (e.g. percentile vs BCa, or a
# bad acceleration) would still be caught.


def _statistics(y: np.ndarray, pred: np.ndarray, score: np.ndarray, k: int):
    """Reference statistics of resampled index arrays, vectorised along the last axis."""

    def accuracy(idx, axis=-1):
        return (y[idx] == pred[idx]).mean(axis=-1)

    def f1_macro(idx, axis=-1):
        yt, yp = y[idx], pred[idx]
        total = 0.0
        for c in range(k):
            t, q = (yt == c).sum(-1), (yp == c).sum(-1)
            tp = ((yt == c) & (yp == c)).sum(-1)
            total = total + np.where(t + q > 0, 2 * tp / np.maximum(t + q, 1), 0.0)
        return total / k

    def roc_auc_class0(idx, axis=-1):  # Mann–Whitney via average ranks
        pos = y[idx] == 0
        ranks = stats.rankdata(score[idx], axis=-1)
        n_pos = pos.sum(-1)
        n_neg = pos.shape[-1] - n_pos
        return ((ranks * pos).sum(-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

    return {"accuracy": accuracy, "f1_macro": f1_macro, "roc_auc_class0": roc_auc_class0}


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_intervals_agree_with_scipy_bootstrap(method: str):
    y, p = _data("multiclass", 300, seed=5)
    k = p.shape[1]
    pred = p.argmax(1)
    ours = bootstrap_metrics(
        "multiclass", y, p, labels=list("abcd"), n_resamples=5000, method=method, seed=11
    )
    # One-vs-rest AUC of class 0 alone: a rank metric checked through paired_bootstrap's
    # interval for model A (same engine), against scipy with ranks.
    auc_a = paired_bootstrap(
        "binary",
        (y == 0).astype(int),
        np.c_[1 - p[:, 0], p[:, 0]],
        np.c_[1 - p[:, 0], p[:, 0]],
        metric="roc_auc",
        n_resamples=5000,
        seed=11,
        method=method,
    ).a
    intervals = {name: ours.metrics[name] for name in ("accuracy", "f1_macro")}
    intervals["roc_auc_class0"] = auc_a
    for name, statistic in _statistics(y, pred, p[:, 0], k).items():
        ref = stats.bootstrap(
            (np.arange(len(y)),),
            statistic,
            vectorized=True,
            n_resamples=5000,
            method=method,
            rng=np.random.default_rng(12),
        ).confidence_interval
        iv = intervals[name]
        assert iv.value == pytest.approx(statistic(np.arange(len(y))), abs=1e-12), name
        assert iv.ci_low == pytest.approx(ref.low, abs=0.01), name
        assert iv.ci_high == pytest.approx(ref.high, abs=0.01), name


def test_bca_differs_from_percentile_where_the_distribution_is_skewed():
    """Accuracy near 1 is skewed: BCa must move the interval the way scipy's does."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 200)
    p = np.eye(2)[y] * 0.8 + 0.1
    p[:6] = p[:6, ::-1]  # six mistakes: accuracy 0.97
    res = {
        m: bootstrap_metrics(
            "binary", y, p, labels=["a", "b"], n_resamples=4000, method=m, seed=0
        ).metrics["accuracy"]
        for m in ("percentile", "bca")
    }
    correct = (decide(p, "binary") == y).astype(float)
    ref = stats.bootstrap(
        (correct,), np.mean, n_resamples=4000, method="bca", rng=np.random.default_rng(1)
    ).confidence_interval
    assert res["bca"].ci_low == pytest.approx(ref.low, abs=0.006)
    assert res["bca"].ci_high == pytest.approx(ref.high, abs=0.006)
    assert res["bca"].ci_low < res["percentile"].ci_low  # BCa shifts down, toward the tail


def test_known_answer_accuracy_interval_is_the_binomial_quantile():
    """With 80 of 100 right, resampled accuracy is exactly Binomial(100, 0.8) / 100.

    So each endpoint must be a quantile of that distribution up to Monte Carlo error on
    the probability scale: 4 sd of an empirical CDF at 4,000 resamples is about 0.01.
    """
    y = np.zeros(100, dtype=int)
    p = np.tile([0.9, 0.1], (100, 1))
    p[:20] = [0.1, 0.9]  # 20 mistakes
    iv = bootstrap_metrics("binary", y, p, labels=["a", "b"], n_resamples=4000, seed=3).metrics[
        "accuracy"
    ]
    assert iv.value == 0.8
    tol = 4 * np.sqrt(0.025 * 0.975 / 4000)
    for level, end in ((0.025, iv.ci_low), (0.975, iv.ci_high)):
        count = end * 100
        assert stats.binom.cdf(np.ceil(count - 1e-9), 100, 0.8) >= level - tol
        assert stats.binom.cdf(np.floor(count + 1e-9) - 1, 100, 0.8) <= level + tol
    # Degenerate cases: all right -> [1, 1], said to have no width; one right of two ->
    # the whole range.
    perfect = bootstrap_metrics("binary", y, np.tile([0.9, 0.1], (100, 1)), labels=["a", "b"])
    assert perfect.metrics["accuracy"] == Interval(1.0, 1.0, 1.0, CONSTANT_NOTE)
    assert perfect.fallbacks["accuracy"] == CONSTANT_NOTE
    two = bootstrap_metrics(
        "binary", np.array([0, 0]), np.array([[0.9, 0.1], [0.1, 0.9]]), labels=["a", "b"]
    )
    assert (two.metrics["accuracy"].ci_low, two.metrics["accuracy"].ci_high) == (0.0, 1.0)


def test_undefined_resamples_are_counted_and_ignored():
    y, p = _data("binary", 40, seed=7)
    y[:] = 0
    y[0] = 1  # one positive
    res = bootstrap_metrics("binary", y, p, labels=["a", "b"], n_resamples=300, progress=True)
    # Absent from a resample with probability (1 - 1/40)^40 ≈ 0.36: AUC and AP undefined.
    assert 60 < res.n_undefined["roc_auc"] < 160
    assert res.n_undefined["pr_auc"] == res.n_undefined["roc_auc"]
    assert "accuracy" not in res.n_undefined
    iv = res.metrics["roc_auc"]
    assert np.isfinite([iv.ci_low, iv.ci_high]).all() and iv.ci_low <= iv.value <= iv.ci_high


# --- every interval contains its estimate (issue 12) -----------------------------------


def _rare_labels(seed: int, n: int = 200, rare: int = 12, common: int = 4):
    """Multi-label data shaped like a GoEmotions slice: many labels with a single positive
    that the model ranks at random (low AP), a few common labels it ranks well."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, rare + common), np.int64)
    y[rng.choice(n, rare, replace=False), np.arange(rare)] = 1
    y[:, rare:] = rng.random((n, common)) < 0.3
    p = np.clip(0.35 * y + 0.5 * rng.random(y.shape), 0, 1)
    p[:, :rare] = rng.random((n, rare))
    return y, p


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_macro_average_over_rare_labels_contains_its_estimate(method: str):
    """The reported failure: a rare label with no positive in a resample left the macro
    average there, so ``pr_auc_macro`` resampled above its estimate and its interval
    excluded it (before the fix: 0.251 [0.275, 0.472] on this data, both methods)."""
    y, p = _rare_labels(seed=0)
    labels = [str(i) for i in range(y.shape[1])]
    res = bootstrap_metrics("multilabel", y, p, labels=labels, n_resamples=500, method=method)
    for name in ("pr_auc_macro", "roc_auc_macro", "recall_macro", "f1_macro"):
        iv = res.metrics[name]
        assert iv.ci_low <= iv.value <= iv.ci_high, (name, iv)
        assert iv.fallback is None, (name, iv)  # fixed in the statistic, not by widening
    assert "pr_auc_macro" not in res.n_undefined  # no resample is thrown away either


def test_a_label_missing_from_a_resample_borrows_its_value_from_the_next():
    """Resample 0 leaves out label 0's only positive: label 0 then counts with its value
    in resample 1, and the average still runs over both labels."""
    y = np.array([[1, 1], [0, 1], [0, 0], [0, 1], [0, 0]])
    p = np.array([[0.3, 0.9], [0.8, 0.7], [0.1, 0.2], [0.2, 0.4], [0.5, 0.6]])
    w = np.array([[0, 2], [2, 1], [1, 1], [1, 0], [1, 1]], dtype=float)
    values, _ = Engine("multilabel", y, p).evaluate(w)

    def ap(j: int, b: int) -> float:
        return skm.average_precision_score(y[:, j], p[:, j], sample_weight=w[:, b])

    assert values["pr_auc_macro"][0] == pytest.approx((ap(0, 1) + ap(1, 0)) / 2)
    assert values["pr_auc_macro"][1] == pytest.approx((ap(0, 1) + ap(1, 1)) / 2)
    # Recall of label 0 in resample 0 (no positive there, one in the data) is undefined,
    # not sklearn's zero_division 0, and its per-label interval leaves that resample out.
    _, per_label = Engine("multilabel", y, p, threshold=0.25).evaluate(w)
    assert np.isnan(per_label["recall"][0, 0]) and per_label["recall"][0, 1] == 1.0
    # With every weight 1 each column stands alone: no borrowing, sklearn's value.
    alone, _ = Engine("multilabel", y, p).evaluate(w[:, :1], resamples=False)
    assert np.isnan(alone["pr_auc_macro"][0])


def test_borrowing_is_cyclic_within_the_block_and_leaves_hopeless_rows_nan():
    nan = np.nan
    values = np.array([[1.0, nan, 3.0, nan], [nan, nan, nan, nan], [nan, 2.0, nan, nan]])
    np.testing.assert_array_equal(
        borrow_undefined(values),
        [[1.0, 3.0, 3.0, 1.0], [nan, nan, nan, nan], [2.0, 2.0, 2.0, 2.0]],
    )


def _bounds(*args) -> tuple[float, float, str | None]:
    iv = _interval(*args)
    return iv.ci_low, iv.ci_high, iv.fallback


def test_interval_rule_falls_back_and_says_so():
    above = np.linspace(0.6, 0.9, 200)  # every resample above the estimate 0.5
    jack = np.linspace(0.4, 0.6, 30)
    lo, hi, why = _bounds(above, 0.95, "percentile", 0.5, None, 0.5)
    assert lo == 0.5 and hi == pytest.approx(np.quantile(above, 0.975))
    assert why is not None and "widened" in why and "0.0% of the resamples" in why
    lo, hi, why = _bounds(above, 0.95, "bca", 0.5, jack, 0.5)
    assert why is not None and why.startswith("BCa fell back to percentile")
    assert "one side of the estimate" in why and "widened" in why
    assert lo == 0.5
    # A BCa interval that is fine stays BCa, with no note.
    sym = np.random.default_rng(0).normal(0.5, 0.05, 2000)
    lo, hi, why = _bounds(sym, 0.95, "bca", 0.5, jack, 0.5)
    assert why is None and lo < 0.5 < hi
    # Rounding between sklearn's value and the engine's sums is not a fallback.
    lo, hi, why = _bounds(np.full(50, 0.3 + 1e-16), 0.95, "bca", 0.3 + 1e-16, jack, 0.3)
    assert lo == 0.3 and hi == pytest.approx(0.3, abs=1e-15) and why is None
    # No interval around an undefined estimate; a note when no resample was defined.
    assert np.isnan(_bounds(above, 0.95, "percentile", np.nan, None, np.nan)[:2]).all()
    lo, hi, why = _bounds(np.full(10, np.nan), 0.95, "percentile", 0.5, None, 0.5)
    assert np.isnan([lo, hi]).all() and why is not None and "every resample" in why


def test_fallback_reaches_the_result_and_its_json():
    """Seven examples, two classes seen once and ranked low: duplicating one in a resample
    raises its average precision, so no resample falls below the estimate."""
    y = np.array([2, 2, 1, 2, 2, 2, 0])
    raw = np.array([[2, 2, 1], [2, 2, 3], [2, 1, 3], [3, 1, 2], [2, 3, 1], [2, 3, 2], [1, 3, 3]])
    p = raw / raw.sum(1, keepdims=True)
    res = bootstrap_metrics("multiclass", y, p, labels=list("abc"), n_resamples=200, seed=4)
    iv = res.metrics["pr_auc"]
    assert iv.ci_low == iv.value < iv.ci_high
    assert iv.fallback is not None and "widened" in iv.fallback
    assert {k: v for k, v in res.fallbacks.items() if "/" not in k} == {
        "pr_auc": iv.fallback,
        "ece": ECE_NOTE,
    }
    assert iv.to_dict()["fallback"] == iv.fallback
    assert "fallback" not in res.metrics["accuracy"].to_dict()


@st.composite
def _problems(draw: st.DrawFn) -> tuple[str, np.ndarray, np.ndarray, str]:
    """Small random problems: every task, rare labels or classes, tied or distinct scores,
    no to strong signal."""
    task = draw(st.sampled_from(TASKS))
    n = draw(st.integers(1, 40))
    k = (
        2
        if task == "binary"
        else draw(st.integers(3, 5) if task == "multiclass" else st.integers(2, 8))
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = draw(st.sampled_from([0, 2, 4]))  # 0: continuous scores; else a few (ties)
    signal = draw(st.sampled_from([0.0, 0.5, 2.0]))
    rare = draw(st.integers(0, k - 1))  # labels / classes with a single positive
    if task == "multilabel":
        y = (rng.random((n, k)) < rng.choice([0.1, 0.5, 0.9], size=k)).astype(np.int64)
        y[:, :rare] = 0
        y[rng.integers(0, n, rare), np.arange(rare)] = 1
        raw = rng.random((n, k)) if not levels else rng.integers(0, levels + 1, (n, k)) / levels
        p = np.clip((raw + signal * y) / (1 + signal), 0, 1)
    else:
        y = rng.choice(k, size=n, p=rng.dirichlet(np.ones(k)))
        y = np.where(y < rare, k - 1, y)
        y[rng.choice(n, min(rare, n), replace=False)] = np.arange(min(rare, n))
        raw = rng.random((n, k)) if not levels else rng.integers(1, levels + 1, (n, k)) * 1.0
        raw = raw + signal * np.eye(k)[y]
        p = raw / raw.sum(1, keepdims=True)
    return task, y, p, draw(st.sampled_from(["percentile", "bca"]))


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(_problems())
def test_every_interval_contains_its_estimate(problem: tuple[str, np.ndarray, np.ndarray, str]):
    """For every metric and per-label value: low <= estimate <= high; an undefined
    estimate has no interval; NaN bounds around a defined one come with their reason."""
    task, y, p, method = problem
    labels = [str(i) for i in range(p.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap_metrics(task, y, p, labels=labels, n_resamples=100, method=method)
    ivs = list(res.metrics.items()) + [
        (f"{label}/{key}", iv)
        for label, entry in res.per_label.items()
        for key, iv in entry.items()
        if isinstance(iv, Interval)
    ]
    for name, iv in ivs:
        if np.isnan(iv.value):
            assert np.isnan(iv.ci_low) and np.isnan(iv.ci_high), name
        elif np.isnan(iv.ci_low) or np.isnan(iv.ci_high):
            assert iv.fallback is not None, name
            assert "every resample" in iv.fallback or iv.fallback == ECE_NOTE, name
        else:
            assert iv.ci_low <= iv.value <= iv.ci_high, (name, iv)
        assert (iv.fallback is None) == (name not in res.fallbacks), name
    # The paired comparison's three intervals obey the same rule (B: a blurred model).
    blurred = 0.5 * p + 0.5 * p.mean(axis=0)
    metric = "pr_auc_macro" if task == "multilabel" else "f1_macro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = paired_bootstrap(task, y, p, blurred, metric=metric, n_resamples=100, method=method)
    for iv in (cmp.a, cmp.b, cmp.difference):
        if np.isnan(iv.value):
            assert np.isnan(iv.ci_low) and np.isnan(iv.ci_high), iv
        elif np.isnan(iv.ci_low) or np.isnan(iv.ci_high):
            assert iv.fallback is not None and "every resample" in iv.fallback, iv
        else:
            assert iv.ci_low <= iv.value <= iv.ci_high, iv


def test_same_seed_same_intervals_and_json_ready():
    y, p = _data("multilabel", 80, seed=8)
    labels = list("abcde")
    runs = [
        bootstrap_metrics("multilabel", y, p, labels=labels, n_resamples=120, seed=s, method=m)
        for s, m in ((4, "bca"), (4, "bca"), (5, "bca"))
    ]
    assert runs[0].metrics == runs[1].metrics and runs[0].per_label == runs[1].per_label
    assert runs[0].metrics != runs[2].metrics
    assert runs[0].method == "bca" and runs[0].seed == 4 and runs[0].n_resamples == 120
    # Resample b does not depend on how many resamples are drawn (documented stream).
    short = np.hstack(list(weight_blocks(80, 120, seed=4)))
    long = np.hstack(list(weight_blocks(80, 170, seed=4)))
    assert short.shape == (80, 120) and (short == long[:, :120]).all()
    assert (short.sum(0) == 80).all()  # every resample draws n examples
    assert Interval(float("nan"), 0.1, float("nan")).to_dict() == {
        "value": None,
        "ci_low": 0.1,
        "ci_high": None,
    }


def test_bad_arguments_raise():
    y, p = _data("binary", 20, seed=0)
    with pytest.raises(ValueError, match="method"):
        bootstrap_metrics("binary", y, p, labels=["a", "b"], method="basic")
    with pytest.raises(ValueError, match="label names"):
        bootstrap_metrics("binary", y, p, labels=["a"])
    with pytest.raises(ValueError, match="Unknown metric"):
        paired_bootstrap("binary", y, p, p, metric="f1_samples")


# --- paired comparison -----------------------------------------------------------------


def test_paired_identical_models_show_no_difference():
    y, p = _data("multiclass", 200, seed=9)
    cmp = paired_bootstrap("multiclass", y, p, p, metric="f1_macro", n_resamples=300)
    assert cmp.difference == Interval(0.0, 0.0, 0.0)
    assert cmp.p_value == 1.0
    assert (cmp.mcnemar_statistic, cmp.mcnemar_p_value) == (0.0, 1.0)
    assert cmp.a == cmp.b


def test_paired_clearly_better_model_is_significant_and_uses_shared_resamples():
    y, good = _data("binary", 300, seed=10)
    rng = np.random.default_rng(0)
    noisy = 0.35 * good + 0.65 * rng.dirichlet([1, 1], len(y))
    cmp = paired_bootstrap("binary", y, noisy, good, metric="accuracy", n_resamples=500, seed=2)
    assert cmp.difference.value > 0.05
    assert 0 < cmp.difference.ci_low <= cmp.difference.value <= cmp.difference.ci_high
    assert cmp.p_value < 0.01 and cmp.mcnemar_p_value is not None
    assert cmp.mcnemar_p_value < 0.01
    # Model A's interval is the one bootstrap_metrics gives with the same seed: the two
    # models were scored on the same resamples as any other run with that seed.
    alone = bootstrap_metrics("binary", y, noisy, labels=["a", "b"], n_resamples=500, seed=2)
    assert cmp.a == alone.metrics["accuracy"]
    doc = cmp.to_dict()
    assert doc["difference"]["ci_low"] == cmp.difference.ci_low and doc["metric"] == "accuracy"


def test_paired_multilabel_has_no_mcnemar():
    y, p = _data("multilabel", 100, seed=11)
    q = np.clip(p + 0.05, 0, 1)
    cmp = paired_bootstrap("multilabel", y, p, q, metric="f1_micro", n_resamples=200)
    assert cmp.mcnemar_statistic is None and cmp.mcnemar_p_value is None
    assert cmp.difference.ci_low <= cmp.difference.value <= cmp.difference.ci_high
    assert 0 < cmp.p_value <= 1


def test_mcnemar_known_answers():
    # b = 10 discordant pairs favour A, c = 2 favour B: exact binomial test (b + c < 25),
    # p = 2 * P(X <= 2 | X ~ Bin(12, 1/2)) = 2 * (1 + 12 + 66) / 4096.
    a = np.array([True] * 10 + [False] * 2 + [True] * 5 + [False] * 3)
    b = np.array([False] * 10 + [True] * 2 + [True] * 5 + [False] * 3)
    statistic, p = mcnemar(a, b)
    assert statistic == 2.0
    assert p == pytest.approx(158 / 4096)
    # b = 30, c = 10: chi-square with continuity correction, (|30 - 10| - 1)^2 / 40.
    a = np.array([True] * 30 + [False] * 10)
    statistic, p = mcnemar(a, ~a)
    assert statistic == pytest.approx(361 / 40)
    assert p == pytest.approx(stats.chi2.sf(361 / 40, 1))
    assert mcnemar(a, a) == (0.0, 1.0)


def test_macro_ranking_metrics_skip_a_label_on_every_example_like_the_figure():
    # A label present on every example has no negative: its ROC AUC is undefined and its
    # average precision is 1 whatever the scores. Both macro metrics average the others,
    # as the report's ROC / precision-recall figure does (it names the skipped label).
    y, p = _data("multilabel", 200, seed=4)
    y[:, 0] = 1
    m = classification_metrics("multilabel", y, p)
    rest = slice(1, None)
    assert m["roc_auc_macro"] == pytest.approx(skm.roc_auc_score(y[:, rest], p[:, rest]))
    assert m["pr_auc_macro"] == pytest.approx(skm.average_precision_score(y[:, rest], p[:, rest]))
    res = bootstrap_metrics("multilabel", y, p, labels=list("abcde"), n_resamples=200)
    for name in ("roc_auc_macro", "pr_auc_macro"):
        assert res.metrics[name].value == pytest.approx(m[name])
        assert res.metrics[name].ci_low <= m[name] <= res.metrics[name].ci_high


def test_a_rare_label_all_found_is_said_to_have_no_width_and_ece_no_interval():
    """Statistics review D1/D2: 5 of 5 positives found is recall 1.0 in every resample,
    whose true value may be as low as 0.48 (exact binomial); and the binned ECE is biased
    upward, so intervals around it missed the truth most of the time at n = 200."""
    rng = np.random.default_rng(0)
    y = np.zeros(200, dtype=int)
    y[:5] = 1
    s = np.where(y == 1, 0.9, rng.uniform(0.0, 0.6, 200))
    res = bootstrap_metrics("binary", y, np.column_stack([1 - s, s]), labels=["n", "p"], seed=1)
    recall = res.per_label["p"]["recall"]
    assert (recall.value, recall.ci_low, recall.ci_high) == (1.0, 1.0, 1.0)
    assert res.fallbacks["p/recall"] == recall.fallback == CONSTANT_NOTE
    ece = res.metrics["ece"]
    assert np.isfinite(ece.value) and np.isnan(ece.ci_low) and ece.fallback == ECE_NOTE
    assert ece.to_dict()["ci_low"] is None


def test_a_comparison_resting_on_few_disagreements_is_not_called_a_win():
    """Statistics review D10: B right where A is wrong on 5 of 200 examples, and alike on
    the rest: the bootstrap says p = 0.001, McNemar's exact test 0.0625."""
    from textclf.evaluation.report import comparison_outcome, comparison_sentence

    y = np.zeros(200, dtype=int)
    a = np.tile([0.9, 0.1], (200, 1))
    a[:5] = [0.1, 0.9]
    b = np.tile([0.9, 0.1], (200, 1))
    cmp = paired_bootstrap("binary", y, a, b, metric="accuracy", seed=0)
    assert cmp.n_disagree == 5 and cmp.difference.ci_low > 0
    comp = {**cmp.to_dict(), "baseline": "x", "greater_is_better": True}
    assert comparison_outcome(comp) == "unclear"
    doc = {"comparison": comp, "baselines": {}, "confidence": 0.95, "split": "test"}
    assert "Only 5 example(s) are decided differently" in comparison_sentence(doc)


def test_the_fallback_note_says_each_reason_once_and_names_a_few_metrics(caplog):
    y = np.array([0, 1] * 30)
    constant = np.tile([0.9, 0.1], (60, 1))  # a majority-class baseline: every resample alike
    with caplog.at_level(logging.INFO, logger="textclf.evaluation.bootstrap"):
        result = bootstrap_metrics("binary", y, constant, labels=["a", "b"], n_resamples=200)
    [line] = [r.getMessage() for r in caplog.records if "not plain" in r.getMessage()]
    constant_ones = [k for k, why in result.fallbacks.items() if why == CONSTANT_NOTE]
    assert line.count(CONSTANT_NOTE) == 1
    assert f"{len(constant_ones)} interval(s)" in line
    assert f"{', '.join(constant_ones[:6])} and {len(constant_ones) - 6} more: " in line
