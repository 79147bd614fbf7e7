"""The prediction record: one schema for ``predict``, ``eval/predictions.jsonl``, the app and the server.

A record is::

    {"row": 17,                      # the row in the input (or "id" when an id column is given)
     "id": "T-0017",                 # only with an id column
     "text": "my card has not arrived",
     "label": "card_arrival",        # single-label; null when the model abstains
     "labels": ["ER+", "PR+"],       # multi-label instead of "label"
     "scores": {"card_arrival": 0.93, …},   # every label, after the rule's temperature
     "top_k": [{"label": …, "score": …}, …],  # only when asked for
     "true": …}                      # only in evaluation output

Scores are rounded to 6 decimals; ``scores`` follows the model's label order.

Example:
    >>> import numpy as np
    >>> from textclf.data.labels import LabelSpace
    >>> space = LabelSpace("binary", ("neg", "pos"))
    >>> prediction_records(np.array([[0.2, 0.8]]), np.array([1]), space, texts=["good"])
    [{'row': 0, 'text': 'good', 'label': 'pos', 'scores': {'neg': 0.2, 'pos': 0.8}}]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError

#: File types ``write_predictions`` writes (by extension).
OUTPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")


def prediction_records(
    proba: np.ndarray,
    decided: np.ndarray,
    space: LabelSpace,
    *,
    texts: Sequence[str] | None = None,
    rows: Sequence[int] | None = None,
    ids: Sequence[Any] | None = None,
    top_k: int | None = None,
    true: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Build one record per row of ``proba`` (see the module docstring for the schema).

    Args:
        proba: ``(n, k)`` probabilities.
        decided: ``(n,)`` ids (``-1``: abstained) or ``(n, k)`` 0/1 rows.
        space: Task and label names.
        texts: The texts (omitted from the records when ``None``).
        rows: Row numbers in the input (default ``0..n-1``).
        ids: Values of an id column.
        top_k: Also list the ``k`` best labels with their scores.
        true: True labels (names; lists for multi-label), for evaluation output.
    """
    labels = list(space.labels)
    rounded = np.round(np.asarray(proba, dtype=np.float64), 6).tolist()
    order = np.argsort(-np.asarray(proba), axis=1, kind="stable")[:, :top_k] if top_k else None
    records: list[dict[str, Any]] = []
    for i, scores in enumerate(rounded):
        rec: dict[str, Any] = {"row": int(rows[i]) if rows is not None else i}
        if ids is not None:
            rec["id"] = ids[i]
        if texts is not None:
            rec["text"] = texts[i]
        if space.multilabel:
            rec["labels"] = [labels[j] for j in np.flatnonzero(decided[i])]
        else:
            rec["label"] = labels[int(decided[i])] if decided[i] >= 0 else None
        rec["scores"] = dict(zip(labels, scores, strict=True))
        if order is not None:
            rec["top_k"] = [{"label": labels[j], "score": scores[j]} for j in order[i]]
        if true is not None:
            rec["true"] = true[i]
        records.append(rec)
    return records


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """The output path, after checking its extension is one ``write_predictions`` writes.

    Raises:
        ConfigError: for an unknown extension.
    """
    out = Path(path)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"{out}: unknown output type '{out.suffix}'; use .jsonl, .json (one array), .csv "
            "or .tsv."
        )
    return out


def _flat(record: dict[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    row = {k: v for k, v in record.items() if k not in ("scores", "top_k", "labels", "true")}
    if "labels" in record:
        row["labels"] = "|".join(record["labels"])
    if "true" in record:
        t = record["true"]
        row["true"] = "|".join(t) if isinstance(t, list) else t
    if "top_k" in record:
        row["top_k"] = "|".join(f"{t['label']}:{t['score']:.4f}" for t in record["top_k"])
    row.update({f"score_{lab}": record["scores"][lab] for lab in labels})
    return row


class PredictionWriter:
    """Append records to an open predictions file (JSON lines or CSV/TSV), chunk by chunk.

    The caller owns the file object (usually from :func:`textclf.atomic.atomic_path`, so a
    crash leaves no half-written file). Tables are written with the standard library's
    ``csv`` module (what pandas' ``to_csv`` uses too), so writing needs no pandas.
    """

    def __init__(self, f: IO[str], suffix: str, labels: Sequence[str]) -> None:
        self._f = f
        self._csv = suffix.lower() in (".csv", ".tsv")
        self._sep = "\t" if suffix.lower() == ".tsv" else ","
        # ``.json`` is one JSON array, as the readers take a ``.json`` file; it is written
        # record by record too, and closed by :meth:`close`.
        self._array = suffix.lower() == ".json"
        self._opened = False
        self._labels = list(labels)
        self._table: csv.DictWriter[str] | None = None

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Append ``records``."""
        if self._array:
            for rec in records:
                self._f.write(",\n" if self._opened else "[\n")
                self._f.write(json.dumps(rec, ensure_ascii=False))
                self._opened = True
            return
        if not self._csv:
            dumps = json.dumps
            self._f.writelines(dumps(rec, ensure_ascii=False) + "\n" for rec in records)
            return
        rows = [_flat(r, self._labels) for r in records]
        if not rows:
            return
        # The columns of the first record: every record of one file has the same keys.
        self._table = self._table or self._start(rows[0])
        self._table.writerows(rows)

    def close(self) -> None:
        """End the file: a JSON array's closing bracket (``[]`` when no record came)."""
        if self._array:
            self._f.write("\n]\n" if self._opened else "[]\n")

    def write_header(self, example: dict[str, Any]) -> None:
        """Start a table with the columns of ``example``, a record of the file's shape.

        For a table that may get no rows, so that it still names its columns; JSON lines
        have no header, and a table already started keeps its own.
        """
        if self._csv and self._table is None:
            self._table = self._start(_flat(example, self._labels))

    def _start(self, row: dict[str, Any]) -> csv.DictWriter[str]:
        table = csv.DictWriter(
            self._f, fieldnames=list(row), delimiter=self._sep, lineterminator="\n"
        )
        table.writeheader()
        return table


def write_predictions(
    path: str | os.PathLike[str], records: Sequence[dict[str, Any]], labels: Sequence[str]
) -> Path:
    """Write records atomically: JSON lines for ``.jsonl``, a JSON array for ``.json``, a table
    for ``.csv``/``.tsv``.

    Raises:
        ConfigError: for an unknown extension.
    """
    from textclf.atomic import atomic_path

    out = check_output_path(path)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = PredictionWriter(f, out.suffix, labels)
        writer.write(records)
        writer.close()
    return out
