"""``run_experiment(config)``: load → validate → split → fit → evaluate → save.

Everything that can be checked is checked before the output folder is created, so a bad
input leaves nothing behind; once training starts, checkpoints make the run resumable.

Example:
    >>> cfg = ExperimentConfig(output_dir="runs/x")  # doctest: +SKIP
    >>> cfg.data.train = "train.csv"  # doctest: +SKIP
    >>> result = run_experiment(cfg)  # doctest: +SKIP
    >>> result.metrics["f1_macro"]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textclf.atomic import write_text_atomic
from textclf.baselines import BASELINE_NAMES, BaselineClassifier
from textclf.config import EvalConfig, ExperimentConfig
from textclf.data.io import Split
from textclf.data.labels import LabelSpace
from textclf.data.prepare import PreparedData, fingerprint, prepare_data
from textclf.data.validate import ValidationReport
from textclf.errors import ConfigError, RunFinishedError
from textclf.estimator import TextClassifier
from textclf.evaluation.bootstrap import BootstrapResult, bootstrap_metrics, paired_bootstrap
from textclf.evaluation.calibration import apply_temperature
from textclf.evaluation.decision import DecisionRule, decide, fit_decision_rule
from textclf.evaluation.metrics import headline_metric
from textclf.evaluation.report import metrics_document, metrics_markdown
from textclf.faults import fail_point
from textclf.inference.pipeline import Predictor
from textclf.persistence import ModelInfo, library_versions
from textclf.run_folder import RunFolder
from textclf.tracking.base import DatasetRecord, Tracker
from textclf.tracking.session import TrackingSession
from textclf.training.callbacks import TrackingCallback

logger = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """What a run produced and where."""

    output_dir: Path
    space: LabelSpace
    metrics: dict[str, float | None]
    evaluation: dict[str, Any]
    eval_split: str
    n_eval: int
    report: ValidationReport
    train_runtime_s: float
    train_samples_per_second: float
    total_runtime_s: float
    notes: list[str] = field(default_factory=list)
    tracking: dict[str, Any] = field(default_factory=dict)
    """Where the run was recorded: ``TrackingInfo`` fields (uri, experiment, run_id,
    fallback, sync_command, ui_hint); empty when tracking is off."""


def _check_output_dir(folder: RunFolder, *, resume: bool, overwrite: bool) -> None:
    state = folder.state()
    if state == "finished" and resume and not overwrite:
        raise RunFinishedError(
            f"{folder.path}: this run has already finished, so there is nothing to resume; "
            "pass --overwrite to train it again, or choose a new --output."
        )
    if state == "empty" or resume or overwrite:
        return
    raise ConfigError(
        f"{folder.path}: the output folder already holds a run; choose a new --output, pass "
        "--resume to continue it, or --overwrite to replace it."
    )


def model_card(result: ExperimentResult, config: ExperimentConfig, info: ModelInfo) -> str:
    """The model folder's README.md: what it is, how it scores (with intervals), its data, its limits."""
    evaluation = (
        metrics_markdown(result.evaluation).replace("# Evaluation", "## Evaluation", 1)
        if result.evaluation
        else "Not evaluated (no validation or test split)."
    )
    pipeline_hint = (
        " (pass `top_k=None, function_to_apply='sigmoid'` to see every label's score)"
        if result.space.multilabel
        else ""
    )
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [textclf, {result.space.task}]
---
# Text classifier ({result.space.task}, {len(result.space.labels)} labels)

Fine-tuned from `{config.model.name}` with textclf {info.versions.get("textclf", "")}. Load it with
`textclf predict --model <this folder> …`, `TextClassifier.from_pretrained(<this folder>)`, or
plain `transformers.pipeline("text-classification", model=<this folder>)`{pipeline_hint}.
textclf applies the calibrated temperature and tuned thresholds stored in `textclf.json`;
plain `transformers.pipeline` does not know them.

{evaluation}

## Data

{result.report.to_markdown()}

{"; ".join(n for n in result.notes if n)}

## Training

Trained for {result.train_runtime_s:.0f} s ({result.train_samples_per_second:.1f} samples/s) on
{info.training.get("device", "?")}. The full configuration is in `config.yaml`.

## Intended use and limits

