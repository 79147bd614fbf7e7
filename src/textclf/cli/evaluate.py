"""``textclf evaluate``, ``calibrate`` and ``compare``: a saved model on labelled data."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from textclf.cli._common import (
    ColumnNames,
    LabelColumn,
    LabelColumns,
    LabelNames,
    LabelSeparator,
    TextColumn,
    column_spec,
    eval_config,
    print_evaluation,
    read_labelled,
    run,
)
from textclf.errors import TextclfError


@dataclass
class _FileEvaluation:
    predictor: Any
    split: Any
    train: Any
    rule: Any
    doc: dict[str, Any]
    proba: Any
    out: Path


def _evaluate_file(
    model: Path,
    data: str,
    train_file: str | None,
    spec: Any,
    cfg: Any,
    *,
    seed: int,
    batch_size: int,
    output: Path | None,
) -> _FileEvaluation:
    """Evaluate a saved model on a labelled file with its saved rule; write metrics and predictions."""
    from textclf.evaluation.decision import DecisionRule
    from textclf.experiment import evaluate_split, write_evaluation
    from textclf.inference.pipeline import Predictor

    predictor = Predictor.from_folder(model, batch_size=batch_size)
    info, space = predictor.info, predictor.space
    split = read_labelled(data, spec, space, "test")
    train = read_labelled(train_file, spec, space, "train") if train_file else None
    rule = DecisionRule(
        temperature=info.temperature, thresholds=info.thresholds, at_least_one=info.at_least_one
    )
    doc = evaluate_split(
        predictor, split, space, cfg, rule=rule, seed=seed, train=train, split_name=Path(data).name
    )
    out = output or (model / "eval" / Path(data).stem)
    proba = doc.pop("_proba")
    write_evaluation(out, doc, split, space, proba, rule)
    return _FileEvaluation(predictor, split, train, rule, doc, proba, out)


def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder.")],
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled file to evaluate on.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder for metrics.json/.md (default: MODEL/eval/<file>)."
        ),
    ] = None,
    train_file: Annotated[
        str | None, typer.Option("--train", help="Also fit the baselines on this file and compare.")
    ] = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    n_resamples: Annotated[int, typer.Option("--n-resamples")] = 1000,
    ci_method: Annotated[str, typer.Option("--ci-method", help="percentile|bca")] = "percentile",
    confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Evaluate a saved model on a labelled file: metrics with confidence intervals."""

    def body() -> None:
        spec = column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        ev = _evaluate_file(
            model,
            data,
            train_file,
            spec,
            eval_config(n_resamples, ci_method, confidence, baselines=train_file is not None),
            seed=seed,
            batch_size=batch_size,
            output=output,
        )
        print_evaluation(ev.doc)
        print(f"Wrote {ev.out / 'metrics.json'} and {ev.out / 'metrics.md'}.")

    run(body)


