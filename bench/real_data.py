"""Accuracy and run time of textclf's defaults on the real data sets in ../shared/data.

Each run is ``textclf train`` with the default backbone and textclf's default settings
(plus what a data set needs to be read), and prints a table of the headline figures with
their confidence intervals and the training time. These are the measurements behind the
defaults in ``textclf.config.TrainConfig``.

Usage:
    python bench/real_data.py banking77            # test accuracy, 10,003 train / 3,080 test
    python bench/real_data.py goemotions --epochs 2
    python bench/real_data.py sst2 --n 10000       # train on a sample, evaluate on dev

Needs ../shared/data (exits with a message when it is absent).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _overrides(name: str, args: argparse.Namespace, work: Path) -> list[str]:
    d = DATA / name
    if name == "banking77":
        return [f"data.train={d / 'train.csv'}", f"data.test={d / 'test.csv'}"]
    if name == "goemotions":
        return [
            f"data.train={d / 'train.tsv'}",
            f"data.validation={d / 'dev.tsv'}",
            f"data.test={d / 'test.tsv'}",
            "data.column_names=[text, labels, id]",
            "data.label_column=labels",
            "data.label_separator=','",
            f"data.label_names={d / 'labels.txt'}",
        ]
    if name == "sst2":
        import pandas as pd

        kw = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
        sample = pd.read_csv(d / "train.tsv", **kw).sample(n=args.n, random_state=args.seed)
        train = work / "sst2_train_sample.tsv"
        sample.to_csv(train, sep="\t", index=False, quoting=csv.QUOTE_NONE)
        return [f"data.train={train}", f"data.test={d / 'dev.tsv'}", "data.text_column=sentence"]
    raise SystemExit(f"unknown data set {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", choices=["banking77", "goemotions", "sst2"])
    parser.add_argument("--epochs", type=float, default=None, help="default: textclf's default")
    parser.add_argument("--n", type=int, default=10000, help="SST-2 training sample size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    if not (DATA / args.dataset).is_dir():
        sys.exit(f"{DATA / args.dataset} not found; this benchmark needs ../shared/data.")
    import torch

    from textclf.config import ExperimentConfig, apply_overrides
    from textclf.evaluation.report import comparison_sentence, headline_table
    from textclf.experiment import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = args.output or work / "run"
        overrides = [
            *_overrides(args.dataset, args, work),
            f"output_dir={out}",
            f"seed={args.seed}",
        ]
        if args.epochs is not None:
            overrides.append(f"train.epochs={args.epochs}")
        cfg = apply_overrides(ExperimentConfig(), overrides + args.overrides)
        started = time.perf_counter()
        result = run_experiment(cfg, overwrite=True)
        total = time.perf_counter() - started
    doc = result.evaluation
    print(
        f"\n{args.dataset}: {doc['n_examples']} {doc['split']} examples; backbone {cfg.model.name}; "
        f"epochs {cfg.train.epochs:g}, lr {cfg.train.learning_rate:g}, batch {cfg.train.batch_size}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    header, rows = headline_table(doc)
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sentence = comparison_sentence(doc)
    if sentence:
        print("\n" + sentence)
    print(
        f"\ntraining {result.train_runtime_s:.0f} s ({result.train_samples_per_second:.1f} samples/s); whole run {total:.0f} s"
    )


if __name__ == "__main__":
    main()
