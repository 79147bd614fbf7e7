"""Read, check and split the data a run is configured with: what ``train`` and ``data validate`` share.

Everything that can be checked is checked here, before any output folder exists, so a bad
input leaves nothing behind. ``textclf data validate`` runs exactly this function (with
``raise_errors=False``, to print the whole report), so what ``train`` would refuse,
``validate`` reports as an error with the same message.

Example:
    >>> data = prepare_data(config)  # doctest: +SKIP
    >>> data.splits["train"], data.space.labels  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from textclf.config import ExperimentConfig
from textclf.data.io import ColumnSpec, Split, quiet_datasets, read_split
from textclf.data.labels import LabelSpace
from textclf.data.split import check_splittable, split_indices
from textclf.data.validate import (
    Finding,
    TokenCounter,
    ValidationReport,
    measure_truncation,
    validate_splits,
)
from textclf.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Validated splits and the label space, ready for training.

    Attributes:
        splits: ``train`` and, given or carved from it, ``validation`` and ``test``. When
            the report holds errors (``raise_errors=False``), the splits are as read, not
            carved.
        space: Task and label order, learned from ``train``.
        report: Every finding, the split summaries and (when measured) truncation.
        fingerprints: A content hash per given source.
        split_note: How the missing splits were carved, for the run summary.
    """

    splits: dict[str, Split]
    space: LabelSpace
    report: ValidationReport
    fingerprints: dict[str, str] = field(default_factory=dict)
    split_note: str = ""

    def summary(self) -> dict[str, Any]:
        """What a saved model records about its data (``ModelInfo.data``): sources, sizes, checks."""
        return {
            "fingerprints": self.fingerprints,
            "sizes": {name: len(s) for name, s in self.splits.items()},
            "split_note": self.split_note,
            "validation": self.report.to_dict(),
        }


# Checks of one file as a whole; on a carved split they would only repeat a part.
_WHOLE_FILE = ("duplicate_text", "conflicting_labels", "stray_label_lists", "null_label_items")


