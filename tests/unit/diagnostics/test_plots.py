"""Diagnostic figures: each is drawn from small known inputs and checked for what it shows."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from sklearn import metrics as skm

from textclf.diagnostics import plots as P
from textclf.diagnostics.curves import parse_log_history
from textclf.evaluation.metrics import expected_calibration_error

LONG = "an extremely long label name that cannot possibly fit in a tick"


def image_data(ax: Axes) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


def xticks(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def yticks(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def vlines(ax: Axes, gid: str | None = None) -> list[float]:
    """x of every vertical line (``axvline``) on the axes."""
    out = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if len(x) == 2 and x[0] == x[1] and (gid is None or line.get_gid() == gid):
            out.append(float(x[0]))
    return out


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def bars(ax: Axes, gid: str | None = None) -> list[Rectangle]:
    return [
        p for p in ax.patches if isinstance(p, Rectangle) and (gid is None or p.get_gid() == gid)
    ]


# --------------------------------------------------------------------------- confusion
def test_confusion_counts_and_ticks() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2, 2, 0, 2])
    expected = np.array([[2, 1, 0], [0, 1, 1], [1, 0, 3]])
    fig = P.confusion_matrix_figure(y_true, y_pred, ["a", "b", LONG])
    ax = fig.axes[0]
    np.testing.assert_array_equal(image_data(ax), expected)
    assert xticks(ax)[:2] == ["a", "b"] and yticks(ax)[:2] == ["a", "b"]
    short = xticks(ax)[2]
    assert short.endswith("…") and len(short) == P.LABEL_WIDTH and LONG.startswith(short[:-1])
    # every non-zero cell is annotated with its count, zeros are left blank
    assert sorted(texts(ax)) == sorted(str(v) for v in expected.ravel() if v)


def test_confusion_row_normalised() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 0])
    fig = P.confusion_matrix_figure(y_true, y_pred, ["a", "b"], normalize=True)
    np.testing.assert_allclose(image_data(fig.axes[0]), [[0.75, 0.25], [0.5, 0.5]])
    assert "0.75" in texts(fig.axes[0])


def test_confusion_many_classes_shows_the_most_confused() -> None:
    labels = [f"class{i}" for i in range(6)]
    # classes 4 and 5 swap often, 1 is once predicted as 2; the rest are always right
    y_true = np.array([0] * 5 + [1] * 5 + [2] * 5 + [3] * 5 + [4] * 5 + [5] * 5)
    y_pred = y_true.copy()
    y_pred[[20, 21, 22]] = 5
    y_pred[[25, 26]] = 4
    y_pred[5] = 2
    fig = P.confusion_matrix_figure(y_true, y_pred, labels, max_classes=3)
    ax = fig.axes[0]
    assert xticks(ax) == ["class4", "class5", "class1"]
    assert yticks(ax) == ["class4", "class5", "class1"]
    np.testing.assert_array_equal(image_data(ax), [[2, 3, 0], [2, 3, 0], [0, 0, 4]])
    assert "3 of 6 classes, those most confused" in ax.get_title()


# --------------------------------------------------------------------------- multi-label
def test_multilabel_confusion_panels() -> None:
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [1, 0]])
    y_pred = np.array([[1, 1], [0, 1], [0, 0], [0, 0], [1, 0]])
    fig = P.multilabel_confusion_figure(y_true, y_pred, ["a", "b"])
    a, b = (ax for ax in fig.axes if ax.get_visible())
    assert texts(a) == ["TN\n2", "FP\n0", "FN\n1", "TP\n2"]
    assert texts(b) == ["TN\n2", "FP\n1", "FN\n1", "TP\n1"]
    assert a.get_title() == "a"
    np.testing.assert_allclose(image_data(a), [[1.0, 0.0], [1 / 3, 2 / 3]])


def test_multilabel_confusion_keeps_the_labels_with_most_errors() -> None:
    y_true = np.zeros((6, 4), int)
    y_pred = np.zeros((6, 4), int)
    y_pred[:3, 2] = 1  # label c: 3 false positives
    y_pred[:1, 0] = 1  # label a: 1 false positive
    fig = P.multilabel_confusion_figure(y_true, y_pred, list("abcd"), max_labels=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["c", "a"]
    assert "2 of 4 labels" in fig.get_suptitle()


def test_cooccurrence_matrices() -> None:
    y_true = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1], [1, 0, 0]])
    y_pred = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]])
    fig = P.cooccurrence_figure(y_true, y_pred, ["a", "b", "c"])
    left, right = fig.axes[:2]
    off = ~np.eye(3, dtype=bool)
    for ax, y in ((left, y_true), (right, y_pred)):
        shown = ax.images[0].get_array()
        assert isinstance(shown, np.ma.MaskedArray)
        np.testing.assert_array_equal(shown.mask, ~off)
        np.testing.assert_array_equal(np.asarray(shown)[off], (y.T @ y)[off])
    assert "3 examples with 2+ labels" in left.get_title()
    assert "2 examples with 2+ labels" in right.get_title()


# --------------------------------------------------------------------------- training
def test_learning_curves_mark_the_best_step() -> None:
    h = [
        {"loss": 1.0, "epoch": 0.5, "step": 50},
        {"eval_loss": 0.8, "eval_f1_macro": 0.6, "epoch": 1.0, "step": 100},
        {"loss": 0.6, "epoch": 1.5, "step": 150},
        {"eval_loss": 0.7, "eval_f1_macro": 0.8, "epoch": 2.0, "step": 200},
        {"loss": 0.4, "epoch": 2.5, "step": 250},
        {"eval_loss": 0.75, "eval_f1_macro": 0.7, "epoch": 3.0, "step": 300},
    ]
    curves = parse_log_history(h)
    fig = P.learning_curves_figure(curves)
    loss_ax, metric_ax = (ax for ax in fig.axes if ax.get_lines())
    assert vlines(loss_ax, "best_step") == [200.0] and vlines(metric_ax, "best_step") == [200.0]
    train = next(line for line in loss_ax.get_lines() if line.get_label() == "training loss")
    np.testing.assert_array_equal(train.get_xdata(), [50, 150, 250])
    np.testing.assert_array_equal(train.get_ydata(), [1.0, 0.6, 0.4])
    metric = next(line for line in metric_ax.get_lines() if "f1_macro" in str(line.get_label()))
    np.testing.assert_array_equal(metric.get_ydata(), [0.6, 0.8, 0.7])
    assert any("step 200, f1_macro 0.800" in t for t in texts(metric_ax))
    assert any(c.get_xlabel() == "epoch" for c in loss_ax.child_axes)  # epochs on top


def test_learning_curves_without_validation() -> None:
    curves = parse_log_history([{"loss": 0.7, "epoch": 0.5, "step": 5}, {"loss": 0.5, "step": 10}])
    fig = P.learning_curves_figure(curves)
    plotted = [ax for ax in fig.axes if ax.get_lines()]
    assert len(plotted) == 1
    assert "no validation split" in plotted[0].get_title()
    assert vlines(plotted[0], "best_step") == []


# --------------------------------------------------------------------------- confidence
def test_confidence_histogram_counts() -> None:
    confidence = np.array([0.95, 0.9, 0.55, 0.42, 0.97, 0.61, 0.5])
    correct = np.array([True, True, False, False, True, True, False])
    fig = P.confidence_histogram_figure(confidence, correct, bins=10)
    ax = fig.axes[0]
    right, wrong = ax.containers
    assert sum(p.get_height() for p in right) == 4
    assert sum(p.get_height() for p in wrong) == 3
    # 0.9, 0.95 and 0.97 share the last bin
    assert [p.get_height() for p in right][-1] == 3
    legend = legend_texts(ax)
    assert legend[0].startswith("correct (n=4") and legend[1].startswith("incorrect (n=3")


def test_reliability_diagram_matches_the_reported_ece() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(150), y[:150]] += 1.0
    proba /= proba.sum(1, keepdims=True)
    confidence, correct = proba.max(1), proba.argmax(1) == y
    fig = P.reliability_figure(confidence, correct)
    ax = fig.axes[0]
    assert f"ECE {expected_calibration_error(y, proba):.3f}" in ax.get_title()
    # each accuracy bar is the share correct in its bin
    for bar in bars(ax, "accuracy"):
        lo = bar.get_x()
        inside = (confidence >= lo - 1e-12) & (confidence < lo + bar.get_width() - 1e-12)
        assert bar.get_height() == pytest.approx(correct[inside].mean())
    assert sum(b.get_height() for b in bars(fig.axes[1], "counts")) == 300


def test_reliability_bins_by_hand() -> None:
    confidence = np.array([0.15, 0.18, 0.85, 0.95, 0.92])
    correct = np.array([False, True, True, True, False])
    fig = P.reliability_figure(confidence, correct, n_bins=5)
    heights = [b.get_height() for b in bars(fig.axes[0], "accuracy")]
    assert heights == pytest.approx([0.5, 2 / 3])
    # |0.5 - 0.165| * 2/5 + |2/3 - 0.9067| * 3/5
    assert "ECE 0.278" in fig.axes[0].get_title()


def test_score_distributions_draw_each_threshold() -> None:
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    scores = np.clip(y * 0.7 + 0.1, 0, 1)
    thresholds = [0.3, 0.45, 0.6]
    fig = P.score_distributions_figure(scores, y, ["a", "b", "c"], thresholds)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [vlines(ax, "threshold") for ax in panels] == [[0.3], [0.45], [0.6]]
    assert panels[2].get_title().startswith("c\n3 pos · 1 neg · t=0.60")
    # each group is drawn as shares of itself
    pos_patch = next(p for p in panels[0].patches if p.get_gid() == "positive")
    assert pos_patch is not None


def test_score_distributions_subset_by_errors() -> None:
    y = np.zeros((4, 3), int)
    y[:, 1] = 1
    scores = np.full((4, 3), 0.1)
    scores[:, 2] = 0.9  # label c: 4 false positives at 0.5
    scores[2:, 1] = 0.8  # label b: 2 false negatives (0.1 < 0.5)
    fig = P.score_distributions_figure(scores, y, list("abc"), 0.5, max_labels=2)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_visible()]
    assert titles == ["c", "b"]
    assert "2 of 3 labels, those with the most errors" in fig.get_suptitle()


# --------------------------------------------------------------------------- per label
def test_per_label_f1_sorted_worst_first() -> None:
    f1 = np.array([0.9, 0.4, 0.7])
    fig = P.per_label_f1_figure(
        ["a", "b", LONG], f1, f1 - 0.1, np.minimum(f1 + 0.05, 1), np.array([50, 10, 30])
    )
    ax = fig.axes[0]
    ticks = yticks(ax)
    assert ticks[:2] == ["b (n=10)", f"{P.shorten(LONG)} (n=30)"]
    assert ticks[2] == "a (n=50)"
    widths = [p.get_width() for p in ax.patches if isinstance(p, Rectangle)][:3]
    assert widths == pytest.approx([0.4, 0.7, 0.9])
    assert vlines(ax) == pytest.approx([f1.mean()])


def test_per_label_f1_caps_the_labels_and_the_height() -> None:
    k = 200
    f1 = np.linspace(0, 1, k)[::-1]
    fig = P.per_label_f1_figure([f"l{i}" for i in range(k)], f1, max_labels=40)
    ax = fig.axes[0]
    assert len(yticks(ax)) == 40 and yticks(ax)[0] == "l199"
    assert "the 40 lowest of 200 labels" in ax.get_title()
    assert fig.get_figheight() <= P.MAX_HEIGHT


# --------------------------------------------------------------------------- ROC / PR
def test_roc_pr_binary_legends_carry_sklearn_values() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    p1 = np.clip(y * 0.3 + rng.random(80) * 0.7, 0, 1)
    fig = P.roc_pr_figure(y, np.c_[1 - p1, p1], ["neg", "pos"], task="binary")
    roc, pr = fig.axes[:2]
    assert legend_texts(roc) == [f"pos (AUC {skm.roc_auc_score(y, p1):.3f})"]
    assert legend_texts(pr)[0] == f"pos (AP {skm.average_precision_score(y, p1):.3f})"


def test_roc_pr_multiclass_averages_and_skipped_class() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 120)  # class 3 never occurs
    proba = rng.dirichlet([1, 1, 1, 1], 120)
    proba[np.arange(120), y] += 0.8
    proba /= proba.sum(1, keepdims=True)
    labels = ["a", "b", "c", "empty"]
    fig = P.roc_pr_figure(y, proba, labels, task="multiclass", max_worst=2)
    roc, pr = fig.axes[:2]
    onehot = np.eye(4, dtype=int)[y]
    micro = skm.roc_auc_score(onehot.ravel(), proba.ravel())
    macro = skm.roc_auc_score(onehot[:, :3], proba[:, :3], average="macro")
    ap_macro = skm.average_precision_score(onehot[:, :3], proba[:, :3], average="macro")
    legend = legend_texts(roc)
    assert legend[0] == f"micro-average (AUC {micro:.3f})"
    assert legend[1] == f"macro-average (AUC {macro:.3f})"
    assert len(legend) == 4  # and the two worst classes
    assert legend_texts(pr)[1] == f"macro-average (AP {ap_macro:.3f})"
    assert "1 of 4 skipped" in fig.get_suptitle() and "empty" in fig.get_suptitle()


def test_roc_pr_multilabel() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random((60, 3)) < 0.4).astype(int)
    scores = np.clip(y * 0.4 + rng.random((60, 3)) * 0.6, 0, 1)
    fig = P.roc_pr_figure(y, scores, ["x", "y", "z"], task="multilabel")
    micro = skm.average_precision_score(y.ravel(), scores.ravel())
    assert legend_texts(fig.axes[1])[0] == f"micro-average (AP {micro:.3f})"


def test_roc_pr_rejects_an_unknown_task() -> None:
    with pytest.raises(ValueError, match="task must be"):
        P.roc_pr_figure(np.array([0, 1]), np.array([0.1, 0.9]), ["a", "b"], task="regression")


# --------------------------------------------------------------------------- embeddings
def _scatter(ax: Axes, gid: str) -> PathCollection:
    return next(c for c in ax.collections if isinstance(c, PathCollection) and c.get_gid() == gid)


def _offsets(ax: Axes, gid: str) -> np.ndarray:
    return np.asarray(_scatter(ax, gid).get_offsets())


def test_embedding_points_and_crosses() -> None:
    rng = np.random.default_rng(4)
    coords = rng.normal(size=(30, 2))
    labels = ["a"] * 12 + ["b"] * 10 + ["c"] * 8
    correct = np.ones(30, bool)
    correct[[0, 5, 14, 29]] = False
    fig = P.embedding_figure(coords, labels, correct, title="PCA")
    ax = fig.axes[0]
    ok, bad = _offsets(ax, "correct"), _offsets(ax, "incorrect")
    assert len(ok) == 26 and len(bad) == 4
    assert sorted(map(tuple, bad.tolist())) == sorted(map(tuple, coords[~correct].tolist()))
    assert legend_texts(ax) == ["a", "b", "c", "wrong prediction (4)"]


def test_embedding_greys_the_rare_labels() -> None:
    labels = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"]
    coords = np.arange(30, dtype=float).reshape(15, 2)
    fig = P.embedding_figure(coords, labels, None, max_legend=2)
    ax = fig.axes[0]
    assert len(_offsets(ax, "correct")) == 15
    assert len(_offsets(ax, "incorrect")) == 0
    assert legend_texts(ax) == ["a", "b", "other (3 labels)"]
    assert "the 2 most frequent of 5 labels" in ax.get_title()
    colors = np.asarray(_scatter(ax, "correct").get_facecolor())
    grey = np.isclose(colors[:, :3], np.array([0xBB / 255] * 3)).all(axis=1)
    assert grey.sum() == 6 and grey[:6].all()  # grey points are drawn first


# --------------------------------------------------------------------------- data
def test_label_distribution_counts_and_shares() -> None:
    counts = {"train": {"a": 6, "b": 2}, "test": {"a": 1, "b": 3}}
    fig = P.label_distribution_figure(counts, normalize=False)
    ax = fig.axes[0]
    assert xticks(ax) == ["a", "b"]
    train, test = ax.containers
    assert [p.get_height() for p in train] == [6, 2]
    assert [p.get_height() for p in test] == [1, 3]
    shares = P.label_distribution_figure(counts).axes[0].containers
    assert [p.get_height() for p in shares[1]] == pytest.approx([25.0, 75.0])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["train (n=8)", "test (n=4)"]


def test_label_distribution_many_labels_are_horizontal_and_capped() -> None:
    counts = {"train": {f"l{i}": 100 - i for i in range(30)}}
    fig = P.label_distribution_figure(counts, max_labels=20)
    ax = fig.axes[0]
    assert yticks(ax)[:2] == ["l0", "l1"] and len(yticks(ax)) == 20
    assert "the 20 most frequent of 30 labels" in fig.get_suptitle()


def test_text_length_marks_the_truncation() -> None:
    lengths = {"train": np.array([10, 20, 30, 200]), "test": np.array([5, 300])}
    fig = P.text_length_figure(lengths, max_length=128)
    ax = fig.axes[0]
    assert vlines(ax, "max_length") == [128.0]
    legend = legend_texts(ax)
    assert "25.0 % > 128" in legend[0] and "50.0 % > 128" in legend[1]


# --------------------------------------------------------------------------- output
def test_save_and_png(tmp_path: Path) -> None:
    fig = P.confusion_matrix_figure(np.array([0, 1]), np.array([0, 1]), ["a", "b"])
    png = P.figure_png(fig)
    assert png.startswith(b"\x89PNG")
    out = P.save_figure(fig, tmp_path / "figs" / "cm.png")
    assert out.read_bytes().startswith(b"\x89PNG")
    svg = P.save_figure(fig, tmp_path / "figs" / "cm.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["cm.png", "cm.svg"]


def test_figures_are_not_registered_with_pyplot_and_are_freed() -> None:
    from matplotlib._pylab_helpers import Gcf

    fig = P.embedding_figure(np.zeros((3, 2)), ["a", "b", "a"], np.array([1, 0, 1]))
    P.figure_png(fig)
    assert isinstance(fig, Figure)
    assert Gcf.get_num_fig_managers() == 0
    ref = weakref.ref(fig)
    del fig
    gc.collect()
    assert ref() is None


def test_plots_import_neither_torch_nor_pyplot() -> None:
    code = (
        "import sys, textclf.diagnostics.plots, textclf.diagnostics.curves; "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib.pyplot') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
