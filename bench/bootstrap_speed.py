"""How long bootstrap intervals of every metric take, against looping scikit-learn.

For each task (binary; multi-class with 20 classes; multi-label with 28 labels, sized like
GoEmotions) it times ``bootstrap_metrics`` — every metric of the task plus per-label
precision / recall / F1 — with the percentile and the BCa method, and the naive reference
that calls ``classification_metrics`` and ``per_label_metrics`` (scikit-learn) on each
resample, timed on a few resamples and extrapolated. It prints a Markdown table.

Target (the issue): under 5 s per task for percentile at 10,000 examples × 1,000 resamples
on 2 CPU cores.

Usage:
    python bench/bootstrap_speed.py                       # 10,000 × 1,000
    python bench/bootstrap_speed.py --n 2000 --resamples 500 --naive-resamples 20
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

from textclf.evaluation.bootstrap import bootstrap_metrics
from textclf.evaluation.decision import decide
from textclf.evaluation.metrics import classification_metrics, per_label_metrics


def make_data(task: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded labels and informative, imperfect probabilities for ``task``."""
    rng = np.random.default_rng(seed)
    if task == "multilabel":
        k = 28
        # Skewed label frequencies, about 1.2 labels per example as in GoEmotions.
        prevalence = 0.3 / np.arange(1, k + 1) ** 0.9
        prevalence *= 1.2 / prevalence.sum()
        y = (rng.random((n, k)) < prevalence).astype(np.int64)
        logits = rng.normal(-2.0, 1.0, (n, k)) + 2.5 * y
        return y, 1 / (1 + np.exp(-logits))
    k = 2 if task == "binary" else 20
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    return y, np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def time_ours(task: str, y: np.ndarray, p: np.ndarray, resamples: int, method: str) -> float:
    labels = [f"label_{i}" for i in range(p.shape[1])]
    start = time.perf_counter()
    bootstrap_metrics(task, y, p, labels=labels, n_resamples=resamples, method=method, seed=0)
    return time.perf_counter() - start


def time_naive(task: str, y: np.ndarray, p: np.ndarray, resamples: int, measured: int) -> float:
    """Seconds for ``resamples`` sklearn resamples, extrapolated from ``measured`` of them."""
    labels = [f"label_{i}" for i in range(p.shape[1])]
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(measured):
            idx = rng.integers(0, len(y), len(y))
            classification_metrics(task, y[idx], p[idx])
            per_label_metrics(task, y[idx], decide(p[idx], task), labels)
    return (time.perf_counter() - start) * resamples / measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="examples")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=50, help="timed, then scaled")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    for name in ("n", "resamples", "naive_resamples", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1.")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f}; n = {args.n:,}, {args.resamples:,} resamples; "
        f"best of {args.repeats}; naive = sklearn on {args.naive_resamples} resamples, "
        f"scaled to {args.resamples:,}.\n"
    )
    print(
        "| task | labels | percentile (s) | BCa (s) | naive sklearn loop (s) | speed-up "
        "| percentile < 5 s |"
    )
    print("|---|---|---|---|---|---|---|")
    for task in ("binary", "multiclass", "multilabel"):
        y, p = make_data(task, args.n)
        pct = min(time_ours(task, y, p, args.resamples, "percentile") for _ in range(args.repeats))
        bca = min(time_ours(task, y, p, args.resamples, "bca") for _ in range(args.repeats))
        naive = time_naive(task, y, p, args.resamples, args.naive_resamples)
        print(
            f"| {task} | {p.shape[1]} | {pct:.2f} | {bca:.2f} | {naive:.0f} "
            f"| {naive / pct:.0f}× | {'yes' if pct < 5 else 'no'} |"
        )


if __name__ == "__main__":
    main()
