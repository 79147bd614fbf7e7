"""The learning-curves figure: losses and the validation metric over steps, the kept
checkpoint marked.

Example:
    >>> from textclf.diagnostics.curves import parse_log_history
    >>> fig = learning_curves_figure(parse_log_history([{"loss": 0.7, "epoch": 1.0, "step": 5}]))
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from textclf.diagnostics.curves import LearningCurves
from textclf.diagnostics.plots import style


def _steps_per_epoch(curves: LearningCurves) -> float | None:
    steps = np.concatenate([curves.train_step, curves.eval_step]).astype(np.float64)
    epochs = np.concatenate([curves.train_epoch, curves.eval_epoch])
    ok = np.isfinite(epochs) & (epochs > 0) & (steps > 0)
    if not ok.any():
        return None
    return float(np.median(steps[ok] / epochs[ok]))


def learning_curves_figure(curves: LearningCurves, *, title: str = "Learning curves") -> Figure:
    """Training and validation loss over steps, the chosen metric below, the best step marked.

    The top axis shows epochs (from the logged step/epoch ratio). A dashed vertical line
    marks :attr:`LearningCurves.best_step`, the checkpoint the Trainer kept. The loss axis
    turns logarithmic when the losses span more than a factor of 20.

    Args:
        curves: From :func:`textclf.diagnostics.curves.parse_log_history`; training loss
            ``(t,)``, validation loss and metric ``(e,)``.
        title: Figure title.

    Returns:
        The figure: one panel (loss) without validation metrics, else two (loss, metric).

    Example:
        >>> from textclf.diagnostics.curves import parse_log_history
        >>> fig = learning_curves_figure(parse_log_history([{"loss": 0.7, "epoch": 1.0, "step": 5}]))
    """
    metric = curves.metric
    show_metric = (
        curves.has_validation
        and curves.metric_name not in (None, "loss")
        and bool(np.isfinite(metric).any())
    )
    fig = style.figure(7.0, 5.6 if show_metric else 3.4)
    axes = np.atleast_1d(
        fig.subplots(2 if show_metric else 1, 1, sharex=True, squeeze=False)
    ).ravel()
    ax = axes[0]
    style.axes(ax, grid="both")
    if len(curves.train_step):
        ax.plot(
            curves.train_step,
            curves.train_loss,
            color=style.COLORS["train"],
            linewidth=1.2,
            label="training loss",
        )
    if curves.has_validation:
        ax.plot(
            curves.eval_step,
            curves.eval_loss,
            color=style.COLORS["valid"],
            marker="o",
            markersize=4,
            linewidth=1.4,
            label="validation loss",
        )
    losses = np.concatenate([curves.train_loss, curves.eval_loss])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if len(losses) and losses.max() / losses.min() > 20:
        ax.set_yscale("log")
    suffix = "" if curves.has_validation else " (no validation split)"
    style.labels(ax, f"{title}{suffix}", "" if show_metric else "step", "loss")
    style.legend(ax, loc="upper right")

    best = curves.best_step
    name = curves.metric_name or "loss"
    if show_metric:
        mx = axes[1]
        style.axes(mx, grid="both")
        mx.plot(
            curves.eval_step,
            metric,
            color=style.COLORS["metric"],
            marker="o",
            markersize=4,
            linewidth=1.4,
            label=f"validation {name}",
        )
        style.labels(mx, None, "step", name)
        style.legend(mx, loc="lower right")
    for a in axes:
        if best is not None:
            style.marker_line(a, best, "best", linewidth=1.0, gid="best_step")
    if best is not None and curves.best_value is not None:
        target = axes[-1]
        target.annotate(
            f"best checkpoint\nstep {best}, {name} {curves.best_value:.3f}",
            xy=(best, curves.best_value),
            xytext=(-8, -4 if show_metric else 8),
            textcoords="offset points",
            ha="right",
            va="top" if show_metric else "bottom",
            fontsize=style.FONT["small"],
            color=style.COLORS["best"],
        )
    spe = _steps_per_epoch(curves)
    if spe:
        top = axes[0].secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe))
        top.set_xlabel("epoch", fontsize=style.FONT["label"])
        top.tick_params(labelsize=style.FONT["tick"])
    return fig