def calibrate(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder to update.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled VALIDATION file (never the test file).")
    ],
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    no_temperature: Annotated[bool, typer.Option("--no-temperature", help="Keep T = 1.")] = False,
    no_thresholds: Annotated[
        bool, typer.Option("--no-thresholds", help="Keep the default decision.")
    ] = False,
    at_least_one: Annotated[
        bool, typer.Option("--at-least-one", help="Multi-label: always predict a label.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Fit temperature scaling and decision thresholds on validation data; save them in textclf.json."""

    def body() -> None:
        from textclf.atomic import write_text_atomic
        from textclf.config import EvalConfig
        from textclf.experiment import fit_rule_on_validation
        from textclf.inference.pipeline import Predictor
        from textclf.persistence import SIDECAR

        predictor = Predictor.from_folder(model, batch_size=batch_size)
        space = predictor.space
        spec = column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        split = read_labelled(data, spec, space, "validation")
        predictor.info.temperature, predictor.info.thresholds = 1.0, None
        cfg = EvalConfig(
            calibrate=not no_temperature,
            tune_thresholds=not no_thresholds,
            at_least_one_label=at_least_one,
        )
        rule = fit_rule_on_validation(predictor, split, space, cfg)
        info = predictor.info
        info.temperature, info.thresholds, info.at_least_one = (
            rule.temperature,
            rule.thresholds,
            rule.at_least_one,
        )
        info.metrics = {**info.metrics, "decision_rule": {**rule.to_dict(), "fitted_on": str(data)}}
        write_text_atomic(model / SIDECAR, info.to_json())
        print(
            f"Temperature {rule.temperature:.3f}; validation ECE {rule.ece_before:.4f} -> {rule.ece_after:.4f}."
        )
        if rule.threshold_result is not None:
            tr = rule.threshold_result
            print(
                f"Thresholds tuned: validation {tr.metric} {tr.before:.4f} at 0.5 -> {tr.after:.4f}."
            )
        print(f"Saved in {model / SIDECAR}.")

    run(body)


def compare(
    models: Annotated[
        list[Path], typer.Argument(help="Model folders; the first is the reference.")
    ],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled file all models are evaluated on.")
    ],
    train_file: Annotated[
        str | None, typer.Option("--train", help="Fit the baselines on this file and include them.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write comparison.json and comparison.md here."),
    ] = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_columns: LabelColumns = None,
    label_separator: LabelSeparator = None,
    label_names: LabelNames = None,
    column_names: ColumnNames = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Metric to compare (default: the task's headline)."),
    ] = None,
    n_resamples: Annotated[int, typer.Option("--n-resamples")] = 1000,
    confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
) -> None:
    """Evaluate several saved models (and baselines) on one file; paired differences against the first."""

    def body() -> None:
        from rich.console import Console
        from rich.table import Table

        from textclf.atomic import write_text_atomic
        from textclf.baselines import BASELINE_NAMES, BaselineClassifier
        from textclf.evaluation.bootstrap import bootstrap_metrics, paired_bootstrap
        from textclf.evaluation.calibration import apply_temperature
        from textclf.evaluation.metrics import headline_metric
        from textclf.evaluation.report import fmt_interval
        from textclf.inference.pipeline import Predictor

        predictors = [Predictor.from_folder(m, batch_size=batch_size) for m in models]
        space = predictors[0].space
        for m, p in zip(models, predictors, strict=True):
            if p.space != space:
                raise TextclfError(
                    f"{m}: its labels differ from {models[0]}'s; compare models trained on the same labels."
                )
        spec = column_spec(
            text_column, label_column, label_columns, label_separator, label_names, column_names
        )
        split = read_labelled(data, spec, space, "test")
        texts, y_true = split.dataset["text"], space.encode(split.dataset["labels"])
        head = metric or headline_metric(space.task)
        entries: list[tuple[str, Any, Any]] = []  # (name, proba, threshold)
        for m, p in zip(models, predictors, strict=True):
            proba = apply_temperature(
                p.logits(texts, progress=True), p.info.temperature, multilabel=space.multilabel
            )
            entries.append((str(m), proba, p.info.thresholds))
        if train_file:
            train = read_labelled(train_file, spec, space, "train")
            y_train = space.encode(train.dataset["labels"])
            for kind in ("tfidf_lr", "tfidf_cnb", "majority"):
                b = BaselineClassifier(kind, random_state=seed).fit(
                    train.dataset["text"], y_train, task=space.task, labels=space.labels
                )
                entries.append((BASELINE_NAMES[kind], b.predict_proba(texts), None))
        boot = functools.partial(
            bootstrap_metrics,
            space.task,
            y_true,
            labels=list(space.labels),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        rows = []
        ref_name, ref_proba, ref_t = entries[0]
        for name, proba, t in entries:
            res = boot(proba, threshold=t)
            if head not in res.metrics:
                raise TextclfError(
                    f"--metric {head}: unknown for {space.task}; use one of {sorted(res.metrics)}."
                )
            row: dict[str, Any] = {
                "name": name,
                "metrics": {k: v.to_dict() for k, v in res.metrics.items()},
            }
            if name != ref_name:
                comp = paired_bootstrap(
                    space.task,
                    y_true,
                    ref_proba,
                    proba,
                    metric=head,
                    threshold_a=ref_t,
                    threshold_b=t,
                    n_resamples=n_resamples,
                    confidence=confidence,
                    seed=seed,
                )
                row["vs_reference"] = comp.to_dict()
            rows.append(row)
        level = round(100 * confidence)
        table = Table(
            title=f"{Path(data).name}: {len(texts)} examples; {head} [{level}% CI]; differences vs {ref_name}"
        )
        for col in ("model", head, "difference", "p-value"):
            table.add_column(col, justify="left" if col == "model" else "right")
        md = [f"| model | {head} | difference vs {ref_name} | p-value |", "|---|---|---|---|"]
        for row in rows:
            vs = row.get("vs_reference")
            diff = fmt_interval(vs["difference"]) if vs else "reference"
            pval = f"{vs['p_value']:.3g}" if vs else ""
            cells = [row["name"], fmt_interval(row["metrics"][head]), diff, pval]
            table.add_row(*cells)
            md.append("| " + " | ".join(cells) + " |")
        Console().print(table)
        if output:
            doc = {
                "data": str(data),
                "n_examples": len(texts),
                "metric": head,
                "confidence": confidence,
                "n_resamples": n_resamples,
                "reference": ref_name,
                "models": rows,
            }
            write_text_atomic(output / "comparison.json", json.dumps(doc, indent=2))
            write_text_atomic(output / "comparison.md", "\n".join(md) + "\n")
            print(f"Wrote {output / 'comparison.json'} and {output / 'comparison.md'}.")

    run(body)
