"""Issue 14's acceptance: ``textclf tune --trials 12`` against one default run, on SST-2.

Side by side in one run, as whole commands (a fresh process each, wall time from start
to exit, data reading, evaluation and the report included):

1. ``textclf train`` with the defaults;
2. ``textclf tune --trials N`` with the default search space, TPE and the pruner.

Both train on the same 2,000-sentence sample of SST-2's training set (seeded) and are
tested on the 872-sentence dev set (which neither sees before its final evaluation).
The table gives each command's time, the ratio, the trial counts (completed, pruned,
failed) and dev accuracy with its 95% bootstrap interval from each ``eval/metrics.json``.

Target (issue 14): tune < 12 × one default run, and the tuned dev accuracy at least the
default's.

Usage::

    python bench/tune_sst2.py [--n 2000] [--trials 12] [--workdir /tmp/tune-bench]

Needs ``../shared/data/sst2`` (see its README); never part of the test run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2"


def _write_data(workdir: Path, n: int, seed: int) -> tuple[Path, Path]:
    kw = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    names = {0: "negative", 1: "positive"}
    train = pd.read_csv(DATA / "train.tsv", **kw).sample(n=n, random_state=seed)
    dev = pd.read_csv(DATA / "dev.tsv", **kw)
    paths = workdir / "train.csv", workdir / "dev.csv"
    for frame, path in zip((train, dev), paths, strict=True):
        frame.assign(label=[names[v] for v in frame["label"]]).to_csv(path, index=False)
    return paths


def _timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if code != 0:
        sys.exit(f"{' '.join(command)} failed with {code}; see {log}")
    return elapsed


def _accuracy(folder: Path) -> str:
    doc = json.loads((folder / "eval" / "metrics.json").read_text())
    acc = doc["metrics"]["accuracy"]
    return f"{acc['value']:.4f} [{acc['ci_low']:.4f}, {acc['ci_high']:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="Training sentences.")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="Seeds the sample.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tune-bench"))
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing; this bench needs the shared SST-2 files.")
    args.workdir.mkdir(parents=True, exist_ok=True)
    train, dev = _write_data(args.workdir, args.n, args.seed)
    textclf = [sys.executable, "-m", "textclf.cli", "-q"]
    common = ["--train", str(train), "--test", str(dev), "--no-track"]
    default_dir, tune_dir = args.workdir / "default", args.workdir / "tune"
    one = _timed(
        [*textclf, "train", *common, "--output", str(default_dir), "--overwrite"],
        args.workdir / "train.log",
    )
    if tune_dir.exists():
        shutil.rmtree(tune_dir)  # a fresh study, not the continuation of an old one
    tuned = _timed(
        [*textclf, "tune", *common, "--trials", str(args.trials), "--output", str(tune_dir)],
        args.workdir / "tune.log",
    )
    study = json.loads((tune_dir / "tuning" / "study.json").read_text())
    counts = study.get("counts") or {}
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"SST-2: {args.n} training sentences (seed {args.seed}), dev set as test\n")
    print("| command | wall s | trials (completed/pruned/failed) | dev accuracy [95% CI] |")
    print("|---|---|---|---|")
    print(f"| textclf train (defaults) | {one:.0f} | - | {_accuracy(default_dir)} |")
    trials = "/".join(str(counts.get(k, 0)) for k in ("COMPLETE", "PRUNED", "FAIL"))
    print(
        f"| textclf tune --trials {args.trials} | {tuned:.0f} | {trials} | {_accuracy(tune_dir)} |"
    )
    print(f"\ntune / one default run = {tuned / one:.2f} (target < {args.trials})")
    kept = (study.get("best") or {}).get("trial")
    print(f"Exported trial: {kept} (trial 0 runs the untuned config)")
    for line in (args.workdir / "tune.log").read_text().splitlines():
        if line.startswith("Note: ") and "trial" in line and "untuned" in line:
            print(line)


if __name__ == "__main__":
    main()