def file_fingerprint(source: Any) -> str | None:
    """``sha256:<hex>`` of the bytes of a data file, ``None`` for anything but a file."""
    path = Path(str(source)) if isinstance(source, str | os.PathLike) else None
    if path is None or not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def content_fingerprint(split: Split) -> str:
    """``rows:<sha256>`` of a split's texts and labels in order: the same for the same
    examples, whatever file or object they were read from."""
    h = hashlib.sha256()
    columns = [c for c in ("text", "labels") if c in split.dataset.column_names]
    for batch in split.dataset.select_columns(columns).iter(batch_size=10_000):
        h.update(json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return "rows:" + h.hexdigest()


def fingerprint(source: Any, split: Split) -> str:
    return file_fingerprint(source) or "datasets:" + split.dataset._fingerprint


def _carve(
    config: ExperimentConfig, splits: dict[str, Split], space: LabelSpace, missing: list[str]
) -> str:
    """Carve the missing validation/test splits from ``train`` in place; return the note.

    Raises:
        DataError: a class too small for the carved splits, or too few rows.
    """
    train_split = splits["train"]
    sizes = {
        "validation": config.split.validation_size if "validation" in missing else 0.0,
        "test": config.split.test_size if "test" in missing else 0.0,
    }
    carved = [name for name in ("validation", "test") if sizes[name] > 0]
    if not carved:
        return ""
    y = space.encode(train_split.dataset["labels"])
    # One group per distinct text: a repeated text stays in one split, or the carve itself
    # would leak it into validation and test (and split a conflict across them).
    groups, uniques = pd.factorize(np.asarray(train_split.dataset["text"], dtype=object))
    _, first = np.unique(groups, return_index=True)
    check_splittable(
        y[first],
        space.labels,
        min_per_class=config.split.min_examples_per_class,
        source=train_split.source,
        carved=carved,
        distinct=len(uniques) < len(groups),
    )
    try:
        tr, va, te = split_indices(
            y,
            validation_size=sizes["validation"],
            test_size=sizes["test"],
            seed=config.seed,
            groups=None if len(uniques) == len(groups) else groups,
        )
    except DataError as e:
        raise DataError(f"{train_split.source}: {e}") from e
    method = "iterative stratification" if space.multilabel else "stratified"
    with quiet_datasets():
        for name, idx in (("validation", va), ("test", te)):
            if name in carved and len(idx):
                splits[name] = Split(
                    name=name,
                    source=f"{train_split.source} ({name} split)",
                    dataset=train_split.dataset.select(idx).flatten_indices(),
                    n_read=len(idx),
                    label_sets=train_split.label_sets,
                )
        splits["train"] = Split(
            name="train",
            source=train_split.source,
            dataset=train_split.dataset.select(tr).flatten_indices(),
            n_read=train_split.n_read,
            skipped=train_split.skipped,
            skipped_rows=train_split.skipped_rows,
            label_sets=train_split.label_sets,
        )
    grouped = (
        f", the {len(groups) - len(uniques)} repeats of a text kept in its split"
        if len(uniques) < len(groups)
        else ""
    )
    return (
        f"{' and '.join(carved)} split(s) carved from the training file ({method}{grouped}, "
        f"seed {config.seed}): train {len(tr)}, validation {len(va)}, test {len(te)}."
    )


def prepare_data(
    config: ExperimentConfig,
    *,
    train: Any = None,
    validation: Any = None,
    test: Any = None,
    count_tokens: TokenCounter | None = None,
    max_length: int | None = None,
    model_max_length: int | None = None,
    raise_errors: bool = True,
) -> PreparedData:
    """Read, validate and split the data named in ``config.data`` (or given directly).

    Args:
        config: The run's configuration (``data``, ``split`` and ``seed`` are used).
        train: Training data instead of ``config.data.train``; likewise ``validation``
            and ``test``.
        count_tokens: Texts → token counts with special tokens (the model's tokenizer,
            which this package cannot import). Given, the report measures truncation.
        max_length: Token limit for the truncation measurement; default
            ``config.model.max_length``.
        model_max_length: The backbone's own limit, named in the truncation hint.
        raise_errors: ``False`` returns the report with its errors instead of raising the
            first (what ``textclf data validate`` prints).

    Returns:
        The splits (validation and test carved from train where not given), the label
        space and the report.

    Raises:
        ConfigError: no training data.
        DataError: a file that cannot be read, labels that define no task, or (with
            ``raise_errors``) the first fatal finding, naming file, row and fix.
    """
    dc = config.data
    spec = ColumnSpec.from_config(dc)
    sources = {
        "train": train if train is not None else dc.train,
        "validation": validation if validation is not None else dc.validation,
        "test": test if test is not None else dc.test,
    }
    if sources["train"] is None:
        raise ConfigError("no training data: pass --train FILE (or data.train in the config).")
    splits = {
        name: read_split(src, spec, name=name) for name, src in sources.items() if src is not None
    }
    order = spec.label_names or spec.label_columns
    space = LabelSpace.infer(
        splits["train"].dataset["labels"],
        task=dc.task,
        order=order,
        multilabel_source=splits["train"].label_sets,
        source=splits["train"].source,
    )
    report = validate_splits(splits, space)
    if raise_errors:
        report.raise_for_errors()
    fingerprints = {name: fingerprint(sources[name], s) for name, s in splits.items()}
    note = ""
    missing = [n for n in ("validation", "test") if n not in splits]
    split_error: Finding | None = None
    if missing:
        try:
            note = _carve(config, splits, space, missing)
        except DataError as e:
            if raise_errors:
                raise
            split_error = Finding("error", "cannot_split", "train", str(e), 0)
        if note:
            logger.info(note)
            # Summaries now describe the splits actually used. Repeats and conflicts were
            # found in the whole file, before the carve: those findings stay, and the
            # per-split ones on the carved parts (subsets of them) are dropped.
            whole = [f for f in report.findings if f.split == "train" and f.code in _WHOLE_FILE]
            parts = {"train", *(n for n in missing if n in splits)}
            report = validate_splits(splits, space)
            report.findings = whole + [
                f for f in report.findings if not (f.code in _WHOLE_FILE and f.split in parts)
            ]
    if split_error is not None:
        report.findings.append(split_error)
    if count_tokens is not None:
        report.truncation, warning = measure_truncation(
            splits,
            count_tokens,
            max_length=max_length if max_length is not None else config.model.max_length,
            model_max_length=model_max_length,
        )
        if warning is not None:
            report.findings.append(warning)
    return PreparedData(
        splits=splits, space=space, report=report, fingerprints=fingerprints, split_note=note
    )
