"""How long the report's embedding map takes: sentence embeddings, then PCA, t-SNE and UMAP.

Embeds ``--n`` texts (BANKING77 test texts from ../shared/data when present, otherwise
synthetic sentences) with a 77-label classifier built on the bundled all-MiniLM-L6-v2
(a fresh head costs the same as a trained one), then projects them with each method at
the report's default ``max_points``. UMAP's time includes importing umap-learn and numba's
compilation on the first call; ``--cold-numba`` points numba at an empty cache folder so
the first call compiles everything, as on a fresh install. Prints a Markdown table.

Target (issue 4): the whole report for 3,000 examples builds in under 2 minutes on 2 CPU
cores, so these steps must take well under that together.

Usage:
    python bench/embedding_speed.py
    python bench/embedding_speed.py --n 3000 --cold-numba --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch

from banking_texts import BANKING77, synthetic_texts
from textclf.data.labels import LabelSpace
from textclf.diagnostics.embeddings import DEFAULT_MAX_POINTS, project, sentence_embeddings
from textclf.inference.pipeline import Predictor
from textclf.modeling import build_model, load_tokenizer
from textclf.persistence import ModelInfo


def load_texts(n: int) -> tuple[list[str], str]:
    if BANKING77.is_file():
        import pandas as pd

        texts = pd.read_csv(BANKING77)["text"].astype(str).tolist()
        while len(texts) < n:
            texts += texts
        return texts[:n], f"BANKING77 test ({BANKING77})"
    return synthetic_texts(n), "synthetic sentences (BANKING77 not found)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--max-points", type=int, default=DEFAULT_MAX_POINTS)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--cold-numba", action="store_true", help="empty numba cache first")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cold_numba:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")

    texts, source = load_texts(args.n)
    labels = [f"intent_{i:02d}" for i in range(77)]
    model = build_model("default", LabelSpace("multiclass", tuple(labels)))
    info = ModelInfo(task="multiclass", labels=labels, max_length=128, backbone="default")
    predictor = Predictor(model, load_tokenizer("default"), info, device="cpu")
    print(
        f"{len(texts):,} texts from {source}; all-MiniLM-L6-v2, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, {platform.machine()}"
        f"{', cold numba cache' if args.cold_numba else ''}"
    )
    print()
    print("| step | points | seconds | note |")
    print("|---|---:|---:|---|")
    start = time.perf_counter()
    emb = sentence_embeddings(predictor, texts, batch_size=args.batch_size)
    print(f"| sentence embeddings | {len(emb):,} | {time.perf_counter() - start:.1f} | |")
    total = time.perf_counter() - start
    for method in ("pca", "tsne", "umap", "umap"):
        start = time.perf_counter()
        proj = project(emb, method=method, seed=args.seed, max_points=args.max_points)
        seconds = time.perf_counter() - start
        total += seconds
        label = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method]
        print(f"| {label} | {len(proj.index):,} | {seconds:.1f} | {proj.note} |")
    print(f"| total (UMAP twice: first call, then compiled) | | {total:.1f} | |")


if __name__ == "__main__":
    main()