Classifies texts like those in the training data into the labels above. It has seen only
that data: texts from another source, language or period may be classified worse than the
figures above say. Predictions are probabilities from one model; decisions with
consequences (clinical, financial) need review by a person.
"""


def run_experiment(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    train: Any = None,
    validation: Any = None,
    test: Any = None,
    callbacks: list[Any] | None = None,
    tracker: Tracker | None = None,
) -> ExperimentResult:
    """Run one experiment end to end and write the model folder to ``config.output_dir``.

    The run is tracked as ``config.tracking`` says (MLflow's embedded store by default):
    the tracker's health check runs before the output folder is created, and a tracker
    that fails later never stops training (see :mod:`textclf.tracking`).

    Args:
        config: The validated experiment config.
        resume: Continue an interrupted run from its last checkpoint.
        overwrite: Replace an existing run in the output folder.
        train, validation, test: Data objects (DataFrame, Dataset, …) overriding the paths
            in ``config.data``.
        callbacks: Extra Trainer callbacks.
        tracker: A tracker with an open run (e.g. a hyperparameter search's) to record this
            run under, as a nested run; default: a tracker from ``config.tracking``.

    Returns:
        The metrics, the data report, where everything was written and where the run
        was tracked (``result.tracking``).

    Raises:
        ConfigError, DataError, ModelLoadError: before anything is written.
        TrackingError: before anything is written, when ``tracking.required`` is set and
            the tracker fails its health check.
    """
    session = TrackingSession(config, tracker=tracker)
    try:
        return _run_experiment(
            config,
            session,
            resume=resume,
            overwrite=overwrite,
            train=train,
            validation=validation,
            test=test,
            callbacks=callbacks,
        )
    except BaseException as e:
        session.fail(e)  # the tracked run ends FAILED (KILLED on Ctrl-C)
        raise


def _dataset_records(data: PreparedData) -> list[DatasetRecord]:
    return [
        DatasetRecord(
            name=name,
            context=name,
            fingerprint=data.fingerprints.get(name) or fingerprint(None, split),
            source=str(split.source),
            num_rows=len(split),
        )
        for name, split in data.splits.items()
    ]


def _run_experiment(
    config: ExperimentConfig,
    session: TrackingSession,
    *,
    resume: bool,
    overwrite: bool,
    train: Any,
    validation: Any,
    test: Any,
    callbacks: list[Any] | None,
) -> ExperimentResult:
    """The body of :func:`run_experiment`, tracked through ``session``."""
    started = time.perf_counter()
    if not config.output_dir:
        raise ConfigError("no output folder: pass --output DIR (or output_dir in the config).")
    output = Path(config.output_dir)
    folder = RunFolder(output)
    _check_output_dir(folder, resume=resume, overwrite=overwrite)
    data = prepare_data(config, train=train, validation=validation, test=test)
    for finding in data.report.warnings:
        logger.warning(finding.message)
    # Check the model name now, so a bad --model fails before the output folder appears.
    from textclf.modeling import load_tokenizer

    load_tokenizer(config.model.name, revision=config.model.revision)
    session.check()  # the tracker's health check, before anything is written
    with folder.claim():
        if overwrite and not resume:
            folder.clear()
        folder.set_state("running")
        config.save(output / "checkpoints" / "run-config.yaml")
        return _train_and_save(
            config,
            session,
            data,
            output,
            resume=resume,
            callbacks=callbacks,
            folder=folder,
            started=started,
        )


def _train_and_save(
    config: ExperimentConfig,
    session: TrackingSession,
    data: PreparedData,
    output: Path,
    *,
    resume: bool,
    callbacks: list[Any] | None,
    folder: RunFolder,
    started: float,
) -> ExperimentResult:
    """Train (or pick up a finished training), evaluate, save, report; in the claimed folder."""
    space = data.space
    session.begin(
        output,
        resume=resume,
        task=space.task,
        labels=space.labels,
        datasets=_dataset_records(data),
    )

    clf = TextClassifier.from_config(config)
    clf.fit(
        data.splits["train"],
        X_val=data.splits.get("validation"),
        output_dir=output,
        resume=resume,
        label_space=space,
        callbacks=[
            *(callbacks or []),
            *([TrackingCallback(session.tracker)] if session.active else []),
        ],
    )
    history = clf.history_
    predictor = clf.predictor(batch_size=max(64, history.batch_size * 2))
    rule = fit_rule_on_validation(predictor, data.splits.get("validation"), space, config.eval)
    clf.temperature_, clf.thresholds_, clf.at_least_one_ = (
        rule.temperature,
        rule.thresholds,
        rule.at_least_one,
    )
    eval_name = "test" if "test" in data.splits else "validation"
    eval_split = data.splits.get(eval_name)
    doc: dict[str, Any] = {}
    eval_proba = np.empty((0, space.num_labels), dtype=np.float32)
    eval_dir = output / "eval"
    if eval_split is not None and len(eval_split):
        doc = evaluate_split(
            predictor,
            eval_split,
            space,
            config.eval,
            rule=rule,
            seed=config.seed,
            train=data.splits["train"],
            split_name=eval_name,
        )
        eval_proba = doc.pop("_proba")
        write_evaluation(eval_dir, doc, eval_split, space, eval_proba, rule)
    result = ExperimentResult(
        output_dir=output,
        space=space,
        metrics={k: v["value"] for k, v in doc.get("metrics", {}).items()},
        evaluation=doc,
        eval_split=eval_name,
        n_eval=int(doc.get("n_examples", 0)),
        report=data.report,
        train_runtime_s=history.train_runtime_s,
        train_samples_per_second=history.train_samples_per_second,
        total_runtime_s=0.0,
        notes=[data.split_note, *history.notes] if data.split_note else list(history.notes),
    )
    info = clf.info()
    info.backbone = config.model.name
    info.metrics = {
        "split": eval_name,
        "n_examples": result.n_eval,
        "confidence": config.eval.confidence,
        "metrics": doc.get("metrics", {}),
        "comparison": doc.get("comparison"),
        "decision_rule": rule.to_dict(),
    }
    info.data = {
        "fingerprints": data.fingerprints,
        "sizes": {name: len(s) for name, s in data.splits.items()},
        "split_note": data.split_note,
        "validation": data.report.to_dict(),
    }
    info.training = {
        "device": history.resources.note,
        "precision": history.resources.precision,
        "runtime_s": history.train_runtime_s,
        "samples_per_second": history.train_samples_per_second,
        "global_step": history.global_step,
        "best_metric": {history.metric_name: history.best_metric},
        "batch_size": history.batch_size,
        "gradient_accumulation_steps": history.gradient_accumulation_steps,
        "oom_retries": history.oom_retries,
    }
    info.versions = library_versions()
    write_text_atomic(eval_dir / "log_history.json", json.dumps(history.log_history, indent=1))
    clf.save_pretrained(
        output, info=info, config_yaml=config.to_yaml(), model_card=model_card(result, config, info)
    )
    if config.diagnostics.enabled and eval_split is not None and len(eval_split):
        # After the save: a failing figure must never cost the trained model.
        result.notes += _write_diagnostics(
            eval_dir, config, data, eval_name, eval_split, doc, eval_proba, rule, predictor, history
        )
    # Last, so that everything written (report, figures, model) is in the tracked run.
    result.tracking = session.complete(output, doc, task=space.task)
    # Finished before the checkpoints go: a crash in between leaves a finished run with
    # leftover checkpoints, never an unfinished run without them.
    folder.set_state("finished")
    if not config.train.keep_checkpoints:
        shutil.rmtree(output / "checkpoints", ignore_errors=True)
    result.total_runtime_s = time.perf_counter() - started
    return result


def _write_diagnostics(
    eval_dir: Path,
    config: ExperimentConfig,
    data: PreparedData,
    eval_name: str,
    eval_split: Split,
    doc: dict[str, Any],
    proba: np.ndarray,
    rule: DecisionRule,
    predictor: Predictor,
    history: Any,
) -> list[str]:
    """``eval/report.html``, ``errors.csv`` and the figures; notes on what was left out."""
    from textclf.diagnostics.report import ReportInputs, write_report

    space = data.space
    splits = {
        name: (s.dataset["text"], space.encode(s.dataset["labels"]))
        for name, s in data.splits.items()
    }
    inputs = ReportInputs(
        space=space,
        split=eval_name,
        texts=eval_split.dataset["text"],
        y_true=splits[eval_name][1],
        proba=proba,
        rule=rule,
        metrics=doc,
        rows=eval_split.dataset["row"],
        log_history=history.log_history,
        splits=splits,
        findings=data.report.to_dict()["findings"],
        max_length=config.model.max_length,
        title=f"textclf report: {Path(config.output_dir or '').name or 'run'}",
        facts=[
            ("backbone", config.model.name),
            ("training", f"{history.train_runtime_s:.0f} s on {history.resources.note}"),
        ],
    )
    started = time.perf_counter()
    try:
        report = write_report(
            eval_dir,
            inputs=inputs,
            predictor=predictor,
            options=config.diagnostics,
            seed=config.seed,
        )
    except Exception as e:
        logger.exception("The diagnostics report failed")
        return [
            f"The diagnostics report failed ({type(e).__name__}: {e}); the model and metrics are "
            f"saved. Retry with: textclf report --model {config.output_dir} --data <test file>."
        ]
    logger.info(
        "Report written to %s in %.1f s.", report.paths["report"], time.perf_counter() - started
    )
    return report.notes


def fit_rule_on_validation(
    predictor: Predictor, validation: Split | None, space: LabelSpace, cfg: EvalConfig
) -> DecisionRule:
    """Temperature and thresholds from the validation split (identity rule without one)."""
    if validation is None or len(validation) == 0:
        return DecisionRule(at_least_one=cfg.at_least_one_label and space.multilabel)
    logits = predictor.logits(validation.dataset["text"], progress=True)
    return fit_decision_rule(
        space.task,
        space.labels,
        logits,
        space.encode(validation.dataset["labels"]),
        calibrate=cfg.calibrate,
        tune_thresholds=cfg.tune_thresholds,
        threshold_metric=cfg.threshold_metric,
        min_positives_per_label=cfg.min_positives_per_label,
        at_least_one=cfg.at_least_one_label,
    )


def evaluate_split(
    predictor: Predictor,
    split: Split,
    space: LabelSpace,
    cfg: EvalConfig,
    *,
    rule: DecisionRule,
    seed: int,
    train: Split | None = None,
    split_name: str = "test",
) -> dict[str, Any]:
    """Metrics with intervals, the same at 0.5, baselines and the paired comparison.

    Returns:
        The ``metrics.json`` document, plus the model's probabilities under ``_proba``.
    """
    texts = split.dataset["text"]
    y_true = space.encode(split.dataset["labels"])
    logits = predictor.logits(texts, progress=True)
    proba = apply_temperature(logits, rule.temperature, multilabel=space.multilabel)
    fail_point("assess")
    # Every model is resampled with the same seed, hence on the same resamples.
    boot = functools.partial(
        bootstrap_metrics,
        space.task,
        y_true,
        labels=list(space.labels),
        n_resamples=cfg.n_resamples,
        confidence=cfg.confidence,
        method=cfg.ci_method,
        seed=seed,
    )
    result = boot(proba, threshold=rule.thresholds, progress=True)
    fixed = None
    if rule.thresholds is not None:
        fixed = boot(proba, threshold=None)
    baselines: dict[str, BootstrapResult] = {}
    baseline_proba: dict[str, np.ndarray] = {}
    if train is not None:
        y_train = space.encode(train.dataset["labels"])
        train_texts = train.dataset["text"]
        for kind in cfg.baselines:
            started = time.perf_counter()
            model = BaselineClassifier(kind, random_state=seed).fit(
                train_texts, y_train, task=space.task, labels=space.labels
            )
            baseline_proba[kind] = model.predict_proba(texts)
            baselines[kind] = boot(baseline_proba[kind])
            logger.info(
                "Baseline %s evaluated in %.1f s.",
                BASELINE_NAMES[kind],
                time.perf_counter() - started,
            )
    comparison, best = None, None
    head = headline_metric(space.task)
    scored = {k: r.metrics[head].value for k, r in baselines.items() if k != "majority"}
    if scored:
        best = max(scored, key=lambda k: -np.inf if np.isnan(scored[k]) else scored[k])
        comparison = paired_bootstrap(
            space.task,
            y_true,
            baseline_proba[best],
            proba,
            metric=head,
            threshold_a=None,
            threshold_b=rule.thresholds,
            n_resamples=cfg.n_resamples,
            confidence=cfg.confidence,
            seed=seed,
        )
    extra: dict[str, Any] = {"_proba": proba}
    if split_name == "validation":
        extra["note"] = (
            "No test split: these figures are on the validation split, which also chose the "
            "best checkpoint and the thresholds, so they are optimistic."
        )
    return metrics_document(
        task=space.task,
        split=split_name,
        labels=list(space.labels),
        result=result,
        cfg=cfg,
        n_examples=len(texts),
        decision=rule,
        at_default_threshold=fixed,
        baselines=baselines,
        baseline_names=BASELINE_NAMES,
        comparison=comparison,
        comparison_baseline=best,
        extra=extra,
    )


def write_evaluation(
    eval_dir: Path,
    doc: dict[str, Any],
    split: Split,
    space: LabelSpace,
    proba: np.ndarray,
    rule: DecisionRule,
) -> None:
    """Write ``metrics.json``, ``metrics.md`` and ``predictions.jsonl`` atomically."""
    write_text_atomic(
        eval_dir / "metrics.json", json.dumps(doc, indent=2, allow_nan=False, default=_json_default)
    )
    write_text_atomic(eval_dir / "metrics.md", metrics_markdown(doc))
    y_true = space.encode(split.dataset["labels"])
    y_pred = decide(proba, space.task, threshold=rule.thresholds, at_least_one=rule.at_least_one)
    trues, preds = space.decode(y_true), space.decode(y_pred)
    row_ids, texts = split.dataset["row"], split.dataset["text"]
    rows = []
    for i in range(len(y_true)):
        rows.append(
            json.dumps(
                {
                    "row": row_ids[i],
                    "text": texts[i],
                    "true": trues[i],
                    ("labels" if space.multilabel else "label"): preds[i],
                    "scores": {
                        lab: round(float(p), 6)
                        for lab, p in zip(space.labels, proba[i], strict=True)
                    },
                },
                ensure_ascii=False,
            )
        )
    write_text_atomic(eval_dir / "predictions.jsonl", "\n".join(rows) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.floating | np.integer):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
