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

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textclf.assess import Assessment, assess, baseline_verdict, fit_configured_baselines
from textclf.atomic import write_text_atomic
from textclf.config import DiagnosticsConfig, EvalConfig, ExperimentConfig
from textclf.data.io import ColumnSpec, Split
from textclf.data.labels import LabelSpace
from textclf.data.prepare import PreparedData, file_fingerprint, fingerprint, prepare_data
from textclf.data.validate import ValidationReport, validate_splits
from textclf.errors import ConfigError, RunFinishedError, TextclfError, os_error_message
from textclf.estimator import TextClassifier
from textclf.evaluation.metrics import check_metric
from textclf.inference.pipeline import Predictor
from textclf.model_card import model_card
from textclf.modeling import check_max_length, token_counter
from textclf.persistence import ModelInfo, library_versions, read_info
from textclf.run_folder import RunFolder
from textclf.tracking.base import DatasetRecord, Tracker
from textclf.tracking.session import TrackingSession
from textclf.training.callbacks import TrackingCallback
from textclf.training.resources import wait_for_everyone, world

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
    warnings: list[str] = field(default_factory=list)
    """Prominent one-line verdicts (the model does not beat the best baseline)."""
    tracking: dict[str, Any] = field(default_factory=dict)
    """Where the run was recorded: ``TrackingInfo`` fields (uri, experiment, run_id,
    fallback, sync_command, ui_hint); empty when tracking is off."""


def _check_resumable(output: Path, space: LabelSpace) -> None:
    """Refuse to resume checkpoints whose head was built for other labels than the data's.

    Loading them would fail deep in ``load_state_dict`` (a size mismatch) or, with as many
    labels under other names, silently mix two label sets.

    Raises:
        ConfigError: naming both label sets, before the folder is touched.
    """
    from textclf.training.checkpoints import latest_complete_checkpoint

    checkpoint = latest_complete_checkpoint(output / "checkpoints", move_aside=False)
    if checkpoint is None:
        return
    try:
        config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return  # not readable here: the Trainer's own check reports it
    id2label = config.get("id2label") or {}
    saved = [id2label[k] for k in sorted(id2label, key=int)]
    multilabel = config.get("problem_type") == "multi_label_classification"
    if saved != list(space.labels) or multilabel != space.multilabel:
        kind = "multi-label" if multilabel else "single-label"
        raise ConfigError(
            f"{output}: its checkpoints were trained for {len(saved)} {kind} labels {saved[:6]}, "
            f"this data has {space.num_labels} {space.task} labels {list(space.labels)[:6]}; "
            "resume with the run's own data, or start afresh with --overwrite."
        )


def _other_training_file(folder: RunFolder, train: object) -> str | None:
    """``train`` when it is a file other than the one the finished run recorded, else None."""
    given = file_fingerprint(train)
    if given is None:
        return None
    try:
        recorded = (read_info(folder.path).data or {}).get("fingerprints") or {}
    except TextclfError:
        return None
    trained = recorded.get("train")
    return str(train) if isinstance(trained, str) and trained != given else None


def _empties(folder: RunFolder, *, resume: bool, overwrite: bool) -> bool:
    """Whether the run starts by emptying ``folder``: ``--overwrite``, except that with
    ``--resume`` too only a finished run is retrained from scratch (an unfinished one goes
    on), so its old model cannot outlive a retraining that stops midway."""
    return overwrite and (not resume or folder.state() == "finished")


def _check_output_dir(
    folder: RunFolder, *, resume: bool, overwrite: bool, inputs: Sequence[object] = ()
) -> None:
    foreign = folder.foreign_files()
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ConfigError(
            f"{folder.path}: the output folder holds files that are not a textclf run ({shown}); "
            "choose a new or empty --output (--overwrite replaces only an earlier run)."
        )
    state = folder.state()
    if _empties(folder, resume=resume, overwrite=overwrite) and folder.path.is_dir():
        root = folder.path.resolve()
        for source in inputs:
            if isinstance(source, str | os.PathLike) and Path(source).exists():
                path = Path(source).resolve()
                if path.is_relative_to(root):
                    raise ConfigError(
                        f"{source}: this data file lies inside the output folder {folder.path}, "
                        "which --overwrite would empty; move it out or choose another --output."
                    )
    if state == "finished" and resume and not overwrite:
        other = _other_training_file(folder, inputs[0] if inputs else None)
        raise RunFinishedError(
            f"{folder.path}: this run has already finished"
            + (f" (on other training data than {other}, whose bytes differ)" if other else "")
            + ", so there is nothing to resume; pass --overwrite to train it again"
            + (" on this data" if other else "")
            + ", or choose a new --output."
        )
    if state == "empty" or resume or overwrite:
        return
    if state == "finished":  # --resume would do nothing here: name what would
        raise ConfigError(
            f"{folder.path}: the output folder holds a finished run; choose a new --output, "
            "or pass --overwrite to train it again."
        )
    raise ConfigError(
        f"{folder.path}: the output folder already holds a run; choose a new --output, pass "
        "--resume to continue it, or --overwrite to replace it."
    )


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


