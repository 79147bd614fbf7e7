"""Inference speed, side by side in one run: transformers.pipeline against textclf.

Rows, on the same machine and model, one after another in one process (the in-process
rows time prediction only, after a warm-up) and as whole commands (a fresh process each,
wall time from start to exit, start-up included):

* ``transformers.pipeline`` with its defaults (one text per forward pass), and with
  ``batch_size=32``;
* textclf's ``Predictor`` on torch (fp32, and bf16 to show why CPUs keep fp32), on ONNX
  Runtime fp32 and on int8 (``textclf export --quantize int8``);
* the whole ``textclf predict`` command (``--backend auto`` and ``torch``) against a
  three-line ``pipeline`` script that reads the same CSV and writes its results.

Columns: texts per second, label agreement with textclf's torch labels, and accuracy
where the texts have labels. Short texts are the Banking77 test set; long texts are
synthetic pathology reports (``textclf data synth``), truncated at the model's max length
by every path. ``--memory`` adds the streaming check: peak resident memory of the whole
``textclf predict`` command on 100k and 1M synthetic short texts, with a tiny random
2-layer BERT exported to ONNX (the point is the reader and writer, not the model).

Issue 13's targets (2 CPU cores, Banking77 test texts, same model, whole command):
≥ 5× ``pipeline`` default and ≥ 2.5× ``pipeline(batch_size=32)``; int8 within 0.5
accuracy points of fp32 with ≥ 99.5 % of labels the same.

Needs a trained Banking77 model folder, e.g.::

    textclf train --train ../shared/data/banking77/train.csv \\
        --test ../shared/data/banking77/test.csv --output /tmp/bank77-model \\
        --epochs 1 --no-report --no-track
    textclf export --model /tmp/bank77-model --quantize int8

Usage:
    python bench/inference_speed.py --model /tmp/bank77-model
    python bench/inference_speed.py --model /tmp/bank77-model --n 1000 --long 100 --memory
    python bench/inference_speed.py --memory-only --rows 100000,1000000

Skips with a message when the data or the model is absent. Timings on a shared machine
are pessimistic; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from banking_texts import BANKING77, synthetic_texts

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_SCRIPT = """\
import csv, json, sys; from transformers import pipeline
texts = [r["text"] for r in csv.DictReader(open(sys.argv[2], encoding="utf-8"))]
json.dump(pipeline("text-classification", model=sys.argv[1]{extra})(texts), open(sys.argv[3], "w"))
"""


# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------


class Row:
    def __init__(self, name: str, seconds: float, n: int, labels: Sequence[str] | None) -> None:
        self.name, self.seconds, self.n, self.labels = name, seconds, n, labels

    def cells(self, reference: Sequence[str] | None, truth: Sequence[str] | None) -> list[str]:
        agree = acc = "n/a"
        if self.labels is not None and reference is not None:
            agree = f"{100 * np.mean([a == b for a, b in zip(self.labels, reference, strict=True)]):.2f}%"
        if self.labels is not None and truth is not None:
            acc = f"{100 * np.mean([a == b for a, b in zip(self.labels, truth, strict=True)]):.2f}%"
        return [self.name, f"{self.seconds:.1f}", f"{self.n / self.seconds:,.0f}", agree, acc]


def timed(fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    labels = fn()
    return time.perf_counter() - started, labels


def pipeline_rows(model: Path, texts: list[str], max_length: int, *, default: bool) -> list[Row]:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model), device=-1)
    kwargs = {"truncation": True, "max_length": max_length}
    pipe(texts[:8], **kwargs)  # warm-up
    rows = []
    runs = ([("pipeline default (batch 1)", {})] if default else []) + [
        ("pipeline(batch_size=32)", {"batch_size": 32})
    ]
    for name, extra in runs:
        seconds, labels = timed(lambda e=extra: [r["label"] for r in pipe(texts, **kwargs, **e)])
        rows.append(Row(name, seconds, len(texts), labels))
    return rows


def predictor_rows(model: Path, texts: list[str]) -> tuple[list[Row], list[str]]:
    from textclf.inference.onnx import FP32_FILE, INT8_FILE, ONNX_DIR, BackendChoice
    from textclf.inference.pipeline import Predictor

    rows = []
    reference: list[str] = []
    for precision in ("fp32", "bf16"):
        p = Predictor.from_folder(model, backend="torch", device="cpu", precision=precision)
        p.logits(texts[:64])  # warm-up
        seconds, labels = timed(lambda p=p: p.predict(texts))
        rows.append(Row(f"textclf Predictor, torch {precision}", seconds, len(texts), labels))
        reference = reference or labels
    for name, file in (("fp32", FP32_FILE), ("int8", INT8_FILE)):
        path = model / ONNX_DIR / file
        if not path.is_file():
            print(f"(no {path}: run 'textclf export --model {model} --quantize int8' for this row)")
            continue
        # int8 alone, then as `auto` runs it: its closest calls re-checked in fp32.
        choices = [BackendChoice("onnx", path, name)]
        if name == "int8":
            choices.append(BackendChoice("onnx-int8", path, name))
        for choice in choices:
            p = Predictor.from_onnx(model, choice, device="cpu")
            p.logits(texts[:64])
            seconds, labels = timed(lambda p=p: p.predict(texts))
            label = f"textclf Predictor, ONNX {name}"
            if choice.name == "onnx-int8":
                assert p._onnx is not None
                share = p._onnx.rechecked / max(p._onnx.seen, 1)
                label += f" + fp32 re-check ({100 * share:.1f}% re-checked)"
            elif name == "int8":
                label += " alone"
            rows.append(Row(label, seconds, len(texts), labels))
    return rows, reference


def predict_command(model: Path, input_file: Path, output: Path) -> list[str]:
    """The ``textclf predict`` command line (quiet) that both command benchmarks time."""
    return [
        sys.executable,
        "-m",
        "textclf",
        "-q",
        "predict",
        "-m",
        str(model),
        "-i",
        str(input_file),
        "-o",
        str(output),
    ]


def command_rows(
    model: Path, csv_path: Path, n: int, *, default: bool, before: str | None
) -> list[Row]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "true"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        textclf = predict_command(model, csv_path, out)
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            ("`textclf predict` (auto backend)", textclf, env),
            ("`textclf predict --backend torch`", [*textclf, "--backend", "torch"], env),
        ]
        if before:
            old_env = {**env, "PYTHONPATH": before}
            runs.append(("`textclf predict` before issue 13", textclf, old_env))
        script = Path(tmp) / "pipe.py"
        for label, extra in (
            ("3-line pipeline script, default", ""),
            ("3-line pipeline script, batch_size=32", ", batch_size=32"),
        ):
            if extra == "" and not default:
                continue
            body = PIPELINE_SCRIPT.format(extra=extra)
            path = script.with_name(f"pipe{len(runs)}.py")
            path.write_text(body)
            runs.append(
                (label, [sys.executable, str(path), str(model), str(csv_path), str(out)], env)
            )
        for name, cmd, run_env in runs:
            out.unlink(missing_ok=True)
            started = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=run_env)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                print(f"{name} failed:\n{done.stderr[-2000:]}")
                continue
            text = out.read_text(encoding="utf-8")
            if text.lstrip().startswith("["):
                labels = [r["label"] for r in json.loads(text)]
            else:
                labels = [json.loads(line)["label"] for line in text.splitlines()]
            rows.append(Row(name, seconds, n, labels))
    return rows


def table(
    title: str, rows: list[Row], reference: list[str] | None, truth: list[str] | None
) -> None:
    print(f"\n### {title}\n")
    print("| path | seconds | texts/s | labels = torch | accuracy |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row.cells(reference, truth)) + " |")


# ---------------------------------------------------------------------------------------
# Streaming memory
# ---------------------------------------------------------------------------------------


def tiny_model(folder: Path) -> Path:
    """A random 2-layer, hidden-32 BERT with a WordPiece tokenizer, saved and exported."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from textclf.inference.onnx_export import export_onnx
    from textclf.persistence import ModelInfo, save_model_folder

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        synthetic_texts(2000), trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tokenizer = BertTokenizerFast(tokenizer_object=tok, model_max_length=64)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    info = ModelInfo(task="multiclass", labels=["a", "b", "c"], max_length=64)
    save_model_folder(folder, BertForSequenceClassification(config), tokenizer, info)
    export_onnx(folder)
    return folder


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float, list[float]]:
    """Wall seconds, peak RSS (MiB) and RSS samples (MiB, every 0.2 s) of a command.

    The peak is the kernel's high-water mark (``VmHWM``) read while the process runs:
    ``wait4``'s ``ru_maxrss`` would carry over this (much larger) process's own peak
    through ``fork``.
    """
    samples: list[float] = []
    peak = [0.0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                fields = dict(
                    line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
                )
                samples.append(int(fields["VmRSS"].split()[0]) / 1024)
                peak[0] = max(peak[0], int(fields["VmHWM"].split()[0]) / 1024)
            except (OSError, KeyError, ValueError):
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, stderr = proc.communicate()
    watcher.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(stderr.decode()[-2000:])
    return seconds, peak[0], samples


def memory_check(sizes: list[int]) -> None:
    print("\n### Streaming: resident memory of the whole `textclf predict` command\n")
    print("Model: a random 2-layer, hidden-32 BERT exported to ONNX fp32 (tiny, so the 1M-row")
    print("run is affordable; the reader, engine and writer are the ones every model uses).\n")
    print(
        "| rows | input MiB | output MiB | seconds | rows/s | peak RSS MiB | RSS p50 of samples |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_model(Path(tmp) / "tiny")
        pool = synthetic_texts(100_000, seed=1)
        for n in sizes:
            src = Path(tmp) / f"in{n}.csv"
            with open(src, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["id", "text"])
                for i in range(n):
                    w.writerow([i, pool[i % len(pool)]])
            out = Path(tmp) / f"out{n}.jsonl"
            cmd = [*predict_command(folder, src, out), "--backend", "onnx"]
            seconds, peak, samples = peak_rss(cmd, env)
            print(
                f"| {n:,} | {src.stat().st_size / 2**20:.0f} | {out.stat().st_size / 2**20:.0f} | "
                f"{seconds:.0f} | {n / seconds:,.0f} | {peak:.0f} | {np.median(samples) if samples else float('nan'):.0f} |",
                flush=True,
            )
            src.unlink()
            out.unlink()


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("/tmp/bank77-model"))
    parser.add_argument("--n", type=int, default=0, help="Banking77 test texts (0: all 3,080).")
    parser.add_argument("--long", type=int, default=200, help="Synthetic reports (0: skip).")
    parser.add_argument(
        "--no-pipeline-default", action="store_true", help="Skip batch-1 rows (slow)."
    )
    parser.add_argument(
        "--before", help="src/ folder of an older textclf for a 'before' command row."
    )
    parser.add_argument(
        "--memory", action="store_true", help="Also run the streaming memory check."
    )
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--rows", default="100000,1000000", help="Row counts for --memory.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start; Python {platform.python_version()}."
    )
    if args.memory_only:
        memory_check([int(x) for x in args.rows.split(",")])
        return
    # Nothing measured is an error (exit 1), so a script running the bench notices.
    if not BANKING77.is_file():
        raise SystemExit(f"nothing measured: Banking77 test data not found at {BANKING77}")
    if not (args.model / "textclf.json").is_file():
        raise SystemExit(
            f"nothing measured: no trained model at {args.model} (see this script's docstring)"
        )
    import torch

    from textclf.persistence import read_info

    info = read_info(args.model)
    with open(BANKING77, newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    if args.n:
        records = records[: args.n]
    texts, truth = [r["text"] for r in records], [r["category"] for r in records]
    print(
        f"Model: {args.model} ({info.backbone_name or 'unknown backbone'}, {len(info.labels)} labels, "
        f"max_length {info.max_length}); torch {torch.__version__} with {torch.get_num_threads()} threads."
    )

    rows = pipeline_rows(args.model, texts, info.max_length, default=not args.no_pipeline_default)
    mine, reference = predictor_rows(args.model, texts)
    table(
        f"Banking77 test, {len(texts):,} short texts, in-process (prediction only)",
        rows + mine,
        reference,
        truth,
    )

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "test.csv"
        with open(src, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text"])
            w.writerows([t] for t in texts)
        cmds = command_rows(
            args.model, src, len(texts), default=not args.no_pipeline_default, before=args.before
        )
    table(
        f"Banking77 test, {len(texts):,} short texts, whole command (fresh process, start-up included)",
        cmds,
        reference,
        truth,
    )
    by = {r.name: r.seconds for r in cmds}
    auto = by.get("`textclf predict` (auto backend)")
    for base in ("3-line pipeline script, default", "3-line pipeline script, batch_size=32"):
        if auto and base in by:
            print(f"- whole command vs {base}: {by[base] / auto:.1f}× faster")

    if args.long:
        from textclf.data.synth import make_reports

        long_texts = [str(t) for t in make_reports("multiclass", args.long, seed=0)["text"]]
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(args.model)
        mean_tokens = np.mean([len(x) for x in tok(long_texts)["input_ids"]])
        rows = pipeline_rows(
            args.model, long_texts, info.max_length, default=not args.no_pipeline_default
        )
        mine, reference = predictor_rows(args.model, long_texts)
        table(
            f"Synthetic reports, {len(long_texts)} long texts (mean {mean_tokens:.0f} tokens, cut at {info.max_length}), in-process",
            rows + mine, reference, None,
        )  # fmt: skip
    if args.memory:
        memory_check([int(x) for x in args.rows.split(",")])


if __name__ == "__main__":
    main()
