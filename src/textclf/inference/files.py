"""``predict_file``: every text of a file through a model, records out in input order.

What ``textclf predict`` runs. The input is streamed in chunks (:mod:`textclf.inference.reader`:
the rows ``read_split`` gives, with the same column options); each chunk is predicted and
its records (:mod:`textclf.inference.records`) appended to a temporary file beside the
output, which is renamed into place at the end. So memory stays that of a few chunks
whatever the file's size, and a crash or a bad row half-way leaves no half-written output
(and an older output file as it was). Rows skipped as empty are counted.

``-`` is standard input or output. Standard input is one text per line, or a file of
``--format`` (``spec.file_format``); it is copied to a temporary file first, since the
readers (and their fall-back to ``read_split``) need a file, and errors name it "standard
input". Standard output gets JSON Lines, also written to a temporary file first and copied
out at the end, so a bad row half-way leaves nothing half-written in a pipe either.

Example:
    >>> summary = predict_file("runs/x", "tickets.csv", "predictions.jsonl")  # doctest: +SKIP
    >>> summary.n_written, summary.seconds  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textclf.data.formats import check_source
from textclf.errors import ConfigError, DataError, TextclfError
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

#: ``input_file`` or ``output`` that means standard input or standard output.
STDIO = "-"


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
    input_file: str | None,
    output: str | os.PathLike[str],
    *,
    spec: ColumnSpec | InputColumns | None = None,
    texts: Sequence[str] | None = None,
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
        input_file: CSV, TSV, JSONL, JSON or Parquet (labels, if any, are ignored);
            ``"-"``: standard input, one text per line unless ``spec.file_format`` says.
            ``None`` with ``texts``.
        output: ``.jsonl``, ``.json`` (one array), ``.csv`` or ``.tsv``; not the input file.
            ``"-"``: JSON Lines on standard output.
        spec: Column options (text, id, names for a headerless file, …).
        texts: Texts to predict instead of a file; their rows are 1, 2, …
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
    from textclf.inference.pipeline import Predictor

    if (texts is None) == (input_file is None):
        raise ConfigError("give texts to predict or an input file (- for standard input).")
    to_stdout = str(output) == STDIO
    out = Path(STDIO) if to_stdout else check_output_path(output)
    if input_file not in (None, STDIO) and Path(input_file).resolve() == out.resolve():
        raise ConfigError(
            f"--output {out}: is the input file, which the predictions would replace; choose "
            "another output name."
        )
    if not to_stdout and out.exists():
        logger.info("%s exists: it is replaced once every prediction is written.", out)
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k {top_k}: must be at least 1 (or leave it out).")
    spec = spec or InputColumns()
    if input_file not in (None, STDIO):
        check_source(input_file, spec.file_format)  # a mistyped path fails before loading
    _check_lines(spec, texts, stdin=input_file == STDIO)
    with ExitStack() as stack:
        # Standard input is read first: it cannot wait for the model, and a blank one is
        # refused before the model loads.
        source, spec = stack.enter_context(_readable(input_file, spec, texts))
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
        suffix = ".jsonl" if to_stdout else out.suffix
        tmp = stack.enter_context(_destination(out))
        try:
            chunks = stream_rows(source, spec, chunk_rows=chunk_rows, stats=stats)
            n, abstained = _write(
                predictor, rule, chunks, tmp, suffix, top_k=top_k, progress=progress
            )
        except NeedsFullReader as why:
            # Start again from the top with the reference reader (see reader.py); the
            # temporary file is rewritten from its first byte.
            logger.debug("%s: read with read_split (%s).", source, why)
            stats = InputStats()
            chunks = split_rows(source, spec, chunk_rows=chunk_rows, stats=stats)
            n, abstained = _write(
                predictor, rule, chunks, tmp, suffix, top_k=top_k, progress=progress
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


def _check_lines(
    spec: ColumnSpec | InputColumns, texts: Sequence[str] | None, *, stdin: bool
) -> None:
    """Refuse column options for texts that have no columns: given, or lines of stdin."""
    lines = texts is not None or (stdin and spec.file_format == "auto")
    if lines and (spec.text or spec.id_column or spec.column_names):
        raise ConfigError(
            "--text-column, --id-column and --column-names name the columns of a file; "
            + (
                "texts given on the command line have none."
                if texts is not None
                else "give --format csv, tsv, jsonl, json or parquet to read one from "
                "standard input (without it, each line is one text)."
            )
        )


@contextmanager
def _readable(
    input_file: str | None, spec: ColumnSpec | InputColumns, texts: Sequence[str] | None
) -> Iterator[tuple[str, ColumnSpec | InputColumns]]:
    """The file to read, and its column options.

    A file is read where it is. Standard input and ``texts`` are first written to a
    temporary folder: lines or texts as JSON Lines (one ``text`` per row, empty ones kept
    so that rows stay line numbers), any other ``--format`` as it came. Errors about that
    copy name "standard input" (or "the texts given") instead of its path.
    """
    if texts is None and input_file != STDIO:
        assert input_file is not None
        yield input_file, spec
        return
    name = "standard input" if texts is None else "the texts given"
    with tempfile.TemporaryDirectory(prefix="textclf-input-") as folder:
        fmt = spec.file_format
        if texts is not None or fmt == "auto":
            path = Path(folder) / "texts.jsonl"
            blank = True
            with open(path, "w", encoding="utf-8") as f:
                for text in texts if texts is not None else _stdin_lines():
                    blank = blank and not text.strip()
                    f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            if blank:
                raise DataError(
                    f"{name}: no text to predict (every one is empty or only whitespace); "
                    + ("give one text per line." if texts is None else "give the texts.")
                )
            spec = InputColumns(text="text", file_format="jsonl")
        else:
            path = Path(folder) / f"stdin.{fmt}"
            with open(path, "wb") as f:
                shutil.copyfileobj(_stdin().buffer, f)
        renamed = _Renamed(str(path), name)
        handlers = logging.getLogger().handlers
        for handler in handlers:
            handler.addFilter(renamed)
        try:
            yield str(path), spec
        except TextclfError as e:
            raise type(e)(str(e).replace(str(path), name)) from e
        finally:
            for handler in handlers:
                handler.removeFilter(renamed)


class _Renamed(logging.Filter):
    """Says ``name`` in log lines where they would give the temporary copy's path."""

    def __init__(self, path: str, name: str) -> None:
        super().__init__()
        self.path, self.name = path, name

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.path in message:
            record.msg, record.args = message.replace(self.path, self.name), None
        return True


def _stdin() -> Any:
    if sys.stdin is None or not hasattr(sys.stdin, "buffer"):
        raise ConfigError("--input -: there is no standard input to read; give a file.")
    if sys.stdin.isatty():
        logger.info("Reading texts from standard input, one per line; end with Ctrl-D.")
    return sys.stdin


def _stdin_lines() -> Iterable[str]:
    for n, raw in enumerate(_stdin().buffer, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(
                f"standard input line {n}: is not UTF-8 text; convert it first, e.g. with "
                "iconv -f cp1252 -t utf-8."
            ) from None
        yield (line.removeprefix("\ufeff") if n == 1 else line).rstrip("\r\n")


@contextmanager
def _destination(out: Path) -> Iterator[Path]:
    """A temporary file that becomes ``out``, or is copied to standard output, at the end."""
    from textclf.atomic import atomic_path

    if str(out) != STDIO:
        with atomic_path(out) as tmp:
            yield tmp
        return
    with tempfile.TemporaryDirectory(prefix="textclf-predictions-") as folder:
        tmp = Path(folder) / "predictions.jsonl"
        yield tmp
        with open(tmp, encoding="utf-8") as f:
            shutil.copyfileobj(f, sys.stdout)
        sys.stdout.flush()


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
