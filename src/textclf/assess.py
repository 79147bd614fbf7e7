"""``assess(model, data)``: the one evaluation path — metrics with intervals, baselines, paired test.

``train``, ``evaluate``, ``report``, ``compare``, the tuner and the server all evaluate a
model through this module, so a fresh model and a saved one are measured the same way.
It returns the ``metrics.json`` document *and* the arrays behind it (probabilities, true
and predicted labels, the baselines' probabilities) as separate fields of an
:class:`Assessment`; :meth:`Assessment.write` saves ``metrics.json``, ``metrics.md`` and
``predictions.jsonl`` atomically.

Every model is bootstrapped with the same seed, hence on the same resamples, so the
paired comparison against the best baseline is a like-for-like difference.

Example:
    >>> clf = TextClassifier.from_pretrained("runs/x")  # doctest: +SKIP
    >>> baselines = fit_baselines(train_split, clf.info().space, seed=0)  # doctest: +SKIP
    >>> result = assess(clf, test_split, baselines=baselines)  # doctest: +SKIP
    >>> result.metrics["f1_macro"], result.document["comparison"]["p_value"]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textclf.atomic import write_text_atomic
from textclf.baselines import BASELINE_NAMES, BaselineClassifier
from textclf.config import EvalConfig, ExperimentConfig
from textclf.data.io import Split, split_from_lists
from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError, DataError
from textclf.estimator import TextClassifier, indicator_columns_of, indicator_label_lists
from textclf.evaluation.bootstrap import (
    BootstrapResult,
    PairedComparison,
    bootstrap_metrics,
    paired_bootstrap,
)
from textclf.evaluation.decision import DecisionRule
from textclf.evaluation.metrics import (
    classification_metrics,
    greater_is_better,
    headline_metric,
)
from textclf.evaluation.report import (
    comparison_outcome,
    comparison_record,
    fmt_interval,
    fmt_p,
    metrics_document,
    metrics_markdown,
    p_phrase,
)
from textclf.faults import fail_point
from textclf.inference.pipeline import Predictor
from textclf.inference.records import prediction_records, write_predictions
from textclf.persistence import json_default

logger = logging.getLogger(__name__)

Model = TextClassifier | Predictor | str | os.PathLike[str]


@dataclass
class Assessment:
    """A model measured on one labelled split.

    Attributes:
        document: The ``metrics.json`` document (intervals, baselines, comparison, rule).
        space: Task and labels.
        rule: The decision rule the model was measured under.
        texts: The split's texts; ``rows`` their row numbers in the source.
        y_true: ``(n,)`` ids or ``(n, k)`` 0/1 rows.
        proba: ``(n, k)`` model probabilities (the rule's temperature applied).
        y_pred: The model's decisions under the rule.
        baseline_proba: Each baseline's ``(n, k)`` probabilities.
        ids: The id column's values (``--id-column``), when the data has one.
        splits: The splits read from files to measure it (``test``, and ``train`` for the
            baselines), so a report reuses them rather than reading the files again.
    """

    document: dict[str, Any]
    space: LabelSpace
    rule: DecisionRule
    texts: list[str]
    rows: list[int]
    y_true: np.ndarray
    proba: np.ndarray
    y_pred: np.ndarray
    baseline_proba: dict[str, np.ndarray] = field(default_factory=dict)
    ids: list[Any] | None = None
    splits: dict[str, Split] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float | None]:
        """Metric name → point estimate."""
        return {k: v["value"] for k, v in self.document.get("metrics", {}).items()}

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``metrics.json``, ``metrics.md`` and ``predictions.jsonl`` into ``folder``."""
        out = Path(folder)
        write_text_atomic(
            out / "metrics.json",
            json.dumps(self.document, indent=2, allow_nan=False, default=json_default),
        )
        write_text_atomic(out / "metrics.md", metrics_markdown(self.document))
        records = prediction_records(
            self.proba,
            self.y_pred,
            self.space,
            texts=self.texts,
            rows=self.rows,
            ids=self.ids,
            true=[t if self.space.multilabel else t[0] for t in self.space.decode(self.y_true)],
        )
        write_predictions(out / "predictions.jsonl", records, list(self.space.labels))
        return out


def as_predictor(model: Model, *, batch_size: int = 64, backend: str = "auto") -> Predictor:
    """The inference engine behind ``model`` (a fitted classifier, a predictor or a folder).

    ``backend`` picks a folder's engine as ``predict`` does (``auto``: its ONNX export
    when there is one); a classifier in memory runs on torch.
    """
    if isinstance(model, Predictor):
        return model
    if isinstance(model, TextClassifier):
        return model.predictor(batch_size=batch_size)
    return Predictor.from_folder(model, batch_size=batch_size, backend=backend)


def fit_baselines(
    train: Split,
    space: LabelSpace,
    kinds: Sequence[str] = ("tfidf_lr", "tfidf_cnb", "embed_lr", "majority"),
    *,
    seed: int = 42,
    backbone: str = "default",
    max_length: int = 256,
) -> dict[str, BaselineClassifier]:
    """Fit each baseline once on ``train``, to be assessed on any number of splits.

    Args:
        train: The training split (canonical rows).
        space: Task and labels.
        kinds: Baselines to fit (see :data:`textclf.baselines.BASELINES`).
        seed: Seeds the solvers.
        backbone: Encoder of the frozen-embedding baseline (the run's backbone).
        max_length: Its truncation length.
    """
    y = space.encode(train.dataset["labels"])
    texts = train.dataset["text"]
    fitted: dict[str, BaselineClassifier] = {}
    for kind in kinds:
        started = time.perf_counter()
        fitted[kind] = BaselineClassifier(
            kind, random_state=seed, backbone=backbone, max_length=max_length
        ).fit(texts, y, task=space.task, labels=space.labels)
        logger.info(
            "Baseline %s fitted in %.1f s.", BASELINE_NAMES[kind], time.perf_counter() - started
        )
    return fitted


def fit_configured_baselines(
    train: Split, space: LabelSpace, config: ExperimentConfig, validation: Split | None = None
) -> dict[str, BaselineClassifier]:
    """:func:`fit_baselines` as an experiment config asks: its kinds, seed, backbone, length.

    With ``validation``, each baseline's thresholds are tuned on it as the model's are
    (``config.eval``; see :meth:`BaselineClassifier.fit_rule`).
    """
    fitted = fit_baselines(
        train,
        space,
        config.eval.baselines,
        seed=config.seed,
        backbone=config.model.name,
        max_length=config.model.max_length,
    )
    if validation is not None and len(validation) and space.task != "multiclass":
        y = space.encode(validation.dataset["labels"])
        texts = validation.dataset["text"]
        for kind, baseline in fitted.items():
            if kind != "majority":
                baseline.fit_rule(texts, y, eval_config=config.eval, seed=config.seed)
    return fitted


def _thresholds(baseline: Any) -> float | list[float] | None:
    """A baseline's tuned thresholds; ``None`` (argmax / 0.5) for any object with only
    ``predict_proba``, which is all a baseline must have."""
    return getattr(baseline, "thresholds_", None)


def assessed_metric(task: str, metric: str | None) -> str:
    """The metric an assessment leads with and compares, for a chosen ``metric``.

    ``None`` is the task's headline metric. The Trainer's ``loss`` (what early stopping
    may follow) is not measured on held-out data as such: single-label, it is the
    cross-entropy, which is the ``log_loss`` measured here; multi-label, its binary
    cross-entropy has no counterpart among the metrics, so the headline metric stands in.

    Example:
        >>> assessed_metric("binary", "eval_loss"), assessed_metric("multilabel", "loss")
        ('log_loss', 'f1_micro')
    """
    name = (metric or "").removeprefix("eval_")
    if not name or (name == "loss" and task == "multilabel"):
        return headline_metric(task)
    return "log_loss" if name == "loss" else name


def check_known_labels(split: Split, space: LabelSpace, *, where: object) -> None:
    """Refuse labelled rows whose labels the model does not know.

    Raises:
        DataError: naming ``where`` (the file or source) and the first unknown labels.
    """
    unknown = space.unknown(split.dataset["labels"])
    if unknown:
        known = set(space.labels)
        first_row: dict[str, int] = {}
        n_rows = 0
        for row, labels in zip(split.dataset["row"], split.dataset["labels"], strict=True):
            foreign = [lab for lab in labels if lab not in known]
            n_rows += bool(foreign)
            for lab in foreign:
                first_row.setdefault(lab, row)
        shown = sorted(first_row.items(), key=lambda kv: kv[1])[:5]
        listed = ", ".join(f"{lab!r} (first at row {row})" for lab, row in shown)
        more = f" and {len(first_row) - len(shown)} more" if len(first_row) > len(shown) else ""
        raise DataError(
            f"{where}: {n_rows} row(s) have labels the model ({space.num_labels} labels) does "
            f"not know: {listed}{more}; check --label-column / --label-names"
            f"{' / --label-separator' if space.multilabel else ''}, or use a model trained "
            "on these labels."
        )


def assess(
    model: Model,
    data: Split | tuple[Sequence[str], Sequence[Any]],
    *,
    baselines: Mapping[str, BaselineClassifier] | None = None,
    eval_config: EvalConfig | None = None,
    rule: DecisionRule | None = None,
    seed: int = 42,
    split_name: str = "test",
    batch_size: int = 64,
    progress: bool = True,
    metric: str | None = None,
    compare_with: str | None = None,
) -> Assessment:
    """Measure ``model`` on a labelled split: every metric with a bootstrap interval.

    Args:
        model: A fitted ``TextClassifier``, a ``Predictor`` or a model folder.
        data: The labelled split (canonical rows; labels must be the model's), or a
            ``(texts, labels)`` pair as ``TextClassifier.fit`` takes them.
        baselines: Fitted baselines (:func:`fit_baselines`) to measure on the same
            resamples; the best one (by the headline metric, majority aside) is compared
            with the model in a paired bootstrap.
        eval_config: Interval settings (confidence, resamples, method).
        rule: Measure under this rule instead of the model's own.
        seed: Seeds the bootstrap (the same for every model).
        split_name: Recorded in the document (``test``, ``validation``, a file name).
        batch_size: Texts per forward pass.
        progress: Show progress bars.
        metric: The headline metric that picks the best baseline and is compared in the
            paired test (default: :func:`~textclf.evaluation.metrics.headline_metric`;
            see :func:`assessed_metric` for the Trainer's ``loss``).
        compare_with: The baseline to compare with, chosen elsewhere (``train`` chooses
            it on validation). Default: the best one on this split, which favours the
            baseline (the document's ``comparison.chosen_on`` says which).

    Returns:
        The :class:`Assessment`.

    Raises:
        DataError: for labels the model does not know.
    """
    cfg = eval_config or EvalConfig()
    predictor = as_predictor(model, batch_size=batch_size)
    if isinstance(data, tuple):
        texts, labels = data
        columns = (predictor.info.data or {}).get("indicator_columns")
        if columns is not None and indicator_columns_of(labels, "multilabel") is not None:
            labels = indicator_label_lists(labels, columns, "labels")  # as fit read its matrix
        data = split_from_lists(texts, labels, name=split_name)
    space = predictor.space
    check_known_labels(data, space, where=data.source)
    rule = rule or predictor.info.rule
    texts = list(data.dataset["text"])
    y_true = space.encode(data.dataset["labels"])
    proba = rule.probabilities(predictor.logits(texts, progress=progress))
    fail_point("assess")
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
    result = boot(proba, threshold=rule.thresholds, progress=progress)
    fixed = boot(proba, threshold=None) if rule.thresholds is not None else None
    baseline_results: dict[str, BootstrapResult] = {}
    baseline_proba: dict[str, np.ndarray] = {}
    for kind, baseline in (baselines or {}).items():
        baseline_proba[kind] = baseline.predict_proba(texts)
        baseline_results[kind] = boot(baseline_proba[kind], threshold=_thresholds(baseline))
    head = assessed_metric(space.task, metric)
    comparison, best, chosen_on = None, None, None
    # Lower is better for a loss: the best baseline is the one with the least.
    sign = 1.0 if greater_is_better(head) else -1.0
    # Which baseline is the strongest is judged at the plain rule (argmax / 0.5): thresholds
    # tuned on these same examples would inflate a baseline's score here and could make a
    # weaker one the one to beat.
    scored = {
        k: sign * classification_metrics(space.task, y_true, baseline_proba[k]).get(head, np.nan)
        for k in baseline_results
        if k != "majority"
    }
    here = (
        max(scored, key=lambda k: -np.inf if np.isnan(scored[k]) else scored[k]) if scored else None
    )
    if compare_with is not None and compare_with in baseline_proba:
        best, chosen_on = compare_with, "validation"
    elif here is not None:
        best, chosen_on = here, split_name

    def paired(kind: str) -> PairedComparison:
        return paired_bootstrap(
            space.task,
            y_true,
            baseline_proba[kind],
            proba,
            metric=head,
            threshold_a=_thresholds((baselines or {})[kind]),
            threshold_b=rule.thresholds,
            n_resamples=cfg.n_resamples,
            confidence=cfg.confidence,
            method=cfg.ci_method,
            seed=seed,
        )

    comparison = paired(best) if best is not None else None
    extra: dict[str, Any] = {}
    if here is not None and here != best:
        # The baseline chosen elsewhere is not the best one here (on a small validation
        # split it can be a weaker one): say how the model fares against this one too.
        extra["comparison_best_here"] = comparison_record(paired(here), here, split_name)
    if split_name == "validation":
        extra["note"] = (
            "These figures are on the validation split, which also chose the best checkpoint "
            "and the decision rule, so they are optimistic."
        )
    document = metrics_document(
        task=space.task,
        split=split_name,
        labels=list(space.labels),
        result=result,
        cfg=cfg,
        n_examples=len(texts),
        decision=rule,
        at_default_threshold=fixed,
        baselines=baseline_results,
        baseline_names=BASELINE_NAMES,
        baseline_rules={k: getattr(b, "rule_", None) for k, b in (baselines or {}).items()},
        comparison=comparison,
        comparison_baseline=best,
        comparison_chosen_on=chosen_on,
        extra=extra,
        headline=head,
    )
    return Assessment(
        document=document,
        space=space,
        rule=rule,
        texts=texts,
        rows=list(data.dataset["row"]),
        y_true=y_true,
        proba=proba,
        y_pred=rule.decide(proba),
        baseline_proba=baseline_proba,
        ids=list(data.dataset["id"]) if "id" in data.dataset.column_names else None,
    )


def baseline_verdict(
    document: Mapping[str, Any], validation: Mapping[str, Any] | None = None
) -> str | None:
    """One line when the model does not clearly beat the best baseline, else ``None``.

    Args:
        document: The test (or only) split's metrics document.
        validation: The validation split's comparison (``document["comparison"]`` shape),
            when there was one: the verdict names both splits.

    The remedies are the ones ``bench/robustness.py`` supports: more labelled examples and
    more optimizer steps (the probed head is already the default).
    """
    splits = [(document.get("split", "test"), document.get("comparison"))]
    if validation:
        splits.insert(0, ("validation", validation))
    judged = [(name, c, comparison_outcome(c)) for name, c in splits]
    losing: list[tuple[str, dict[str, Any]]] = [
        (name, c) for name, c, outcome in judged if c and outcome in ("worse", "unclear")
    ]
    if not losing:
        return None
    # Each split compares with its own best baseline; they may differ.
    names: list[str] = [BASELINE_NAMES.get(c["baseline"], c["baseline"]) for _, c in losing]
    same = len(set(names)) == 1
    parts = "; ".join(
        f"{split}{'' if same else ', against ' + baseline}: {c['metric']} difference "
        f"{fmt_interval(c['difference'])}, {p_phrase(c['p_value'])}"
        for (split, c), baseline in zip(losing, names, strict=True)
    )
    worse = any(outcome == "worse" for _, _, outcome in judged)
    verb = "does not beat" if worse else "is not clearly better than"
    name = names[0] if same else "its best baseline"
    return (
        f"The fine-tuned model {verb} {name} ({parts}). Remedies: more labelled examples, "
        "more optimizer steps (--epochs, or --set train.min_steps=N), or use the baseline, "
        "which is cheaper to run."
    )


@dataclass
class Comparison:
    """Several models (and baselines) on one labelled file, paired against the first."""

    document: dict[str, Any]
    markdown: str

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``comparison.json`` and ``comparison.md`` into ``folder``."""
        out = Path(folder)
        write_text_atomic(out / "comparison.json", json.dumps(self.document, indent=2))
        write_text_atomic(out / "comparison.md", self.markdown)
        return out


def compare_models(
    models: Sequence[Model],
    data: Split,
    *,
    names: Sequence[str] | None = None,
    baselines: Mapping[str, BaselineClassifier] | None = None,
    metric: str | None = None,
    eval_config: EvalConfig | None = None,
    seed: int = 42,
    batch_size: int = 64,
) -> Comparison:
    """Evaluate ``models`` (then ``baselines``) on ``data``; paired differences against the first.

    Raises:
        ConfigError: for models with different labels or an unknown metric.
    """
    cfg = eval_config or EvalConfig()
    predictors = [as_predictor(m, batch_size=batch_size) for m in models]
    names = list(names or [str(m) for m in models])
    space = predictors[0].space
    for name, p in zip(names, predictors, strict=True):
        if p.space != space:
            raise ConfigError(
                f"{name}: its labels differ from {names[0]}'s; compare models trained on the same labels."
            )
    head = assessed_metric(space.task, metric)
    # The baselines are measured with the first model, by assess itself: one way to measure.
    runs = [
        assess(
            p,
            data,
            baselines=baselines if i == 0 else None,
            eval_config=cfg,
            seed=seed,
            split_name=str(data.source),
            progress=True,
        )
        for i, p in enumerate(predictors)
    ]
    entries = [
        (n, r.proba, r.rule.thresholds, r.document["metrics"])
        for n, r in zip(names, runs, strict=True)
    ]
    y_true = runs[0].y_true
    measured = runs[0].document.get("baselines") or {}
    for kind, proba in runs[0].baseline_proba.items():
        entries.append((BASELINE_NAMES[kind], proba, None, measured[kind]["metrics"]))
    if head not in entries[0][3]:
        raise ConfigError(
            f"--metric {head}: unknown for {space.task}; use one of {sorted(entries[0][3])}."
        )
    ref_name, ref_proba, ref_t, _ = entries[0]
    rows: list[dict[str, Any]] = []
    md = [f"| model | {head} | difference vs {ref_name} | p-value |", "|---|---|---|---|"]
    for i, (name, proba, t, metrics) in enumerate(entries):
        row: dict[str, Any] = {"name": name, "metrics": metrics}
        if i > 0:  # by position: two models may carry the same name
            row["vs_reference"] = paired_bootstrap(
                space.task,
                y_true,
                ref_proba,
                proba,
                metric=head,
                threshold_a=ref_t,
                threshold_b=t,
                n_resamples=cfg.n_resamples,
                confidence=cfg.confidence,
                method=cfg.ci_method,
                seed=seed,
            ).to_dict()
        rows.append(row)
        vs = row.get("vs_reference")
        cells = [
            name,
            fmt_interval(metrics[head]),
            fmt_interval(vs["difference"]) if vs else "reference",
            fmt_p(vs["p_value"]) if vs else "",
        ]
        md.append("| " + " | ".join(cells) + " |")
    document = {
        "data": str(data.source),
        "n_examples": len(y_true),
        "metric": head,
        "confidence": cfg.confidence,
        "n_resamples": cfg.n_resamples,
        "reference": ref_name,
        "models": rows,
    }
    return Comparison(document=document, markdown="\n".join(md) + "\n")
