"""Diagnostic figures: arrays in, :class:`matplotlib.figure.Figure` out.

Every function builds a ``Figure`` directly, never through ``pyplot``: no global figure
registry, no backend selection, nothing to close, so the functions are safe in servers and
threads. A figure is freed like any object once the last reference is dropped (the next
garbage collection breaks its internal reference cycles). Styling is passed to each artist
rather than set in ``rcParams``, which are process-global.

Conventions: single-label ``y_true``/``y_pred`` are ``(n,)`` int class ids; multi-label
ones are ``(n, k)`` 0/1 matrices; ``labels`` are the ``k`` label names in id / column order.
Long label names are shortened with an ellipsis in ticks and legends.

The figures, by family (this package re-exports them all):

* :mod:`~textclf.diagnostics.plots.confusion`: confusion matrix, per-label confusion,
  label co-occurrence;
* :mod:`~textclf.diagnostics.plots.training`: learning curves;
* :mod:`~textclf.diagnostics.plots.calibration`: confidence histogram, reliability
  diagram, score distributions per label;
* :mod:`~textclf.diagnostics.plots.quality`: F1 per label, ROC and precision-recall;
* :mod:`~textclf.diagnostics.plots.embedding_map`: the 2-D embedding map;
* :mod:`~textclf.diagnostics.plots.data`: labels and text lengths per split;
* :mod:`~textclf.diagnostics.plots.output`: a figure as a file or as PNG bytes;
* :mod:`~textclf.diagnostics.plots.style`: sizes and colours, shared by all of them.

Example:
    >>> import numpy as np
    >>> fig = confusion_matrix_figure(np.array([0, 1, 1]), np.array([0, 1, 0]), ["no", "yes"])
    >>> png = figure_png(fig)
    >>> png[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

from textclf.diagnostics.plots.calibration import (
    confidence_histogram_figure,
    reliability_figure,
    score_distributions_figure,
)
from textclf.diagnostics.plots.confusion import (
    confusion_counts,
    confusion_matrix_figure,
    cooccurrence_figure,
    most_confused,
    multilabel_confusion_figure,
)
from textclf.diagnostics.plots.data import label_distribution_figure, text_length_figure
from textclf.diagnostics.plots.embedding_map import embedding_figure
from textclf.diagnostics.plots.output import figure_png, save_figure
from textclf.diagnostics.plots.quality import per_label_f1_figure, roc_pr_figure
from textclf.diagnostics.plots.style import (
    ANNOTATE_MAX,
    COLORS,
    DPI,
    FONT,
    LABEL_WIDTH,
    MAX_HEIGHT,
    SPLIT_COLORS,
    shorten,
)
from textclf.diagnostics.plots.training import learning_curves_figure

__all__ = [
    "ANNOTATE_MAX",
    "COLORS",
    "DPI",
    "FONT",
    "LABEL_WIDTH",
    "MAX_HEIGHT",
    "SPLIT_COLORS",
    "confidence_histogram_figure",
    "confusion_counts",
    "confusion_matrix_figure",
    "cooccurrence_figure",
    "embedding_figure",
    "figure_png",
    "label_distribution_figure",
    "learning_curves_figure",
    "most_confused",
    "multilabel_confusion_figure",
    "per_label_f1_figure",
    "reliability_figure",
    "roc_pr_figure",
    "save_figure",
    "score_distributions_figure",
    "shorten",
    "text_length_figure",
]
