"""How long token attributions take on the default backbone (all-MiniLM-L6-v2, 6 layers).

Builds a 77-label classifier from the bundled backbone (a freshly initialised head costs
the same as a trained one), wraps it in a ``Predictor`` on the CPU and times ``explain``
for a short (~12 words), a medium (~60 words) and a long text (cut at 128 tokens), with
Integrated Gradients at several step counts and with attention rollout. Each time is the
median (and the fastest) of ``--repeats`` calls after one warm-up call; on a shared
machine the fastest is the better estimate of the cost itself, and with ``--threads 1``
the CPU seconds are an upper bound on the wall time on two idle cores. It prints a Markdown table with the
IG convergence delta (completeness error) next to the probability change it explains.

Target (issue 4): one short text in under 3 s on 2 CPU cores.

Usage:
    python bench/attribution_speed.py
    python bench/attribution_speed.py --threads 2 --steps 20 50 100
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import torch

from textclf.data.labels import LabelSpace
from textclf.diagnostics.attributions import explain
from textclf.inference.pipeline import Predictor
from textclf.modeling import build_model, default_model_path, load_tokenizer
from textclf.persistence import ModelInfo

SHORT = "I still have not received my new card and I ordered it weeks ago."
MEDIUM = (
    "Hello, I ordered a replacement card about three weeks ago because my old one was "
    "damaged at an ATM, and it still has not arrived. The app says it was shipped but the "
    "tracking page shows nothing since then. I am travelling abroad next month, so could "
    "you please tell me whether I should cancel this card and order a new one, or wait?"
)
LONG = " ".join([MEDIUM] * 4)  # ~240 words: cut at max_length=128 tokens


def build_predictor(n_labels: int, max_length: int) -> Predictor:
    labels = [f"intent_{i:02d}" for i in range(n_labels)]
    space = LabelSpace("multiclass", tuple(labels))
    model = build_model("default", space)
    tokenizer = load_tokenizer("default")
    info = ModelInfo(task="multiclass", labels=labels, max_length=max_length, backbone="default")
    return Predictor(model, tokenizer, info, device="cpu")


def time_explain(
    predictor: Predictor,
    text: str,
    method: str,
    n_steps: int,
    repeats: int,
    internal_batch_size: int | None,
) -> tuple[float, float, float, float | None, float, int, bool]:
    """Median and fastest wall seconds, median CPU seconds, delta, Σ raw, words, truncated."""
    kwargs: dict[str, Any] = {
        "methods": [method],
        "n_steps": n_steps,
        "internal_batch_size": internal_batch_size,
    }
    explain(predictor, text, **kwargs)  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        [attr] = explain(predictor, text, **kwargs)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (
        statistics.median(wall),
        min(wall),
        statistics.median(cpu),
        attr.convergence_delta,
        float(attr.raw_scores.sum()),
        len(attr.tokens),
        attr.truncated,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=77)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--internal-batch-size", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    predictor = build_predictor(args.labels, args.max_length)
    texts = {"short": SHORT, "medium": MEDIUM, "long": LONG}
    print(
        f"all-MiniLM-L6-v2 ({default_model_path().name}), {args.labels} labels, "
        f"max_length {args.max_length}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print()
    print(
        "| method | text | words | words scored | n_steps | seconds (median) | fastest "
        "| CPU s (median) | delta | Δp = Σ raw |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = [("integrated_gradients", s) for s in args.steps] + [("attention_rollout", 0)]
    for name, text in texts.items():
        for method, steps in runs:
            seconds, fastest, cpu, delta, total, n_tokens, truncated = time_explain(
                predictor, text, method, max(steps, 1), args.repeats, args.internal_batch_size
            )
            tokens = f"{n_tokens}{' (cut)' if truncated else ''}"
            delta_s = "—" if delta is None else f"{delta:+.1e}"
            total_s = "—" if delta is None else f"{total:+.1e}"
            print(
                f"| {method} | {name} | {len(text.split())} | {tokens} | "
                f"{steps if steps else '—'} | {seconds:.2f} | {fastest:.2f} | {cpu:.2f} | {delta_s} | {total_s} |"
            )


if __name__ == "__main__":
    main()
