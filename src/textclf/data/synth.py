"""Synthetic breast-cancer pathology reports whose labels follow from what they say.

``textclf data synth`` and ``make demo`` need a dataset that a transformer must actually
read: every label is exactly derivable from the report text, but only by applying the
clinical rules to varied wording. Receptors are positive from 1% staining (ASCO/CAP),
HER2 2+ is settled by the ISH ratio, Ki-67 is compared with a 20% threshold, isolated
tumour cells do not make a node positive, and "positive"/"negative" occur all over the
report for margins, controls and other markers. A bag-of-words baseline therefore does
clearly better than chance but far from perfectly.

Each report is drawn in two steps: latent variables (:mod:`textclf.data.synth_latent`:
receptor percentages, HER2 IHC score and ISH ratio, Ki-67, nodes, lymphovascular
invasion) and then a rendering of those variables with randomly chosen sections,
phrasings and light noise (:mod:`textclf.data.synth_render`). Labels are computed from
the latent variables only, never from the random wording, so there is no label noise.

Example:
    >>> frame = make_reports("multiclass", 3, seed=1)
    >>> list(frame.columns)
    ['id', 'text', 'label']
    >>> frame["id"].tolist()
    ['S00001', 'S00002', 'S00003']
    >>> set(frame["label"]) <= set(SUBTYPES)
    True
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from textclf.atomic import atomic_path
from textclf.data.synth_latent import BINARY_LABELS, FINDINGS, SUBTYPES, label_for, sample_latent
from textclf.data.synth_render import render

__all__ = [
    "BINARY_LABELS",
    "FINDINGS",
    "SUBTYPES",
    "SUPPORTED_EXTENSIONS",
    "TASKS",
    "make_reports",
    "write_reports",
]

TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".parquet")


def check_args(
    task: str, n: int, seed: int, *, names: tuple[str, str, str] = ("task", "n", "seed")
) -> None:
    """Refuse a bad ``task``, ``n`` or ``seed`` before anything is generated.

    Args:
        names: What the caller calls them in the message (the CLI: ``--task``, ``--n``…).

    Raises:
        ValueError: one sentence naming the argument and the fix.
    """
    task_name, n_name, seed_name = names
    if task not in TASKS:
        raise ValueError(f"{task_name} {task!r}: unknown task; use one of {', '.join(TASKS)}.")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{n_name} {n!r}: must be a whole number >= 1 (how many reports).")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{seed_name} {seed!r}: must be a whole number >= 0.")


def make_reports(task: str, n: int, *, seed: int = 0) -> pd.DataFrame:
    """Generate ``n`` synthetic breast pathology reports labelled for ``task``.

    Args:
        task: ``"binary"`` (node-negative/node-positive, about balanced),
            ``"multiclass"`` (surrogate subtype from :data:`SUBTYPES`, about 25% each)
            or ``"multilabel"`` (positive :data:`FINDINGS`; the list may be empty).
        n: Number of reports, at least 1.
        seed: Seed for :func:`numpy.random.default_rng`; the same seed gives the same
            frame, a different seed a different one.

    Returns:
        A frame with columns ``id`` (``"S00001"``, ...), ``text`` (one line, no tabs)
        and ``label`` (a string, or for ``"multilabel"`` a list of strings in
        :data:`FINDINGS` order).

    Raises:
        ValueError: ``task`` is not in :data:`TASKS`, or ``n``/``seed`` is out of range.

    Example:
        >>> frame = make_reports("multilabel", 2, seed=7)
        >>> all(set(labels) <= set(FINDINGS) for labels in frame["label"])
        True
    """
    check_args(task, n, seed)
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    texts: list[str] = []
    labels: list[str | list[str]] = []
    for i in range(int(n)):
        latent = sample_latent(task, rng)
        ids.append(f"S{i + 1:05d}")
        texts.append(render(latent, rng))
        labels.append(label_for(task, latent))
    return pd.DataFrame({"id": ids, "text": texts, "label": labels})


def write_reports(path: str | os.PathLike[str], task: str, n: int, *, seed: int = 0) -> Path:
    """Generate reports with :func:`make_reports` and write them atomically to ``path``.

    The format follows the extension: ``.csv`` and ``.tsv`` (multi-label labels as a JSON
    list in the cell, ``["ER+", "PR+"]``, and ``[]`` for a report with no finding),
    ``.jsonl`` (one object per line, multi-label labels as a JSON list) or ``.parquet``
    (multi-label labels as a list column). Every one of them reads back as multi-label
    data with ``textclf train --train FILE`` alone (see :mod:`textclf.data.io`). The file
    appears complete or not at all: it is written beside ``path`` under a temporary name,
    then renamed.

    Args:
        path: Output file; its folder is created if missing.
        task: One of :data:`TASKS`.
        n: Number of reports, at least 1.
        seed: Seed passed to :func:`make_reports`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: The extension is not supported, or ``task``/``n``/``seed`` is invalid.

    Example:
        >>> write_reports("demo/train.csv", "binary", 500, seed=0)  # doctest: +SKIP
        PosixPath('demo/train.csv')
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"Cannot write {str(target)!r}: unsupported extension {target.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    frame = make_reports(task, n, seed=seed)
    with atomic_path(target) as tmp:
        if suffix in (".csv", ".tsv"):
            if task == "multilabel":
                # JSON lists, not "a|b": the reader takes a JSON-list cell as a label set
                # without --label-separator, and "[]" says "no finding" where an empty
                # cell would read as a missing label (issue 10).
                frame = frame.assign(
                    label=[
                        json.dumps(list(labels), ensure_ascii=False) for labels in frame["label"]
                    ]
                )
            if suffix == ".csv":
                frame.to_csv(tmp, index=False, encoding="utf-8")
            else:
                # Texts hold no tab, newline or double quote, so no field needs quoting and
                # readers that disable quoting for TSV read the file back unchanged.
                frame.to_csv(tmp, index=False, sep="\t", quoting=csv.QUOTE_NONE, encoding="utf-8")
        elif suffix == ".jsonl":
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                for record in frame.to_dict(orient="records"):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            frame.to_parquet(tmp, index=False)
    return target
