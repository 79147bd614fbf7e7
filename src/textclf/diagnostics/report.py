"""The diagnostics report: every figure, the error analysis and the attributions in one HTML file.

``write_report`` takes what evaluation already computed (probabilities, the decision rule,
the ``metrics.json`` document, the Trainer's log history, the data summary) plus the
predictor for the two things that need the model — sentence embeddings and token
attributions — and writes, atomically::

    OUT/report.html          self-contained: images embedded, no scripts, opens offline
    OUT/errors.csv           every misclassified example with its error type
    OUT/confused_pairs.csv   the most frequent (true → predicted) confusions
    OUT/label_issues.csv     likely label errors (confident learning)
    OUT/figures/*.png        each figure on its own

Example:
    >>> result = write_report(run / "eval", predictor=predictor, inputs=inputs)  # doctest: +SKIP
    >>> result.paths["report"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from textclf._version import __version__
from textclf.atomic import atomic_path, write_text_atomic
from textclf.config import DiagnosticsConfig
from textclf.data.labels import LabelSpace
from textclf.diagnostics import html as H
from textclf.diagnostics import plots
from textclf.diagnostics.curves import diagnose, parse_log_history
from textclf.diagnostics.errors import confused_pairs, error_table, likely_label_errors
from textclf.errors import MissingExtraError
from textclf.evaluation.decision import DecisionRule, decide
from textclf.evaluation.report import (
    comparison_outcome,
    comparison_sentence,
    decision_rule_lines,
    few_examples_note,
    fmt_interval,
    headline_table,
    per_label_na_note,
)
from textclf.faults import fail_point
from textclf.progress import progress_bar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)

#: Texts per split whose token lengths are counted for the length histogram.
LENGTH_SAMPLE = 5000
#: Rows of errors.csv shown in the page (the CSV holds them all).
ERRORS_SHOWN = 50


@dataclass
class ReportInputs:
    """What the report shows, as arrays: one evaluated split plus the run's context.

    Attributes:
        space: Task and label order.
        split: Name of the evaluated split (``test``, a file name, …).
        texts: The ``n`` evaluated texts.
        y_true: ``(n,)`` label ids, or ``(n, k)`` 0/1 for multi-label.
        proba: ``(n, k)`` calibrated probabilities.
        rule: The decision rule the probabilities were turned into labels with.
        metrics: The ``metrics.json`` document for this split.
        rows: Row numbers of ``texts`` in their source file.
        log_history: The Trainer's log history (for learning curves), if known.
        best_metric: The metric that chose the kept checkpoint (the Trainer's
            ``metric_for_best_model``, with or without ``eval_``), from the training record.
        best_step: Step of the checkpoint the Trainer kept, from the training record. With
            both, the curves mark that checkpoint; without them (older run folders) it is
            re-derived from the log with the shared lower-is-better rule
            (:func:`textclf.evaluation.metrics.greater_is_better`).
        splits: Texts and label ids of every split, for the data summary.
        findings: Data-check findings (``ValidationReport.to_dict()["findings"]``).
        max_length: The model's truncation length, drawn on the length histogram.
        title: Report title.
        facts: Extra ``(name, value)`` lines for the header (model, backbone, run time).
    """

    space: LabelSpace
    split: str
    texts: Sequence[str]
    y_true: np.ndarray
    proba: np.ndarray
    rule: DecisionRule
    metrics: dict[str, Any]
    rows: Sequence[int] | None = None
    log_history: list[dict[str, Any]] | None = None
    best_metric: str | None = None
    best_step: int | None = None
    splits: Mapping[str, tuple[Sequence[str], np.ndarray]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    max_length: int | None = None
    title: str = "textclf report"
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReportResult:
    """Where the report went, how long each part took, and what was left out and why."""

    paths: dict[str, Path]
    timings: dict[str, float]
    notes: list[str]
    n_errors: int = 0


class _Builder:
    """Collects sections, figures and timings while the report is assembled."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.figures: dict[str, Path] = {}
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self._started = time.perf_counter()

    def figure(self, name: str, fig: Figure, *, alt: str, caption: str = "") -> str:
        """Save ``fig`` as ``figures/NAME.png`` and return it embedded."""
        png = plots.figure_png(fig)
        path = self.out / "figures" / f"{name}.png"
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
        self.figures[name] = path
        return H.image(png, alt=alt, caption=caption)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self._started
        self._started = now
        logger.info("Report: %s in %.1f s.", stage, self.timings[stage])


