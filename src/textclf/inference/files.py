"""``predict_file``: every text of a file through a model, records out in input order.

What ``textclf predict`` runs. The input is streamed in chunks (:mod:`textclf.inference.reader`:
the rows ``read_split`` gives, with the same column options); each chunk is predicted and
its records (:mod:`textclf.inference.records`) appended to a temporary file beside the
output, which is renamed into place at the end. So memory stays that of a few chunks
whatever the file's size, and a crash or a bad row half-way leaves no half-written output
(and an older output file as it was). Rows skipped as empty are counted.

Example:
    >>> summary = predict_file("runs/x", "tickets.csv", "predictions.jsonl")  # doctest: +SKIP
    >>> summary.n_written, summary.seconds  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textclf.data.formats import check_source
from textclf.faults import fail_point
from textclf.inference.reader import (
    CHUNK_ROWS,
    Chunk,
    InputColumns,
    InputStats,
    NeedsFullReader,
    split_rows,
    stream_rows,
)
from textclf.inference.records import PredictionWriter, check_output_path, prediction_records

if TYPE_CHECKING:
    from textclf.data.io import ColumnSpec
    from textclf.evaluation.decision import DecisionRule
    from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)


@dataclass
class PredictSummary:
    """What ``predict_file`` did."""

    output: Path
    n_written: int
    seconds: float
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: dict[str, list[int]] = field(default_factory=dict)
    backend: str = ""
    #: Single-label texts given no label: every score below ``--threshold``.
    n_abstained: int = 0


def predict_file(
    model: Predictor | str | os.PathLike[str],
    input_file: str,
    output: str | os.PathLike[str],
    *,
    spec: ColumnSpec | InputColumns | None = None,
    threshold: float | None = None,
    top_k: int | None = None,
    batch_size: int | None = None,
    backend: str = "auto",
    device: str = "auto",
    precision: str = "auto",
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = True,
) -> PredictSummary:
    """Predict every text in ``input_file`` and write the records to ``output``.

    Args:
        model: A loaded predictor or a model folder.
        input_file: CSV, TSV, JSONL, JSON or Parquet (labels, if any, are ignored).
        output: ``.jsonl``, ``.json`` (one array), ``.csv`` or ``.tsv``; not the input file.
        spec: Column options (text, id, names for a headerless file, …).
        threshold: Override the rule's threshold (see ``DecisionRule.with_threshold``).
        top_k: Also list the ``k`` best labels per text.
        batch_size: Cap on texts per forward pass (default: the token budget decides).
        backend: ``auto``, ``torch`` or ``onnx`` for a model folder.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` for a model folder.
        precision: torch backend: ``auto``, ``fp32`` or ``bf16``.
        chunk_rows: Rows read, predicted and written at a time.
        progress: Show a progress bar.

    Raises:
        ConfigError: for an unknown output type, backend, or a threshold outside [0, 1].
        DataError: for an unreadable input.
        ModelLoadError: for a model folder that cannot be loaded on ``backend``.
    """
    from textclf.atomic import atomic_path
    from textclf.errors import ConfigError
    from textclf.inference.pipeline import Predictor

    out = check_output_path(output)
    if isinstance(input_file, str | os.PathLike) and Path(input_file).resolve() == out.resolve():
        raise ConfigError(
            f"--output {out}: is the input file, which the predictions would replace; choose "
            "another output name."
        )
    if out.exists():
        logger.info("%s exists: it is replaced once every prediction is written.", out)
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k {top_k}: must be at least 1 (or leave it out).")
    spec = spec or InputColumns()
    check_source(input_file, spec.file_format)  # a mistyped path fails before the model loads
    predictor = (
        model
        if isinstance(model, Predictor)
        else Predictor.from_folder(
            model, batch_size=batch_size, backend=backend, device=device, precision=precision
        )
    )
    try:
        rule = predictor.info.rule.with_threshold(threshold)
    except ValueError as e:
        raise ConfigError(f"--threshold {threshold}: must be between 0 and 1.") from e
    started = time.perf_counter()
    stats = InputStats()
    with atomic_path(out) as tmp:
        try:
            chunks = stream_rows(input_file, spec, chunk_rows=chunk_rows, stats=stats)
            n, abstained = _write(
                predictor, rule, chunks, tmp, out.suffix, top_k=top_k, progress=progress
            )
        except NeedsFullReader as why:
            # Start again from the top with the reference reader (see reader.py); the
            # temporary file is rewritten from its first byte.
            logger.debug("%s: read with read_split (%s).", input_file, why)
            stats = InputStats()
            chunks = split_rows(input_file, spec, chunk_rows=chunk_rows, stats=stats)
            n, abstained = _write(
                predictor, rule, chunks, tmp, out.suffix, top_k=top_k, progress=progress
            )
    return PredictSummary(
        output=out,
        n_written=n,
        seconds=time.perf_counter() - started,
        skipped=stats.skipped,
        skipped_rows={"empty_text": stats.skipped_rows} if stats.skipped_rows else {},
        backend=predictor.backend,
        n_abstained=abstained,
    )


def _write(
    predictor: Predictor,
    rule: DecisionRule,
    chunks: Iterator[Chunk],
    path: Path,
    suffix: str,
    *,
    top_k: int | None,
    progress: bool,
) -> tuple[int, int]:
    """Predict chunk by chunk and append the records to ``path``; the rows written, and
    how many of them abstained (single-label, no score reached the threshold)."""
    n = abstained = 0
    labels = list(predictor.info.labels)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = PredictionWriter(f, suffix, labels)
        chunk: Any
        for chunk, logits in predictor.engine().stream(chunks, _texts, progress=progress):
            proba = rule.probabilities(logits)
            records = prediction_records(
                proba,
                rule.decide(proba),
                predictor.space,
                texts=chunk.texts,
                rows=chunk.rows,
                ids=chunk.ids,
                top_k=top_k,
            )
            writer.write(records)
            n += len(records)
            abstained += sum(1 for r in records if "label" in r and r["label"] is None)
            fail_point("predict_chunk")
        writer.close()
        f.flush()
        os.fsync(f.fileno())
    return n, abstained


def _texts(chunk: Chunk) -> list[str]:
    return chunk.texts
