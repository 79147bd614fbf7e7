"""What tuning the baselines' thresholds does to them on the demo's data, seed by seed.

The model's thresholds are tuned on validation (``fit_decision_rule``); since the
statistics review the baselines' are too, by the same procedure, so that the paired
comparison is like for like. This bench measures what that changes: the demo's data and
split for each seed (as ``textclf demo`` makes them: 448 training reports, 10 % carved for
validation, 400 fresh test reports), each baseline fitted on train, scored on test at 0.5
and under thresholds tuned on validation. The transformer is not trained here; its
figures are in ``bench/results/demo-cpu-split-bare-rows.md``.

Usage:
    python bench/baseline_thresholds.py [--seeds 0-4] [--task multilabel]

Prints a markdown table (point values of the demo's headline metric, macro-F1). Never part
of the test run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from textclf.assess import fit_configured_baselines
from textclf.baselines import BASELINE_NAMES
from textclf.cli.demo import DEMO_N, DEMO_TEST_N, TEST_SEED_OFFSET
from textclf.config import ExperimentConfig, apply_overrides
from textclf.data.prepare import prepare_data
from textclf.data.synth import write_reports
from textclf.evaluation.metrics import classification_metrics


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--task", default="multilabel")
    parser.add_argument("--metric", default="f1_macro")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    started = time.perf_counter()
    for seed in _seeds(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            train, test = Path(tmp) / "train.csv", Path(tmp) / "test.csv"
            write_reports(train, args.task, DEMO_N, seed=seed)
            write_reports(test, args.task, DEMO_TEST_N, seed=seed + TEST_SEED_OFFSET)
            config = apply_overrides(
                ExperimentConfig(),
                [
                    f"seed={seed}",
                    f"data.train={train}",
                    f"data.test={test}",
                    "model.max_length=256",
                ],
            )
            data = prepare_data(config)
            space, splits = data.space, data.splits
            tuned = fit_configured_baselines(
                splits["train"], space, config, validation=splits["validation"]
            )
            y = space.encode(splits["test"].dataset["labels"])
            texts = splits["test"].dataset["text"]
            for kind, baseline in tuned.items():
                if kind == "majority":
                    continue
                proba = baseline.predict_proba(texts)
                plain = classification_metrics(space.task, y, proba)[args.metric]
                at_tuned = classification_metrics(
                    space.task, y, proba, threshold=baseline.thresholds_
                )[args.metric]
                rows.setdefault(kind, []).append((plain, at_tuned))
                print(f"seed {seed} {kind}: {plain:.3f} at 0.5, {at_tuned:.3f} tuned", flush=True)
    print(
        f"\n{args.task}, {args.metric} on the test reports, seeds {args.seeds} "
        f"({time.perf_counter() - started:.0f} s)\n"
    )
    print("| baseline | at 0.5 (mean ± sd) | tuned on validation (mean ± sd) | change per seed |")
    print("|---|---|---|---|")
    for kind, values in rows.items():
        a = np.array(values)
        change = ", ".join(f"{d:+.3f}" for d in a[:, 1] - a[:, 0])
        print(
            f"| {BASELINE_NAMES[kind]} | {a[:, 0].mean():.3f} ± {a[:, 0].std(ddof=1):.3f} "
            f"| {a[:, 1].mean():.3f} ± {a[:, 1].std(ddof=1):.3f} | {change} |"
        )


if __name__ == "__main__":
    main()
