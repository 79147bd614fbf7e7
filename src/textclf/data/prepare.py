"""Read, check and split the data a run is configured with: what ``train`` and ``data validate`` share.

Everything that can be checked is checked here, before any output folder exists, so a bad
input leaves nothing behind. ``textclf data validate`` runs exactly this function, so what
``train`` would refuse, ``validate`` reports as an error with the same message.

Example:
    >>> data = prepare_data(config)  # doctest: +SKIP
    >>> data.splits["train"], data.space.labels  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textclf.config import ExperimentConfig
from textclf.data.io import ColumnSpec, Split, read_split
from textclf.data.labels import LabelSpace
from textclf.data.split import check_splittable, split_indices
from textclf.data.validate import ValidationReport, validate_splits
from textclf.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Validated splits and the label space, ready for training."""

    splits: dict[str, Split]
    space: LabelSpace
    report: ValidationReport
    fingerprints: dict[str, str] = field(default_factory=dict)
    split_note: str = ""


def fingerprint(source: Any, split: Split) -> str:
    path = Path(str(source)) if isinstance(source, str | Path) else None
    if path is not None and path.is_file():
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return "sha256:" + h.hexdigest()
    return "datasets:" + split.dataset._fingerprint


def prepare_data(
    config: ExperimentConfig,
    *,
    train: Any = None,
    validation: Any = None,
    test: Any = None,
) -> PreparedData:
    """Read, validate and split the data named in ``config.data`` (or given directly).

    Raises:
        DataError: for the first fatal problem, naming file, row and fix.
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
    multilabel_source = bool(spec.label_columns or spec.label_separator)
    space = LabelSpace.infer(
        splits["train"].dataset["labels"],
        task=dc.task,
        order=order,
        multilabel_source=multilabel_source,
        source=splits["train"].source,
    )
    report = validate_splits(splits, space)
    report.raise_for_errors()
    fingerprints = {name: fingerprint(sources[name], s) for name, s in splits.items()}
    note = ""
    missing = [n for n in ("validation", "test") if n not in splits]
    if missing:
        train_split = splits["train"]
        sizes = {
            "validation": config.split.validation_size if "validation" in missing else 0.0,
            "test": config.split.test_size if "test" in missing else 0.0,
        }
        y = space.encode(train_split.dataset["labels"])
        check_splittable(
            y,
            space.labels,
            min_per_class=config.split.min_examples_per_class,
            source=train_split.source,
        )
        tr, va, te = split_indices(
            y, validation_size=sizes["validation"], test_size=sizes["test"], seed=config.seed
        )
        method = "iterative stratification" if space.multilabel else "stratified"
        for name, idx in (("validation", va), ("test", te)):
            if name in missing and len(idx):
                splits[name] = Split(
                    name=name,
                    source=f"{train_split.source} ({name} split)",
                    dataset=train_split.dataset.select(idx).flatten_indices(),
                    n_read=len(idx),
                )
        splits["train"] = Split(
            name="train",
            source=train_split.source,
            dataset=train_split.dataset.select(tr).flatten_indices(),
            n_read=train_split.n_read,
            skipped=train_split.skipped,
            skipped_rows=train_split.skipped_rows,
        )
        note = (
            f"{', '.join(missing)} split(s) carved from the training file ({method}, "
            f"seed {config.seed}): train {len(tr)}, validation {len(va)}, test {len(te)}."
        )
        logger.info(note)
        # Summaries now describe the splits actually used.
        report = validate_splits(splits, space)
    return PreparedData(
        splits=splits, space=space, report=report, fingerprints=fingerprints, split_note=note
    )
