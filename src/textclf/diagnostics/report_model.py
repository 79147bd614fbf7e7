"""The report's two sections that run the model: sentence embeddings and token attributions.

The rest of the report works on arrays that evaluation already computed; these two need
the predictor, and :func:`textclf.diagnostics.report.write_report` calls them only when
it is given one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from textclf.config import DiagnosticsConfig
from textclf.diagnostics import html as H
from textclf.diagnostics import plots
from textclf.diagnostics.report_parts import Builder, ReportInputs, flat_confidence
from textclf.errors import MissingExtraError
from textclf.progress import progress_bar

if TYPE_CHECKING:
    from textclf.inference.pipeline import Predictor


def embeddings_section(
    b: Builder,
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


def pick_examples(
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
    conf, _ = flat_confidence(inputs, pred)
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


def attributions_section(
    b: Builder,
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
    chosen = pick_examples(inputs, pred, errors, options.attribution_examples)
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