def _flat_confidence(inputs: ReportInputs, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence in each decision and whether it was right.

    Single-label: the predicted label's probability, per example. Multi-label: every
    (example, label) decision, with confidence ``p`` for a predicted label and ``1 − p``
    for a label left out, so the two read the same way.
    """
    if inputs.space.multilabel:
        p = inputs.proba.reshape(-1)
        decided = pred.reshape(-1).astype(bool)
        return np.where(decided, p, 1 - p), decided == inputs.y_true.reshape(-1).astype(bool)
    conf = inputs.proba[np.arange(len(pred)), pred]
    return conf, pred == inputs.y_true


def _metrics_section(inputs: ReportInputs) -> str:
    doc = inputs.metrics
    level = round(100 * doc.get("confidence", 0.95))
    header, rows = headline_table(doc)
    body = [
        f"<p>{doc['n_examples']:,} examples of the <b>{H.esc(doc['split'])}</b> split; "
        f"values with {level}% bootstrap confidence intervals ({doc['n_resamples']:,} "
        f"resamples, {H.esc(doc['ci_method'])}"
        + (f", seed {doc['seed']}" if doc.get("seed") is not None else "")
        + ").</p>",
        H.table(pd.DataFrame(rows, columns=header), text_columns=()),
    ]
    sentence = comparison_sentence(doc)
    if sentence:
        # Green only where the model is clearly better; a loss or a tie is not good news.
        outcome = comparison_outcome(doc.get("comparison"))
        body.append(H.note(sentence, kind="good" if outcome == "better" else "warn"))
    few = few_examples_note(doc)
    if few:
        body.append(H.note(few, kind="warn"))
    if doc.get("note"):
        body.append(H.note(doc["note"], kind="warn"))
    lines = decision_rule_lines(doc)
    if lines:
        fitted_on = (doc.get("thresholds", {}).get("decision_rule") or {}).get("fitted_on")
        where = f" (fitted on {fitted_on})" if fitted_on else ""
        body.append(H.note(f"Decision rule{where}: " + "; ".join(lines)))
    per_label = pd.DataFrame(
        [
            {
                "label": label,
                "precision": fmt_interval(v["precision"], 3),
                "recall": fmt_interval(v["recall"], 3),
                "F1": fmt_interval(v["f1"], 3),
                "support": int(v["support"]),
            }
            for label, v in doc.get("per_label", {}).items()
        ]
    )
    if len(per_label):
        undefined = per_label_na_note(doc)
        table = H.table(per_label) + (H.note(undefined) if undefined else "")
        body.append(H.collapsible("Per-label precision, recall and F1", table))
    return "".join(body)


def _data_section(b: _Builder, inputs: ReportInputs, tokenizer: Any) -> str:
    labels = list(inputs.space.labels)
    counts: dict[str, dict[str, int]] = {}
    lengths: dict[str, np.ndarray] = {}
    sampled = []
    for name, (texts, y) in inputs.splits.items():
        y = np.asarray(y)
        per = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=len(labels))
        counts[name] = {lab: int(c) for lab, c in zip(labels, per, strict=True)}
        chosen = list(texts)
        if len(chosen) > LENGTH_SAMPLE:
            rng = np.random.default_rng(0)
            chosen = [chosen[i] for i in rng.choice(len(chosen), LENGTH_SAMPLE, replace=False)]
            sampled.append(name)
        if tokenizer is not None:
            enc = tokenizer(chosen, add_special_tokens=True, truncation=False)["input_ids"]
            lengths[name] = np.array([len(x) for x in enc])
        else:
            lengths[name] = np.array([len(t.split()) for t in chosen])
    parts = []
    unit = "tokens" if tokenizer is not None else "words"
    sizes = pd.DataFrame(
        [
            {
                "split": name,
                "examples": len(texts),
                "labels present": int(sum(1 for c in counts[name].values() if c)),
                f"median {unit}": float(np.median(lengths[name])) if len(lengths[name]) else 0.0,
            }
            for name, (texts, _) in inputs.splits.items()
        ]
    )
    if len(sizes):
        parts.append(H.table(sizes, float_digits=0, text_columns=()))
    figs = []
    if counts:
        figs.append(
            b.figure(
                "label_distribution",
                plots.label_distribution_figure(counts),
                alt="Label distribution per split",
                caption="Share of each split's examples per label.",
            )
        )
    if lengths:
        caption = f"Text length in {unit}; the line marks the truncation length."
        if sampled:
            caption += f" Counted on a sample of {LENGTH_SAMPLE:,} texts for {', '.join(sampled)}."
        figs.append(
            b.figure(
                "text_lengths",
                plots.text_length_figure(lengths, unit=unit, max_length=inputs.max_length),
                alt="Text length histogram",
                caption=caption,
            )
        )
    parts.append(H.grid(figs))
    if inputs.findings:
        frame = pd.DataFrame(
            [
                {
                    "level": f["level"],
                    "split": f["split"],
                    "finding": f["message"],
                    "count": f.get("count") or "",
                }
                for f in inputs.findings
            ]
        )
        parts.append("<h3>Data checks</h3>" + H.table(frame, text_columns=("finding",)))
    else:
        parts.append(H.note("The data checks found no problems.", kind="good"))
    return "".join(parts)


def _confusion_section(b: _Builder, inputs: ReportInputs, pred: np.ndarray) -> str:
    labels = list(inputs.space.labels)
    y = inputs.y_true
    # (file name, how to draw it, alt text, caption), drawn and saved one at a time.
    specs: list[tuple[str, Callable[[], Figure], str, str]] = (
        [
            (
                "multilabel_confusion",
                lambda: plots.multilabel_confusion_figure(y, pred, labels),
                "Per-label confusion matrices",
                "Per label: true negatives, false positives, false negatives, true positives.",
            ),
            (
                "label_cooccurrence",
                lambda: plots.cooccurrence_figure(y, pred, labels),
                "Label co-occurrence, true and predicted",
                "How often two labels occur together, in the data and in the predictions.",
            ),
        ]
        if inputs.space.multilabel
        else [
            (
                "confusion_matrix",
                lambda: plots.confusion_matrix_figure(y, pred, labels),
                "Confusion matrix (counts)",
                "Rows: true label; columns: predicted label.",
            ),
            (
                "confusion_matrix_normalized",
                lambda: plots.confusion_matrix_figure(y, pred, labels, normalize=True),
                "Confusion matrix (row-normalised)",
                "Each cell: the share of the true label's examples predicted as that label.",
            ),
        ]
    )
    figs = [b.figure(name, draw(), alt=alt, caption=caption) for name, draw, alt, caption in specs]
    pairs = confused_pairs(inputs.y_true, pred, labels)
    pairs_path = b.out / "confused_pairs.csv"
    write_text_atomic(pairs_path, pairs.to_csv(index=False))
    # Matrices of many labels need the page's full width to stay legible.
    body = (H.stack(figs) if len(labels) > 8 else H.grid(figs)) + "<h3>Most confused pairs</h3>"
    if len(pairs):
        body += H.table(pairs.head(15), text_columns=())
    else:
        body += H.note("No confusions: every example was predicted right.", kind="good")
    return body


def _curves_section(b: _Builder, inputs: ReportInputs) -> str:
    if not inputs.log_history:
        return H.note("No training log was found, so there are no learning curves.", kind="warn")
    # The training record says which checkpoint was kept; re-guessing it marked the wrong
    # one whenever the Trainer's metric was lower-is-better (issue 12).
    curves = parse_log_history(
        inputs.log_history, metric=inputs.best_metric, best_step=inputs.best_step
    )
    caption = "Training and validation loss, and the validation metric"
    if curves.best_from_record:
        caption += "; the line marks the checkpoint that was kept"
    elif curves.best_step is not None:
        direction = "higher" if curves.greater_is_better else "lower"
        caption += (
            f"; the line marks the best evaluation by {curves.metric_name} ({direction} is "
            "better), the checkpoint the Trainer keeps (the run did not record which it kept)"
        )
    fig = b.figure(
        "learning_curves",
        plots.learning_curves_figure(curves),
        alt="Learning curves",
        caption=caption + ".",
    )
    notes = "".join(H.note(n) for n in diagnose(curves))
    return fig + notes


def _confidence_section(b: _Builder, inputs: ReportInputs, pred: np.ndarray) -> str:
    conf, correct = _flat_confidence(inputs, pred)
    unit = "label decisions" if inputs.space.multilabel else "predictions"
    figs = [
        b.figure(
            "confidence_histogram",
            plots.confidence_histogram_figure(conf, correct),
            alt="Confidence of correct and incorrect predictions",
            caption=f"Confidence of correct and incorrect {unit}.",
        ),
        b.figure(
            "reliability",
            plots.reliability_figure(conf, correct),
            alt="Reliability diagram",
            caption="Accuracy against confidence: a calibrated model follows the diagonal.",
        ),
    ]
    if inputs.space.multilabel:
        t = inputs.rule.thresholds
        figs.append(
            b.figure(
                "score_distributions",
                plots.score_distributions_figure(
                    inputs.proba,
                    inputs.y_true,
                    list(inputs.space.labels),
                    # The plain rule decides at 0.5: draw that, as the caption says.
                    np.broadcast_to(
                        np.asarray(0.5 if t is None else t), (inputs.space.num_labels,)
                    ),
                ),
                alt="Score distributions per label",
                caption="Scores of examples with and without each label; the line is its threshold.",
            )
        )
    return H.grid(figs)


def _per_label_section(b: _Builder, inputs: ReportInputs) -> str:
    per = inputs.metrics.get("per_label", {})
    labels = list(per)
    figs = []
    if labels:

        def pick(key: str) -> np.ndarray:
            return np.array(
                [np.nan if per[lab]["f1"][key] is None else per[lab]["f1"][key] for lab in labels],
                dtype=float,
            )

        figs.append(
            b.figure(
                "per_label_f1",
                plots.per_label_f1_figure(
                    labels,
                    pick("value"),
                    pick("ci_low"),
                    pick("ci_high"),
                    np.array([per[lab]["support"] for lab in labels]),
                ),
                alt="F1 per label with confidence intervals",
                caption="F1 per label with bootstrap confidence intervals; support in brackets.",
            )
        )
    y_true = inputs.y_true
    figs.append(
        b.figure(
            "roc_pr",
            plots.roc_pr_figure(
                y_true, inputs.proba, list(inputs.space.labels), task=inputs.space.task
            ),
            alt="ROC and precision-recall curves",
            caption="ROC and precision-recall curves from the scores, before any threshold.",
        )
    )
    return H.grid(figs)


def _embeddings_section(
    b: _Builder,
    inputs: ReportInputs,
    predictor: Predictor,
    pred: np.ndarray,
    options: DiagnosticsConfig,
    seed: int,
) -> str:
    from textclf.diagnostics.embeddings import project, sentence_embeddings

    emb = sentence_embeddings(predictor, list(inputs.texts), progress=True)
    b.lap("sentence embeddings")
    labels = inputs.space.labels
    if inputs.space.multilabel:
        names = np.array(
            [labels[int(np.flatnonzero(r)[0])] if r.any() else "(none)" for r in inputs.y_true]
        )
        correct = (pred == inputs.y_true).all(axis=1)
    else:
        names = np.array([labels[i] for i in inputs.y_true])
        correct = pred == inputs.y_true
    titles = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
    figs, notes = [], []
    for method in options.projections:
        try:
            proj = project(emb, method=method, seed=seed, max_points=options.max_points)
        except MissingExtraError as e:
            notes.append(f"{titles[method]} map skipped: {e}")
            continue
        figs.append(
            b.figure(
                f"embeddings_{method}",
                plots.embedding_figure(
                    proj.coords,
                    names[proj.index],
                    correct[proj.index],
                    title=f"{titles[method]} of sentence embeddings",
                ),
                alt=f"{titles[method]} map of sentence embeddings",
                caption=proj.note or f"{titles[method]}: all {len(proj.index):,} examples.",
            )
        )
        b.lap(f"{titles[method]} projection")
    b.notes.extend(notes)
    intro = (
        "<p>Each point is one example: the encoder's mean-pooled sentence embedding, "
        "projected to two dimensions. Colour: true label"
        + (" (the first, for multi-label)" if inputs.space.multilabel else "")
        + "; crosses: wrong predictions. Clusters that mix colours are labels the encoder "
        "does not separate.</p>"
    )
    return intro + H.grid(figs) + "".join(H.note(n, kind="warn") for n in notes)


def _pick_examples(
    inputs: ReportInputs, pred: np.ndarray, errors: pd.DataFrame, n: int
) -> list[tuple[str, int, list[int]]]:
    """(kind, index, label ids to explain) of the most confident errors and the least
    confident correct predictions.

    Single-label: the predicted label, and for an error the true one too. Multi-label: the
    decisions that matter for the pick, not every label, since a label scored 0.999 says
    nothing about why the example is hard: for an error the missed and the extra labels,
    for a correct example the label whose decision was least sure.
    """
    if n <= 0:
        return []
    position = {r: i for i, r in enumerate(inputs.rows or range(len(inputs.texts)))}
    y = inputs.y_true
    picked: list[tuple[str, int, list[int]]] = []
    for r in errors["row"].head(n):
        i = position[r]
        if inputs.space.multilabel:
            wanted = np.flatnonzero(pred[i] != y[i]).tolist()
        else:
            wanted = [int(pred[i]), int(y[i])]
        picked.append(("most confident error", i, wanted))
    conf, _ = _flat_confidence(inputs, pred)
    if inputs.space.multilabel:
        correct = (pred == y).all(axis=1)
        per_label = conf.reshape(pred.shape)
        conf, weakest = per_label.min(axis=1), per_label.argmin(axis=1)
    else:
        correct = pred == y
        weakest = pred
    right = np.flatnonzero(correct)
    for i in right[np.argsort(conf[right], kind="stable")][:n]:
        picked.append(("least confident correct", int(i), [int(weakest[i])]))
    return picked


def _attributions_section(
    b: _Builder,
    inputs: ReportInputs,
    predictor: Predictor,
    pred: np.ndarray,
    errors: pd.DataFrame,
    options: DiagnosticsConfig,
) -> tuple[str, list[dict[str, Any]]]:

    from textclf.diagnostics.attributions import (
        DELTA_TOLERANCE,
        TokenAttribution,
        explain,
        highlight_html,
    )

    labels = inputs.space.labels
    chosen = _pick_examples(inputs, pred, errors, options.attribution_examples)
    jobs: list[tuple[str, str, list[str] | None, int | None]] = [
        (kind, inputs.texts[i], [labels[j] for j in dict.fromkeys(wanted)], i)
        for kind, i, wanted in chosen
    ]
    jobs += [("your text", t, None, None) for t in options.explain_texts]

    def status(label: str, i: int | None) -> str | None:
        """Whether ``label`` is true and predicted for example ``i``: an explained label
        need not be the prediction (a missed label, the least sure decision)."""
        if i is None or not label:
            return None
        j = labels.index(label)
        if inputs.space.multilabel:
            true, chosen = bool(inputs.y_true[i][j]), bool(pred[i][j])
        else:
            true, chosen = inputs.y_true[i] == j, pred[i] == j
        return f"{label}: {'true' if true else 'not true'}, {'' if chosen else 'not '}predicted"

    blocks, records = [], []
    attributions: list[TokenAttribution] = []
    for kind, text, wanted, i in progress_bar(jobs, desc="Attributions", unit="text"):
        attrs = explain(
            predictor,
            text,
            labels=wanted,
            methods=("integrated_gradients", "attention_rollout"),
            n_steps=options.attribution_steps,
        )
        attributions += attrs
        inner = "".join(highlight_html(a, title=status(a.label, i)) for a in attrs)
        blocks.append(f"<h3>{H.esc(kind.capitalize())}</h3>{inner}")
        records += [{"kind": kind, **a.to_dict()} for a in attrs]
    if not blocks:
        return H.note("No examples were chosen for attributions."), records
    rough = sum(a.approximate for a in attributions)
    if rough:
        ig = sum(a.method == "integrated_gradients" for a in attributions)
        blocks.insert(
            0,
            H.note(
                f"{rough} of {ig} Integrated Gradients attributions have a completeness "
                f"error above {DELTA_TOLERANCE:g} (δ in their header): their scores are "
                "approximate. Raise diagnostics.attribution_steps (now "
                f"{options.attribution_steps}).",
                kind="warn",
            ),
        )
    intro = (
        "<p>Which tokens push the prediction towards each label. Integrated Gradients "
        "(Sundararajan et al., 2017) attributes the label's probability to each token; orange "
        "tokens raise it and blue ones lower it. Attention rollout (Abnar &amp; Zuidema, 2020) "
        "shows where the [CLS] token attends through the layers, for all labels at once. "
        "Hover a token for its score.</p>"
    )
    return intro + "".join(blocks), records


def write_report(
    out: str | Path,
    *,
    inputs: ReportInputs,
    predictor: Predictor | None = None,
    options: DiagnosticsConfig | None = None,
    seed: int = 42,
) -> ReportResult:
    """Write the report, the error analysis and the figures into ``out``.

    Args:
        out: Folder (created when missing); usually ``RUN/eval``.
        inputs: Probabilities, labels, metrics and context of the evaluated split.
        predictor: The model, for embeddings and attributions; without it those sections
            say they were skipped.
        options: Which projections, how many attribution examples, and so on.
        seed: Seeds the t-SNE/UMAP sample and projections.

    Returns:
        Paths written, seconds per stage, and notes on anything left out.
    """
    options = options or DiagnosticsConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    b = _Builder(out)
    space, rule = inputs.space, inputs.rule
    labels = list(space.labels)
    pred = decide(
        inputs.proba, space.task, threshold=rule.thresholds, at_least_one=rule.at_least_one
    )
    rows = list(inputs.rows) if inputs.rows is not None else list(range(len(inputs.texts)))
    inputs.rows = rows
    sections: list[H.Section] = []

    # Both analyses read the same examples, scores and row numbers.
    examples: dict[str, Any] = {
        "texts": inputs.texts,
        "y_true": inputs.y_true,
        "proba": inputs.proba,
        "task": space.task,
        "labels": labels,
        "rows": rows,
    }
    errors = error_table(**examples, thresholds=rule.thresholds, at_least_one=rule.at_least_one)
    write_text_atomic(out / "errors.csv", errors.to_csv(index=False))
    issues = likely_label_errors(**examples)
    write_text_atomic(out / "label_issues.csv", issues.to_csv(index=False))
    b.lap("error analysis")

    sections.append(H.Section("metrics", "Metrics", _metrics_section(inputs)))
    tokenizer = predictor.tokenizer if predictor is not None else None
    sections.append(H.Section("data", "Data", _data_section(b, inputs, tokenizer)))
    sections.append(H.Section("curves", "Learning curves", _curves_section(b, inputs)))
    title = "Confusion" if not space.multilabel else "Confusion and co-occurrence"
    sections.append(H.Section("confusion", title, _confusion_section(b, inputs, pred)))
    sections.append(H.Section("confidence", "Confidence", _confidence_section(b, inputs, pred)))
    sections.append(H.Section("per-label", "Per label", _per_label_section(b, inputs)))
    b.lap("figures")
    fail_point("report")  # figures written, report.html not yet
    if predictor is not None and options.projections:
        body = _embeddings_section(b, inputs, predictor, pred, options, seed)
    else:
        body = H.note("Embedding maps were not drawn: no model was given or none was asked for.")
    sections.append(H.Section("embeddings", "Embedding map", body))
    if predictor is not None:
        body, _ = _attributions_section(b, inputs, predictor, pred, errors, options)
        b.lap("attributions")
    else:
        body = H.note("Token attributions need the model; none was given.")
    sections.append(H.Section("attributions", "Token attributions", body))
    sections.append(H.Section("errors", "Errors", _errors_section(inputs, errors, issues)))

    n_wrong = len(errors)
    subtitle = [
        f"{space.task} · {len(labels)} labels · {len(inputs.texts):,} examples of "
        f"'{inputs.split}' · {n_wrong:,} misclassified",
        *[f"{k}: {v}" for k, v in inputs.facts],
    ]
    document = H.render_document(
        title=inputs.title,
        sections=sections,
        subtitle=subtitle,
        footer=f"Written by textclf {__version__} on {time.strftime('%Y-%m-%d %H:%M')}; "
        "figures are also in figures/, every error in errors.csv.",
    )
    write_text_atomic(out / "report.html", document)
    b.lap("HTML")
    paths = {
        "report": out / "report.html",
        "errors": out / "errors.csv",
        "confused_pairs": out / "confused_pairs.csv",
        "label_issues": out / "label_issues.csv",
        **{f"figure:{k}": v for k, v in b.figures.items()},
    }
    return ReportResult(paths=paths, timings=b.timings, notes=b.notes, n_errors=n_wrong)


def _errors_section(inputs: ReportInputs, errors: pd.DataFrame, issues: pd.DataFrame) -> str:
    n = len(inputs.texts)
    parts = []
    if len(errors):
        by_type = errors["error_type"].value_counts()
        summary = ", ".join(f"{c:,} {t}" for t, c in by_type.items())
        parts.append(
            f"<p>{len(errors):,} of {n:,} examples are misclassified ({summary}). "
            "All of them are in <code>errors.csv</code>; the most damaging come first.</p>"
        )
        shown = errors.drop(columns=[c for c in ("missed", "extra") if not errors[c].any()])
        parts.append(H.table(shown, max_rows=ERRORS_SHOWN))
    else:
        parts.append(H.note("No misclassified examples.", kind="good"))
    parts.append("<h3>Likely label errors in the data</h3>")
    if len(issues):
        parts.append(
            f"<p>{len(issues):,} examples whose given label the model contradicts with "
            "confidence (confident learning, Northcutt et al., 2021). Some will be model "
            "errors, but these are the rows worth re-reading first: fix the label in the "
            "data file if it is wrong. The full list is in <code>label_issues.csv</code>.</p>"
        )
        parts.append(H.table(issues, max_rows=25))
    else:
        parts.append(
            H.note(
                "No likely label errors were found (or there were too few examples per "
                "label to estimate them)."
            )
        )
    return "".join(parts)
