"""The protocol that decides textclf's training defaults: many seeds, small and large data.

One fine-tuning run on a few hundred examples is noise (Mosbach et al., ICLR 2021: few-
sample runs often fail outright). This bench trains a recipe over several seeds on a grid
of data sizes and prints, side by side, the mean ± sd of the headline metric, the failure
rate (runs at or below the majority baseline), and the same for TF-IDF + logistic
regression and for frozen sentence embeddings + logistic regression. The ``rule`` column
scores the kept decision rule (tuned thresholds) and ``worse`` counts the runs where it
fell below the plain rule (argmax / 0.5) by more than the plain rule's 95 % half-width on
test. For each seed the data sample and the training seed change together, and every
recipe sees the same samples, so recipes are compared on paired data.

Cells (training texts; validation; test):

* ``synth-mc-{200,640,2000}``: synthetic pathology reports, molecular subtype (4 classes);
  validation n/8 fresh reports, test 1,000 fresh reports (``textclf.data.synth``).
* ``synth-ml-{200,640,2000}``: the same reports, multi-label findings (5 labels).
* ``sst2-{500,2000}``: SST-2 training sentences; validation 200 more; test the dev set (872).
* ``banking-10``: Banking77, 10 per class; validation 3 more per class; test 3,080.
* ``banking-full``: Banking77, all 10,003 (10 % carved for validation); test 3,080.

Each result records where it trained (``machine``; results without it come from the
2-core AVX512-BF16 development CPU). Results go to a JSON-lines file, one line per (cell,
recipe, seed), so an interrupted bench resumes where it stopped and several recipes
accumulate in one table.

Usage:
    python bench/robustness.py --cells synth-mc-640,sst2-500 --seeds 0-4 \\
        [--recipe NAME --set head_init=probe --set learning_rate=5e-5] \\
        [--results bench/results/robustness.jsonl] [--summary]

Needs ../shared/data for the SST-2 and Banking77 cells (they are skipped with a message
when it is absent). Never part of the test run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TEXTCLF_TRACKING", "off")

DATA = Path(
    os.environ.get("TEXTCLF_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
RESULTS = Path(__file__).resolve().parent / "results" / "robustness.jsonl"


@dataclass
class Cell:
    name: str
    task: str
    train: tuple[list[str], list[Any]]
    validation: tuple[list[str], list[Any]]
    test: tuple[list[str], list[Any]]
    max_length: int


def _synth(task: str, n: int, seed: int) -> Cell:
    from textclf.data.synth import make_reports

    train = make_reports(task, n, seed=10_000 + seed)
    val = make_reports(task, max(n // 8, 20), seed=20_000 + seed)
    test = make_reports(task, 1000, seed=999)
    name = f"synth-{'ml' if task == 'multilabel' else 'mc'}-{n}"

    def xy(f: pd.DataFrame) -> tuple[list[str], list[Any]]:
        return list(f["text"]), list(f["label"])

    return Cell(name, task, xy(train), xy(val), xy(test), max_length=256)


def _sst2(n: int, seed: int) -> Cell:
    kw: dict[str, Any] = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    pool = pd.read_csv(DATA / "sst2" / "train.tsv", **kw).sample(n=n + 200, random_state=seed)
    dev = pd.read_csv(DATA / "sst2" / "dev.tsv", **kw)
    names = {0: "negative", 1: "positive"}

    def xy(f: pd.DataFrame) -> tuple[list[str], list[Any]]:
        return list(f["sentence"]), [names[v] for v in f["label"]]

    return Cell(f"sst2-{n}", "binary", xy(pool[:n]), xy(pool[n:]), xy(dev), max_length=128)


def _banking(per_class: int | None, seed: int) -> Cell:
    train = pd.read_csv(DATA / "banking77" / "train.csv", keep_default_na=False)
    test = pd.read_csv(DATA / "banking77" / "test.csv", keep_default_na=False)
    rng = np.random.default_rng(seed)
    if per_class is None:
        val_idx = rng.permutation(len(train))[: len(train) // 10]
        val = train.iloc[val_idx]
        tr = train.drop(train.index[val_idx])
        name = "banking-full"
    else:
        picked = train.groupby("category", group_keys=False).sample(
            n=per_class + 3, random_state=seed
        )
        k = picked.groupby("category").cumcount()
        tr, val = picked[k < per_class], picked[k >= per_class]
        name = f"banking-{per_class}"

    def xy(f: pd.DataFrame) -> tuple[list[str], list[Any]]:
        return list(f["text"]), list(f["category"])

    return Cell(name, "multiclass", xy(tr), xy(val), xy(test), max_length=64)


def load_cell(name: str, seed: int) -> Cell:
    kind, _, size = name.rpartition("-")
    if kind == "synth-mc":
        return _synth("multiclass", int(size), seed)
    if kind == "synth-ml":
        return _synth("multilabel", int(size), seed)
    if kind == "sst2":
        return _sst2(int(size), seed)
    if name == "banking-full":
        return _banking(None, seed)
    if kind == "banking":
        return _banking(int(size), seed)
    raise SystemExit(f"unknown cell {name!r}")


# The grid of the module docstring; other sizes of the same kinds work too (sst2-10000).
CELLS = (
    *(f"synth-{kind}-{n}" for kind in ("mc", "ml") for n in (200, 640, 2000)),
    "sst2-500",
    "sst2-2000",
    "banking-10",
    "banking-full",
)


def _valid_cell(name: str) -> bool:
    kind, _, size = name.rpartition("-")
    return name == "banking-full" or (
        kind in ("synth-mc", "synth-ml", "sst2", "banking") and size.isdigit() and int(size) > 0
    )


def _needs_shared(name: str) -> bool:
    return name.startswith(("sst2", "banking"))


def _scores(task: str, labels: list[str], y_true: np.ndarray, proba: np.ndarray, rule: Any = None):
    from textclf.evaluation.metrics import classification_metrics

    threshold = None if rule is None else rule.thresholds
    m = classification_metrics(task, y_true, proba, threshold=threshold)
    keep = ("accuracy", "f1_macro", "f1_micro")
    return {k: float(m[k]) for k in keep if k in m}


def _machine(clf: Any) -> str:
    """Where the run trained, e.g. ``cpu (2 threads), bf16`` or ``NVIDIA H200, bf16``."""
    import torch

    resources = clf.history_.resources
    where = (
        torch.cuda.get_device_name(0)
        if resources.device == "cuda"
        else f"{resources.device} ({torch.get_num_threads()} threads)"
    )
    return f"{where}, {resources.precision}"


def run_one(cell: Cell, seed: int, recipe: dict[str, Any], baselines: bool) -> dict[str, Any]:
    """Train ``recipe`` on ``cell`` at ``seed``; score it and the baselines on the test split."""
    import torch

    from textclf.baselines import BaselineClassifier
    from textclf.data.labels import LabelSpace
    from textclf.estimator import TextClassifier

    # Several cells can share one big machine (a GPU box): TEXTCLF_BENCH_THREADS splits its cores.
    torch.set_num_threads(int(os.environ.get("TEXTCLF_BENCH_THREADS", 0)) or os.cpu_count() or 1)
    task = cell.task

    def canon(labels: list[Any]) -> list[list[str]]:
        return [list(y) if isinstance(y, list | tuple) else [y] for y in labels]

    space = LabelSpace.infer(canon(cell.train[1]), task=task)
    y_test = space.encode(canon(cell.test[1]))
    y_train = space.encode(canon(cell.train[1]))
    out: dict[str, Any] = {"n_train": len(cell.train[0]), "task": task}
    started = time.perf_counter()
    from textclf.config import ModelConfig

    options = dict(recipe)
    pooling = options.pop("pooling", None)
    model_options = {k: options.pop(k) for k in list(options) if k in ModelConfig.model_fields}
    clf = TextClassifier(
        "default",
        task=task,
        max_length=cell.max_length,
        random_state=seed,
        pooling=pooling,
        train_options=options,
        model_options=model_options,
    )
    clf.fit(cell.train[0], cell.train[1], X_val=cell.validation[0], y_val=cell.validation[1])
    out["train_s"] = time.perf_counter() - started
    out["machine"] = _machine(clf)
    out["steps"] = clf.history_.global_step
    proba = clf.predict_proba(cell.test[0])
    out["model"] = _scores(task, list(space.labels), y_test, proba)
    # The plain rule's 95 % bootstrap half-width on test: the tolerance of the check that the
    # kept decision rule never does worse than the plain one by more than the noise.
    from textclf.evaluation.bootstrap import bootstrap_metrics

    ci = bootstrap_metrics(task, y_test, proba, labels=list(space.labels), seed=seed).metrics
    out["model_halfwidth"] = {
        k: (ci[k].ci_high - ci[k].ci_low) / 2
        for k in ("accuracy", "f1_macro", "f1_micro")
        if k in ci
    }
    rule = getattr(clf, "rule_", None)
    if rule is not None:
        # predict_proba applies the rule's temperature; the plain rule is argmax / 0.5.
        out["model_rule"] = _scores(task, list(space.labels), y_test, proba, rule)
    if baselines:
        for kind in ("majority", "tfidf_lr", "embed_lr"):
            b = BaselineClassifier(kind, random_state=seed, max_length=cell.max_length).fit(
                cell.train[0], y_train, task=task, labels=space.labels
            )
            out[kind] = _scores(task, list(space.labels), y_test, b.predict_proba(cell.test[0]))
    return out


def _parse_seeds(spec: str) -> list[int]:
    seeds: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return seeds


def _parse_value(raw: str) -> Any:
    import yaml

    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def headline(task: str) -> str:
    return "f1_micro" if task == "multilabel" else "f1_macro"


def summarize(path: Path, cells: list[str] | None, recipes: list[str] | None) -> None:
    if not path.is_file():
        print(f"no results yet in {path}")
        return
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    # The majority baseline depends on the data sample alone, so a recipe run without
    # baselines is judged against the one another recipe's run recorded for that sample.
    majority = {(r["cell"], r["seed"]): r["majority"] for r in rows if "majority" in r}
    for r in rows:
        if (cells and r["cell"] not in cells) or (recipes and r["recipe"] not in recipes):
            continue
        table.setdefault((r["cell"], r["recipe"]), []).append(r)
    print(
        f"{'cell':<15} {'recipe':<22} {'n':>2} {'metric':<8} {'model':>13} {'fail':>4} "
        f"{'rule':>13} {'worse':>5} {'tfidf_lr':>13} {'embed_lr':>13} {'majority':>8} {'train_s':>8}"
    )
    for (cell, recipe), rs in sorted(table.items()):
        metric = headline(rs[0]["task"])

        def ms(key: str, rs: list[dict[str, Any]] = rs, metric: str = metric) -> str:
            v = np.array([r[key][metric] for r in rs if key in r])
            if not len(v):
                return "-"
            return f"{v.mean():.3f}±{v.std(ddof=1) if len(v) > 1 else 0:.3f}"

        judged = [r for r in rs if (cell, r["seed"]) in majority]
        fails = sum(r["model"][metric] <= majority[cell, r["seed"]][metric] + 0.01 for r in judged)
        fails_s = f"{fails}/{len(judged)}" if judged else "-"
        # runs whose kept rule scored below the plain rule by more than the plain rule's
        # interval half-width on test (the acceptance check of issue 11)
        checked = [r for r in rs if "model_rule" in r and "model_halfwidth" in r]
        worse = sum(
            r["model_rule"][metric] < r["model"][metric] - r["model_halfwidth"][metric]
            for r in checked
        )
        worse_s = f"{worse}/{len(checked)}" if checked else "-"
        maj = np.mean([majority[cell, r["seed"]][metric] for r in judged] or [np.nan])
        print(
            f"{cell:<15} {recipe:<22} {len(rs):>2} {metric:<8} {ms('model'):>13} {fails_s:>4} "
            f"{ms('model_rule'):>13} {worse_s:>5} {ms('tfidf_lr'):>13} {ms('embed_lr'):>13} {maj:>8.3f} "
            f"{np.mean([r['train_s'] for r in rs]):>8.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cells",
        default="synth-mc-640",
        help=f"Comma-separated cells: the grid {', '.join(CELLS)}, or other sizes of "
        "the same kinds, e.g. sst2-10000 (default: %(default)s).",
    )
    parser.add_argument(
        "--seeds", default="0-4", help="Seeds: a range 0-4, a list 0,2,5, or both (0-2,7)."
    )
    parser.add_argument("--recipe", default="default", help="A name for the --set overrides.")
    parser.add_argument(
        "--set", action="append", default=[], help="TrainConfig or ModelConfig key=value."
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--summary", action="store_true", help="Only print the table.")
    args = parser.parse_args()
    cells = [c for c in args.cells.split(",") if c]
    unknown = [c for c in cells if not _valid_cell(c)]
    if unknown:
        parser.error(
            f"unknown cell(s) {', '.join(unknown)}; use synth-mc-N, synth-ml-N, sst2-N, "
            f"banking-N (per class) or banking-full, e.g. {', '.join(CELLS[:3])}."
        )
    try:
        seeds = _parse_seeds(args.seeds)
    except ValueError:
        parser.error(f"--seeds {args.seeds}: give a range 0-4, a list 0,2,5, or both.")
    if args.summary:
        summarize(args.results, cells or None, None)
        return
    recipe = {k: _parse_value(v) for k, _, v in (s.partition("=") for s in args.set)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.results.is_file():
        for line in args.results.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["cell"], r["recipe"], r["seed"]))
    skipped = []
    for cell_name in cells:
        if _needs_shared(cell_name) and not DATA.is_dir():
            print(f"skipping {cell_name}: {DATA} not found", file=sys.stderr)
            skipped.append(cell_name)
            continue
        for seed in seeds:
            if (cell_name, args.recipe, seed) in done:
                continue
            cell = load_cell(cell_name, seed)
            result = run_one(cell, seed, recipe, baselines=not args.no_baselines)
            record = {"cell": cell_name, "recipe": args.recipe, "seed": seed, "set": recipe}
            record.update(result)
            with open(args.results, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            m = headline(cell.task)
            print(
                f"{cell_name} {args.recipe} seed {seed}: model {result['model'][m]:.3f} "
                + " ".join(
                    f"{k} {result[k][m]:.3f}" for k in ("tfidf_lr", "embed_lr") if k in result
                )
                + f" ({result['train_s']:.0f} s, {result['steps']} steps)",
                flush=True,
            )
    if len(skipped) == len(cells):
        raise SystemExit(f"nothing run: every cell needs {DATA}, which was not found.")
    summarize(args.results, cells, None)


if __name__ == "__main__":
    main()
