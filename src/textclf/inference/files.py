"""``predict_file``: every text of a file through a model, records out in input order.

What ``textclf predict`` runs. The input is read with the same readers (and column
options) as training data; the output is written atomically, one prediction record per
input row (:mod:`textclf.inference.records`); rows skipped as empty are counted.

Example:
    >>> summary = predict_file("runs/x", "tickets.csv", "predictions.jsonl")  # doctest: +SKIP
    >>> summary.n_written, summary.seconds  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textclf.data.io import ColumnSpec, read_split
from textclf.inference.records import check_output_path, prediction_records, write_predictions

if TYPE_CHECKING:
    from textclf.inference.pipeline import Predictor


@dataclass
class PredictSummary:
    """What ``predict_file`` did."""

    output: Path
    n_written: int
    seconds: float
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: dict[str, list[int]] = field(default_factory=dict)


def predict_file(
    model: Predictor | str | os.PathLike[str],
    input_file: str,
    output: str | os.PathLike[str],
    *,
    spec: ColumnSpec | None = None,
    threshold: float | None = None,
    top_k: int | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> PredictSummary:
    """Predict every text in ``input_file`` and write the records to ``output``.

    Args:
        model: A loaded predictor or a model folder.
        input_file: CSV, TSV, JSONL, JSON or Parquet (labels, if any, are ignored).
        output: ``.jsonl``/``.json`` or ``.csv``/``.tsv``.
        spec: Column options (text, id, names for a headerless file, …).
        threshold: Override the rule's threshold (see ``DecisionRule.with_threshold``).
        top_k: Also list the ``k`` best labels per text.
        batch_size: Texts per forward pass.
        progress: Show a progress bar.

    Raises:
        ConfigError: for an unknown output type or a threshold outside [0, 1].
        DataError: for an unreadable input.
    """
    from textclf.errors import ConfigError
    from textclf.inference.pipeline import Predictor

    out = check_output_path(output)
    predictor = (
        model
        if isinstance(model, Predictor)
        else Predictor.from_folder(model, batch_size=batch_size)
    )
    try:
        rule = predictor.info.rule.with_threshold(threshold)
    except ValueError as e:
        raise ConfigError(f"--threshold {threshold}: must be between 0 and 1.") from e
    split = read_split(input_file, spec or ColumnSpec(), name="input", require_labels=False)
    started = time.perf_counter()
    texts = split.dataset["text"]
    proba = rule.probabilities(predictor.logits(texts, progress=progress))
    records = prediction_records(
        proba,
        rule.decide(proba),
        predictor.space,
        texts=texts,
        rows=split.dataset["row"],
        ids=split.dataset["id"] if "id" in split.dataset.column_names else None,
        top_k=top_k,
    )
    write_predictions(out, records, list(predictor.info.labels))
    return PredictSummary(
        output=out,
        n_written=len(records),
        seconds=time.perf_counter() - started,
        skipped=dict(split.skipped),
        skipped_rows={k: list(v) for k, v in split.skipped_rows.items()},
    )