def dataset_records(data: PreparedData) -> list[DatasetRecord]:
    """What the tracker records of each split: name, fingerprint, source and size."""
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
    # Rank 0 alone judges the folder: another rank may look after rank 0 has claimed it.
    if world()[0] == 0:
        _check_output_dir(
            folder,
            resume=resume,
            overwrite=overwrite,
            inputs=[
                train if train is not None else config.data.train,
                validation if validation is not None else config.data.validation,
                test if test is not None else config.data.test,
            ],
        )
    # The model first (as data validate does): a bad --model or a --max-length beyond the
    # backbone's positions fails before the data is read, and before any folder appears.
    limit = check_max_length(
        config.model.name, config.model.max_length, revision=config.model.revision
    )
    data = prepare_data(
        config,
        train=train,
        validation=validation,
        test=test,
        count_tokens=token_counter(config.model.name, revision=config.model.revision),
        model_max_length=limit,
    )
    check_metric(data.space.task, config.train.metric_for_best_model)  # before any folder
    rank = world()[0]
    if rank != 0:
        # Another process of a torchrun / accelerate launch: it trains its share of each
        # batch once rank 0 has claimed and prepared the folder; rank 0 alone writes the
        # folder, tracks and evaluates (the Trainer saves checkpoints from rank 0 only).
        wait_for_everyone()
        clf = _fit(config, data, output, resume=resume, callbacks=callbacks or [])
        return _result_of_a_helper_rank(output, data, clf, rank, started)
    if resume:
        _check_resumable(output, data.space)
    for finding in data.report.warnings:
        if finding.code not in ("empty_text", "null_label_items"):  # warned as they were read
            logger.warning(finding.message)
    session.check()  # the tracker's health check, before anything is written
    with folder.claim():
        if _empties(folder, resume=resume, overwrite=overwrite):
            folder.clear()
        folder.set_state("running")
        run_config = output / "checkpoints" / "run-config.yaml"
        if not (resume and run_config.is_file()):  # keep the settings the run started with
            config.save(run_config)
        wait_for_everyone()  # the other ranks start training now
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


def _fit(
    config: ExperimentConfig,
    data: PreparedData,
    output: Path,
    *,
    resume: bool,
    callbacks: list[Any],
) -> TextClassifier:
    """The configured classifier fitted on the prepared splits, as every rank fits it."""
    return TextClassifier.from_config(config).fit(
        data.splits["train"],
        X_val=data.splits.get("validation"),
        output_dir=output,
        resume=resume,
        label_space=data.space,
        callbacks=callbacks,
    )


