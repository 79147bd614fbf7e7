"""Training throughput: textclf against the notebook recipe, side by side in one run.

The notebook recipe is what most fine-tuning tutorials do: tokenise every text with
``padding="max_length", max_length=128`` and hand the padded dataset to a plain
``Trainer``. textclf pads each batch only to its longest text and groups texts of similar
length into batches. Same model (the default backbone), same data, same batch size, same
learning rate, same epochs, same seed; both evaluated on the SST-2 dev set.

Usage:
    python bench/train_speed.py [--n 4000] [--epochs 1] [--batch-size 32]

Needs ../shared/data/sst2 (exits with a message when it is absent).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def load(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    kw = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    train = pd.read_csv(DATA / "train.tsv", **kw).sample(n=n, random_state=seed)
    dev = pd.read_csv(DATA / "dev.tsv", **kw)
    return train.reset_index(drop=True), dev


def notebook_recipe(train: pd.DataFrame, dev: pd.DataFrame, args: argparse.Namespace) -> dict:
    """The tutorial way: pad everything to 128 tokens, plain Trainer."""
    import datasets
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
    )

    from textclf.modeling import default_model_path

    path = default_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)

    def enc(batch: dict) -> dict:
        return tok(batch["sentence"], padding="max_length", truncation=True, max_length=128)

    ds = datasets.Dataset.from_pandas(train).map(enc, batched=True)
    ds = ds.rename_column("label", "labels").remove_columns(["sentence"])
    targs = TrainingArguments(
        output_dir="/tmp/bench-notebook",
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=0.06,
        weight_decay=0.01,
        seed=args.seed,
        report_to="none",
        save_strategy="no",
        logging_steps=50,
        use_cpu=True,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=ds)
    out = trainer.train()
    model.eval()
    dev_enc = tok(
        list(dev["sentence"]),
        padding="max_length",
        truncation=True,
        max_length=128,
        return_tensors="pt",
    )
    import torch

    preds = []
    with torch.inference_mode():
        for i in range(0, len(dev), 64):
            batch = {k: v[i : i + 64] for k, v in dev_enc.items()}
            preds.append(model(**batch).logits.float().numpy())
    logits = np.concatenate(preds)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    acc = float((proba.argmax(1) == dev["label"].to_numpy()).mean())
    return {"runtime": out.metrics["train_runtime"], "acc": acc, "proba": proba}


def textclf_run(train: pd.DataFrame, dev: pd.DataFrame, args: argparse.Namespace) -> dict:
    from textclf import TextClassifier

    clf = TextClassifier(
        "default",
        max_length=128,
        random_state=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        # Equal budget: exactly the epochs asked for (no train.min_steps floor), no early
        # stopping, the notebook's warm-up.
        train_options={"warmup_ratio": 0.06, "early_stopping_patience": None, "min_steps": None},
    )
    clf.fit(list(train["sentence"]), [str(v) for v in train["label"]])
    proba = clf.predict_proba(list(dev["sentence"]))
    # columns follow clf.labels_ ("0", "1"): the same order as the notebook's logits
    acc = float((proba.argmax(1) == dev["label"].to_numpy()).mean())
    return {"runtime": clf.history_.train_runtime_s, "acc": acc, "proba": proba}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SST-2 not found at {DATA}; this benchmark needs ../shared/data/sst2.")
    import torch

    train, dev = load(args.n, args.seed)
    samples = args.n * args.epochs
    rows = []
    probas = []
    for name, fn in (
        ("textclf (dynamic padding, length-grouped)", textclf_run),
        ("notebook (pad to 128)", notebook_recipe),
    ):
        started = time.perf_counter()
        res = fn(train, dev, args)
        probas.append(res["proba"])
        rows.append(
            (
                name,
                res["runtime"],
                samples / res["runtime"],
                res["acc"],
                time.perf_counter() - started,
            )
        )
    ref = rows[1][2]
    print(
        f"\nSST-2: {args.n} training sentences x {args.epochs:g} epoch(s), batch {args.batch_size}, "
        f"lr {args.learning_rate:g}, seed {args.seed}; dev = {len(dev)} sentences; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(
        "| method | train time (s) | samples/s | speed-up | dev accuracy |\n|---|---:|---:|---:|---:|"
    )
    for name, runtime, sps, acc, _ in rows:
        print(f"| {name} | {runtime:.1f} | {sps:.1f} | {sps / ref:.2f}x | {acc:.4f} |")
    from textclf.evaluation.bootstrap import paired_bootstrap

    comp = paired_bootstrap(
        "binary", dev["label"].to_numpy(), probas[1], probas[0], metric="accuracy", seed=args.seed
    )
    d = comp.difference
    print(
        f"\ndev accuracy, textclf minus notebook: {d.value:+.4f} (95% CI [{d.ci_low:+.4f}, {d.ci_high:+.4f}]), "
        f"paired bootstrap p = {comp.p_value:.3g}, McNemar p = {comp.mcnemar_p_value:.3g}"
    )


if __name__ == "__main__":
    main()
