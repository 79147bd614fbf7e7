"""How far the scores can be trusted: the confidence histogram, the reliability diagram
and the score distributions per label with their thresholds.

Example:
    >>> fig = reliability_figure(np.array([0.9, 0.6, 0.8]), np.array([True, False, True]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from textclf.diagnostics.plots import style
from textclf.diagnostics.plots.inputs import indicator
from textclf.evaluation.calibration import expected_calibration_error
from textclf.evaluation.metrics import ECE_BINS, ece_bin_index


def _confidence_inputs(
    confidence: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    ok = np.asarray(correct).astype(bool).ravel()
    if conf.shape != ok.shape:
        raise ValueError(f"confidence has {conf.size} values but correct has {ok.size}.")
    return conf, ok


def confidence_histogram_figure(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    bins: int = 20,
    title: str = "Confidence of the predictions",
    xlabel: str = "predicted-class probability",
) -> Figure:
    """Histogram of the predicted-class probability, correct and incorrect overlaid.

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]`` (the top class's, for single-label).
        correct: ``(n,)`` bool, whether each prediction was right.
        bins: Number of equal-width bins over ``[0, 1]``.
        title: Title (accuracy and mean confidence are appended).
        xlabel: What ``confidence`` is.

    Returns:
        The figure: two bar series (correct, incorrect) whose heights are the counts.

    Example:
        >>> fig = confidence_histogram_figure(np.array([0.9, 0.6]), np.array([True, False]))
    """
    conf, ok = _confidence_inputs(confidence, correct)
    edges = np.linspace(0.0, 1.0, bins + 1)
    fig = style.figure(6.4, 3.6)
    ax = fig.subplots()
    style.axes(ax)
    width = edges[1] - edges[0]
    for mask, key, name in ((ok, "correct", "correct"), (~ok, "incorrect", "incorrect")):
        counts, _ = np.histogram(np.clip(conf[mask], 0, 1), bins=edges)
        mean = f", mean {conf[mask].mean():.2f}" if mask.any() else ""
        ax.bar(
            edges[:-1],
            counts,
            width=width,
            align="edge",
            color=style.COLORS[key],
            alpha=0.6,
            edgecolor="white",
            linewidth=0.5,
            label=f"{name} (n={int(mask.sum()):,}{mean})",
        )
    head = (
        f"{title} (accuracy {ok.mean():.3f}, mean confidence {conf.mean():.3f})"
        if len(conf)
        else f"{title} (no examples)"
    )
    style.labels(ax, head, xlabel, "examples")
    ax.set_xlim(0, 1)
    style.legend(ax, loc="upper left")
    return fig


def reliability_figure(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    n_bins: int = ECE_BINS,
    title: str = "Reliability diagram",
    xlabel: str = "confidence (predicted-class probability)",
    ylabel: str = "accuracy",
) -> Figure:
    """Accuracy per confidence bin against the diagonal, with the bin counts below.

    Bins and ECE are those of :mod:`textclf.evaluation` (equal-width, left-closed; the
    default ``n_bins`` is ``ECE_BINS``, so the title's ECE equals ``ece`` in
    ``metrics.json``). For multi-label, pass every (example, label) probability as
    ``confidence`` and whether the label is true as ``correct``.

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]``.
        correct: ``(n,)`` bool, whether each prediction was right.
        n_bins: Number of bins.
        title: Title (the ECE is appended).
        xlabel: What ``confidence`` is.
        ylabel: What the share of ``correct`` is.

    Returns:
        The figure: top, one accuracy bar per non-empty bin; bottom, the counts.

    Example:
        >>> fig = reliability_figure(np.array([0.9, 0.6, 0.8]), np.array([True, False, True]))
    """
    conf, ok = _confidence_inputs(confidence, correct)
    # The multi-label form of the ECE scores each (probability, 0/1 outcome) pair, which is
    # exactly a list of confidences and whether they were right.
    ece = expected_calibration_error(ok[:, None], conf[:, None], multilabel=True, n_bins=n_bins)
    bins = ece_bin_index(conf, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    acc = np.divide(np.bincount(bins, ok, n_bins), count, out=np.zeros(n_bins), where=count > 0)
    mean_conf = np.divide(
        np.bincount(bins, conf, n_bins), count, out=np.zeros(n_bins), where=count > 0
    )
    edges = np.linspace(0, 1, n_bins + 1)
    width = 1.0 / n_bins
    filled = count > 0
    fig = style.figure(5.6, 5.6)
    ax, cx = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    style.axes(ax, grid="both")
    ax.plot(
        [0, 1],
        [0, 1],
        linestyle="--",
        color=style.COLORS["best"],
        linewidth=1,
        label="perfect calibration",
    )
    ax.bar(
        edges[:-1][filled],
        acc[filled],
        width=width,
        align="edge",
        color=style.COLORS["train"],
        edgecolor="white",
        label="accuracy in bin",
        gid="accuracy",
    )
    ax.bar(
        edges[:-1][filled],
        (mean_conf - acc)[filled],
        bottom=acc[filled],
        width=width,
        align="edge",
        facecolor="none",
        edgecolor=style.COLORS["incorrect"],
        hatch="///",
        linewidth=0.6,
        label="gap to mean confidence",
        gid="gap",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ece_text = "n/a" if math.isnan(ece) else f"{ece:.3f}"
    style.labels(ax, f"{title} (ECE {ece_text}, {n_bins} bins, n={len(conf):,})", "", ylabel)
    # Framed: bars of an under-confident model reach into the legend's corner.
    ax.legend(loc="upper left", fontsize=style.FONT["legend"], framealpha=0.9, edgecolor="none")
    style.axes(cx)
    cx.bar(
        edges[:-1],
        count,
        width=width,
        align="edge",
        color=style.COLORS["neutral"],
        edgecolor="white",
        gid="counts",
    )
    style.labels(cx, None, xlabel, "examples")
    return fig


def score_distributions_figure(
    scores: np.ndarray,
    y_true: np.ndarray,
    labels: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray | None = None,
    *,
    max_labels: int = 16,
    bins: int = 20,
    title: str = "Score distributions per label",
) -> Figure:
    """Per label, the scores of its positive and negative examples, and the threshold.

    Each group is drawn as its share of the group (the negatives usually outnumber the
    positives by far), with the counts in the panel title. With more than ``max_labels``
    labels, those with the most errors at the thresholds (or, without thresholds, the most
    positives) are shown and the title says so.

    Args:
        scores: ``(n, k)`` per-label probabilities.
        y_true: ``(n, k)`` 0/1 true labels.
        labels: ``k`` label names.
        thresholds: One threshold for all labels, ``(k,)`` per label, or ``None``.
        max_labels: Most panels.
        bins: Histogram bins over ``[0, 1]``.
        title: Figure title.

    Returns:
        The figure; each panel has a vertical line at its label's threshold.

    Example:
        >>> y = np.array([[1, 0], [0, 1], [1, 1]])
        >>> fig = score_distributions_figure(y * 0.8, y, ["a", "b"], thresholds=[0.4, 0.5])
    """
    k = len(labels)
    y = indicator(y_true, k, "y_true")
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(f"scores has shape {s.shape} but y_true has {y.shape}.")
    thr = None if thresholds is None else np.broadcast_to(np.asarray(thresholds, float), (k,))
    if k > max_labels:
        if thr is not None:
            pred = s >= thr
            rank = ((pred & ~y) | (~pred & y)).sum(axis=0)
            why = "those with the most errors"
        else:
            rank, why = y.sum(axis=0), "those with the most positives"
        shown = np.lexsort((np.arange(k), -rank))[:max_labels]
        note = f" ({max_labels} of {k} labels, {why})"
    else:
        shown, note = np.arange(k), ""
    n = len(shown)
    ncols = min(4, max(n, 1))
    nrows = max(math.ceil(n / ncols), 1)
    fig = style.figure(2.5 * ncols + 0.4, 2.1 * nrows + 0.8)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True)).ravel()
    edges = np.linspace(0, 1, bins + 1)
    for ax, j in zip(axes, shown, strict=False):
        style.axes(ax)
        pos, neg = s[y[:, j], j], s[~y[:, j], j]
        for values, key in ((neg, "negative"), (pos, "positive")):
            if len(values):
                ax.hist(
                    np.clip(values, 0, 1),
                    bins=edges,
                    weights=np.full(len(values), 1 / len(values)),
                    color=style.COLORS[key],
                    alpha=0.5,
                    histtype="stepfilled",
                    gid=key,
                )
        head = f"{style.shorten(labels[j], 22)}\n{len(pos):,} pos · {len(neg):,} neg"
        if thr is not None:
            style.marker_line(ax, thr[j], "best", linewidth=1.1, gid="threshold")
            head += f" · t={thr[j]:.2f}"
        ax.set_title(head, fontsize=style.FONT["small"] + 0.5)
        ax.set_xlim(0, 1)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(n - ncols, 0) : n]:  # the lowest panel of each column keeps its ticks
        ax.xaxis.set_tick_params(labelbottom=True)
    handles: list[Any] = [
        Patch(color=style.COLORS["positive"], alpha=0.5, label="positives"),
        Patch(color=style.COLORS["negative"], alpha=0.5, label="negatives"),
    ]
    if thr is not None:
        handles.append(
            Line2D([], [], color=style.COLORS["best"], linestyle="--", label="threshold")
        )
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=style.FONT["legend"],
        frameon=False,
    )
    fig.supxlabel("score", fontsize=style.FONT["label"])
    fig.supylabel("share of the group", fontsize=style.FONT["label"])
    fig.suptitle(f"{title}{note}", fontsize=style.FONT["title"])
    return fig
