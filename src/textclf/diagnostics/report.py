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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from textclf._version import __version__
from textclf.atomic import write_text_atomic
from textclf.config import DiagnosticsConfig
from textclf.diagnostics import html as H
from textclf.diagnostics import plots
from textclf.diagnostics.curves import diagnose, parse_log_history
from textclf.diagnostics.errors import (
    confused_pairs,
    error_table,
    likely_label_errors,
    spreadsheet_safe,
)
from textclf.diagnostics.report_model import attributions_section, embeddings_section
from textclf.diagnostics.report_parts import (
    Builder,
    ReportInputs,
    ReportResult,
    calibration_pairs,
    flat_confidence,
)
from textclf.evaluation.decision import decide
from textclf.evaluation.report import (
    baseline_rule_line,
    comparison_outcome,
    comparison_sentences,
    decision_rule_lines,
    few_examples_note,
    fmt_interval,
    headline_table,
    per_label_na_note,
)
from textclf.faults import fail_point

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)

#: Texts per split whose token lengths are counted for the length histogram.
LENGTH_SAMPLE = 5000
#: Rows of errors.csv shown in the page (the CSV holds them all).
ERRORS_SHOWN = 50


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
    comparisons = (doc.get("comparison"), doc.get("comparison_best_here"))
    for sentence, comp in zip(comparison_sentences(doc), comparisons, strict=False):
        # Green only where the model is clearly better; a loss or a tie is not good news.
        outcome = comparison_outcome(comp)
        body.append(H.note(sentence, kind="good" if outcome == "better" else "warn"))
    baseline_rule = baseline_rule_line(doc)
    if baseline_rule:
        body.append(H.note(baseline_rule))
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


def _data_section(b: Builder, inputs: ReportInputs, tokenizer: Any) -> str:
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


def _confusion_section(b: Builder, inputs: ReportInputs, pred: np.ndarray) -> str:
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


def _curves_section(b: Builder, inputs: ReportInputs) -> str:
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


def _reliability(b: Builder, inputs: ReportInputs) -> str:
    # The probabilities, as the ECE in metrics.json judges them, not the decisions: under a
    # tuned threshold the two differ, and the title's ECE would not be the reported one.
    prob, true = calibration_pairs(inputs)
    if inputs.space.multilabel:
        figure = plots.reliability_figure(
            prob, true, xlabel="predicted probability of each label", ylabel="share true"
        )
        caption = "Share of labels that are true against their predicted probability"
    else:
        figure = plots.reliability_figure(prob, true)
        caption = "Accuracy of the most probable label against its probability"
    return b.figure(
        "reliability",
        figure,
        alt="Reliability diagram",
        caption=f"{caption}, whatever the decision threshold: a calibrated model follows the "
        "diagonal." + ("" if inputs.space.multilabel else " The ECE is the one in metrics.json."),
    )


def _confidence_section(b: Builder, inputs: ReportInputs, pred: np.ndarray) -> str:
    conf, correct = flat_confidence(inputs, pred)
    unit = "label decisions" if inputs.space.multilabel else "predictions"
    figs = [
        b.figure(
            "confidence_histogram",
            plots.confidence_histogram_figure(conf, correct),
            alt="Confidence of correct and incorrect predictions",
            caption=f"Confidence of correct and incorrect {unit}.",
        ),
        _reliability(b, inputs),
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


def _per_label_section(b: Builder, inputs: ReportInputs) -> str:
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
    b = Builder(out)
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
    write_text_atomic(out / "errors.csv", spreadsheet_safe(errors).to_csv(index=False))
    issues = likely_label_errors(**examples)
    write_text_atomic(out / "label_issues.csv", spreadsheet_safe(issues).to_csv(index=False))
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
        body = embeddings_section(b, inputs, predictor, pred, options, seed)
    else:
        body = H.note("Embedding maps were not drawn: no model was given or none was asked for.")
    sections.append(H.Section("embeddings", "Embedding map", body))
    if predictor is not None:
        body, _ = attributions_section(b, inputs, predictor, pred, errors, options)
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