def _result_of_a_helper_rank(
    output: Path, data: PreparedData, clf: TextClassifier, rank: int, started: float
) -> ExperimentResult:
    """What a rank other than 0 returns: the training facts; rank 0 holds the evaluation."""
    history = clf.history_
    return ExperimentResult(
        output_dir=output,
        space=data.space,
        metrics={},
        evaluation={},
        eval_split="",
        n_eval=0,
        report=data.report,
        train_runtime_s=history.train_runtime_s,
        train_samples_per_second=history.train_samples_per_second,
        total_runtime_s=time.perf_counter() - started,
        notes=[f"rank {rank}: trained its share; rank 0 evaluated and wrote the model folder"],
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
        datasets=dataset_records(data),
    )

    clf = _fit(
        config,
        data,
        output,
        resume=resume,
        callbacks=[
            *(callbacks or []),
            *([TrackingCallback(session.tracker)] if session.active else []),
        ],
    )
    history = clf.history_
    rule = clf.rule_
    baselines = fit_configured_baselines(
        data.splits["train"], space, config, validation=data.splits.get("validation")
    )
    batch_size = max(64, history.batch_size * 2)
    metric = config.train.chosen_metric()  # None: the task's headline metric
    validation_doc: dict[str, Any] | None = None
    if "validation" in data.splits and len(data.splits["validation"]) and baselines:
        # The guard: does the model beat the best baseline on validation, too?
        validation_doc = assess(
            clf,
            data.splits["validation"],
            baselines=baselines,
            eval_config=config.eval,
            seed=config.seed,
            split_name="validation",
            batch_size=batch_size,
            progress=False,
            metric=metric,
        ).document
    eval_name = "test" if "test" in data.splits else "validation"
    eval_split = data.splits.get(eval_name)
    assessment: Assessment | None = None
    doc: dict[str, Any] = {}
    eval_dir = output / "eval"
    if eval_split is not None and len(eval_split):
        assessment = assess(
            clf,
            eval_split,
            baselines=baselines,
            eval_config=config.eval,
            seed=config.seed,
            split_name=eval_name,
            batch_size=batch_size,
            metric=metric,
            # The baseline to beat is chosen on validation, not on the test examples
            # (choosing it there favours it; see assess).
            compare_with=((validation_doc or {}).get("comparison") or {}).get("baseline"),
        )
        doc = assessment.document
        if validation_doc is not None and eval_name != "validation":
            doc["validation_comparison"] = validation_doc.get("comparison")
        doc["truncation"] = data.report.to_dict().get("truncation")
        assessment.write(eval_dir)
    notes = [n for n in (data.split_note, *history.notes, *rule.notes) if n]
    verdict = baseline_verdict(
        doc or (validation_doc or {}),
        (validation_doc or {}).get("comparison") if eval_name != "validation" else None,
    )
    verdicts = [verdict] if verdict else []
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
        notes=notes,
        warnings=verdicts,
    )
    info = clf.info()
    info.training = {
        "device": history.resources.note,
        "precision": history.resources.precision,
        "runtime_s": history.train_runtime_s,
        "samples_per_second": history.train_samples_per_second,
        "global_step": history.global_step,
        "planned_steps": history.planned_steps,
        "stopped_by": _stopped_by(history),
        "best_metric": {history.metric_name: history.best_metric},
        "best_step": _best_step(history.best_checkpoint),
        "batch_size": history.batch_size,
        "gradient_accumulation_steps": history.gradient_accumulation_steps,
        "oom_retries": history.oom_retries,
        "notes": list(history.notes),
    }
    info.versions = library_versions()
    write_text_atomic(eval_dir / "log_history.json", json.dumps(history.log_history, indent=1))
    result.notes += save_fitted(
        clf,
        output,
        info,
        config,
        data,
        assessment,
        notes=result.notes,
        warnings=result.warnings,
        batch_size=batch_size,
        log_history=history.log_history,
        best_metric=history.metric_name,
        title=f"textclf report: {output.name or 'run'}",
        facts=[
            ("backbone", info.backbone_name),
            ("training", f"{history.train_runtime_s:.0f} s on {history.resources.note}"),
        ],
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


def _stopped_by(history: Any) -> str | None:
    """What ended the run before its planned steps (``None``: it ran them all)."""
    planned = history.planned_steps
    if planned is None or history.global_step >= planned:
        return None
    if history.degenerate:
        return f"the collapse guard: {history.degenerate}"
    return f"early stopping: validation {history.metric_name} stopped improving"


def _best_step(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    tail = Path(checkpoint).name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def save_fitted(
    clf: TextClassifier,
    output: Path,
    info: ModelInfo,
    config: ExperimentConfig,
    data: PreparedData,
    assessment: Assessment | None,
    *,
    notes: list[str],
    warnings: list[str],
    batch_size: int,
    log_history: list[dict[str, Any]] | None,
    best_metric: str | None,
    title: str,
    facts: list[tuple[str, str]],
) -> list[str]:
    """Save a model fitted on ``data`` (by :func:`run_experiment` or a tuning export) as
    ``output`` with its config and card, then write its report; the report's notes.

    ``info`` gains the measured metrics and the data summary. The report comes after the
    save, so a failing figure never costs the trained model.
    """
    doc = assessment.document if assessment is not None else {}
    info.metrics = {
        "split": doc.get("split"),
        "n_examples": int(doc.get("n_examples", 0)),
        "confidence": config.eval.confidence,
        "metrics": doc.get("metrics", {}),
        "comparison": doc.get("comparison"),
        "validation_comparison": doc.get("validation_comparison"),
    }
    info.data = data.summary()
    clf.save_pretrained(
        output,
        info=info,
        config_yaml=config.model_yaml(),
        model_card=model_card(
            info,
            evaluation=doc,
            data_markdown=data.report.to_markdown(),
            notes=notes,
            warnings=warnings,
        ),
    )
    if assessment is None or not config.diagnostics.enabled:
        return []
    return diagnose(
        assessment,
        clf.predictor(batch_size=batch_size),
        output / "eval",
        options=config.diagnostics,
        seed=config.seed,
        splits=dict(data.splits),
        findings=data.report.to_dict()["findings"],
        log_history=log_history,
        best_metric=best_metric,
        best_step=info.training.get("best_step"),
        title=title,
        facts=facts,
        retry=f"textclf report --model {output} --data <test file>",
    )


def diagnose(
    assessment: Assessment,
    predictor: Predictor,
    out: Path,
    *,
    options: DiagnosticsConfig,
    seed: int,
    splits: Mapping[str, Split] | None = None,
    findings: list[dict[str, Any]] | None = None,
    log_history: list[dict[str, Any]] | None = None,
    best_metric: str | None = None,
    best_step: int | None = None,
    max_length: int | None = None,
    title: str = "textclf report",
    facts: list[tuple[str, str]] | None = None,
    retry: str = "textclf report",
) -> list[str]:
    """Write ``report.html``, ``errors.csv`` and the figures for an assessment; notes on gaps.

    A failure here never costs the model: it is logged and returned as a note naming the
    command that retries it.
    """
    from textclf.diagnostics.report import ReportInputs, write_report

    space = assessment.space
    encoded = {
        name: (s.dataset["text"], space.encode(s.dataset["labels"]))
        for name, s in (splits or {}).items()
    }
    encoded[assessment.document["split"]] = (assessment.texts, assessment.y_true)
    inputs = ReportInputs(
        space=space,
        split=assessment.document["split"],
        texts=assessment.texts,
        y_true=assessment.y_true,
        proba=assessment.proba,
        rule=assessment.rule,
        metrics=assessment.document,
        rows=assessment.rows,
        log_history=log_history,
        splits=encoded,
        findings=findings or [],
        max_length=max_length or predictor.info.max_length,
        title=title,
        facts=facts or [],
        best_metric=best_metric,
        best_step=best_step,
    )
    started = time.perf_counter()
    try:
        report = write_report(out, inputs=inputs, predictor=predictor, options=options, seed=seed)
    except Exception as e:
        disk = os_error_message(e)  # a full disk or an unwritable folder: a user's fix
        if disk is None:
            logger.exception("The diagnostics report failed")  # a bug: keep the traceback
        else:
            logger.warning("The diagnostics report failed: %s", disk)
        return [
            f"The diagnostics report failed ({disk or f'{type(e).__name__}: {e}'}); the model "
            f"and metrics are saved. Retry with: {retry}."
        ]
    logger.info(
        "Report written to %s in %.1f s.", report.paths["report"], time.perf_counter() - started
    )
    return report.notes


def report_files(
    model: str | Path,
    data: str,
    out: Path,
    *,
    train: str | None = None,
    spec: ColumnSpec | None = None,
    options: DiagnosticsConfig | None = None,
    eval_config: EvalConfig | None = None,
    seed: int = 42,
    batch_size: int = 64,
    backend: str = "auto",
) -> tuple[Assessment, list[str]]:
    """What ``textclf report`` runs: assess a saved model on a file, write metrics and the report.

    ``backend`` picks the folder's engine as ``predict`` does (see ``assess.as_predictor``).

    Returns:
        The assessment and notes on anything the report left out.
    """
    from textclf.assess import as_predictor
    from textclf.assess_files import check_sources, evaluate_files, model_spec

    check_sources(spec, data, train)
    predictor = as_predictor(model, batch_size=batch_size, backend=backend)
    spec = model_spec(spec, predictor.folder)
    assessment = evaluate_files(
        predictor,
        data,
        train=train,
        spec=spec,
        eval_config=eval_config,
        seed=seed,
        batch_size=batch_size,
    )
    assessment.write(out)
    info = predictor.info
    history_path = Path(model) / "eval" / "log_history.json"
    history = (
        json.loads(history_path.read_text(encoding="utf-8")) if history_path.is_file() else None
    )
    # The files as evaluate_files read them (each once).
    splits = {"train": assessment.splits["train"]} if train else {}
    # The checks of the file reported on (and of --train beside it), not the training run's:
    # a label missing from this file, repeats, leakage from --train.
    checked = validate_splits({**splits, "test": assessment.splits["test"]}, predictor.space)
    best = info.training.get("best_metric") or {}
    notes = diagnose(
        assessment,
        predictor,
        out,
        options=options or DiagnosticsConfig(),
        seed=seed,
        splits=splits,
        findings=checked.to_dict()["findings"],
        log_history=history,
        best_metric=next(iter(best), None),
        best_step=info.training.get("best_step"),
        title=f"textclf report: {Path(model).name} on {Path(data).name}",
        facts=[("model", str(model)), ("backbone", info.backbone_name or "unknown")],
        retry=f"textclf report --model {model} --data {data}",
    )
    return assessment, notes
