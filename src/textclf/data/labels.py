"""The label space: the task, the label order, and encoding labels to ids or multi-hot rows.

Label order is part of the model contract (``predict_proba`` columns follow ``labels``),
so it is decided once, here: the label-names file's order when one is given, the
``--label-columns`` order for 0/1 columns, otherwise natural sort (``2 < 10``).

Example:
    >>> space = LabelSpace.infer([["neg"], ["pos"], ["pos"]])
    >>> space.task, space.labels
    ('binary', ('neg', 'pos'))
    >>> space.encode([["pos"], ["neg"]]).tolist()
    [1, 0]
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textclf.config import Task
from textclf.errors import DataError

logger = logging.getLogger(__name__)

#: Separators users join several labels with in one cell.
JOINERS = ("|", ";", ",")


def _natural_key(label: str) -> tuple[Any, ...]:
    # isdecimal, not isdigit: "²" is a digit that int() rejects.
    parts = tuple(int(p) if p.isdecimal() else p.lower() for p in re.split(r"(\d+)", label))
    # The label itself breaks ties ("A" vs "a", "01" vs "1"), so the order never depends on
    # which label came first in the data.
    return (parts, label)


def joined_labels(counts: Iterable[str]) -> tuple[str, str] | None:
    """``(separator, example)`` when some labels are other labels joined by a separator.

    ``"sports|food"`` next to ``"sports"`` and ``"food"`` is almost surely two labels in
    one cell read without ``--label-separator``; a label whose parts are not labels of
    their own (``"Billing, refunds"``) is left alone.
    """
    names = set(counts)
    for sep in JOINERS:
        for name in sorted(names):
            parts = [p.strip() for p in name.split(sep)]
            if len(parts) > 1 and all(p in names for p in parts):
                return sep, name
    return None


@dataclass(frozen=True)
class LabelSpace:
    """Task and ordered labels.

    Attributes:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label names; position ``i`` is id ``i`` and column ``i`` of probabilities.
    """

    task: Task
    labels: tuple[str, ...]

    @classmethod
    def infer(
        cls,
        label_lists: Iterable[Sequence[str]],
        *,
        task: str = "auto",
        order: Sequence[str] | None = None,
        multilabel_source: bool = False,
        source: str = "train",
    ) -> LabelSpace:
        """Detect the task and label order from the training labels.

        Args:
            label_lists: One list of label names per example.
            task: ``auto`` or a forced task.
            order: A fixed label order (names file or label columns).
            multilabel_source: The labels came from 0/1 columns, a separator or JSON lists.
            source: Name of the data, for messages.

        Raises:
            DataError: a single class, or data that contradicts a forced task.
        """
        counts: Counter[str] = Counter()
        multi_rows = 0
        for labels in label_lists:
            if len(labels) != 1:
                multi_rows += 1
            counts.update(labels)
        multilabel = multilabel_source or multi_rows > 0
        joined = None if multilabel_source or order is not None else joined_labels(counts)
        if joined is not None:
            sep, example = joined
            hint = (
                f"{source}: labels such as '{example}' look like several labels joined by "
                f"'{sep}', read here as one label; pass --label-separator '{sep}'"
            )
            if task == "multilabel":
                raise DataError(f"{hint} to read them as multi-label.")
            logger.warning("%s if they are several labels.", hint)
        if task == "auto":
            # A names file fixes the number of classes, even if some have no example here.
            n_classes = len(order) if order is not None else len(counts)
            detected: Task = (
                "multilabel" if multilabel else ("binary" if n_classes == 2 else "multiclass")
            )
        else:
            detected = task  # type: ignore[assignment]
            if task != "multilabel" and multi_rows:
                raise DataError(
                    f"{source}: {multi_rows} row(s) have no label or several labels, but the task "
                    f"was set to {task}; use --task multilabel or give one label per row."
                )
        if order is not None:
            labels_sorted = tuple(order)
            unknown = sorted(set(counts) - set(labels_sorted))
            if unknown:
                raise DataError(
                    f"{source}: labels {unknown[:5]} are not in the label-names list; add them "
                    "there or fix the data."
                )
        else:
            labels_sorted = tuple(sorted(counts, key=_natural_key))
        if detected != "multilabel" and len([lab for lab in labels_sorted if counts[lab]]) < 2:
            only = next(iter(counts), "(none)")
            raise DataError(
                f"{source}: every example has the label '{only}'; a classifier needs at least "
                "two classes, so add examples of another class."
            )
        if detected == "binary" and len(labels_sorted) != 2:
            raise DataError(
                f"{source}: --task binary needs exactly 2 labels, found {len(labels_sorted)} "
                f"({list(labels_sorted)[:5]}…); use --task multiclass."
            )
        if detected == "multilabel" and len(labels_sorted) < 1:
            raise DataError(f"{source}: no labels found; check the label column(s).")
        return cls(task=detected, labels=labels_sorted)

    def _shown(self, most: int = 8) -> str:
        """The labels for a message: all of them, or the first ``most`` and how many more."""
        more = f", … {self.num_labels - most} more" if self.num_labels > most else ""
        return ", ".join(self.labels[:most]) + more

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}

    @property
    def problem_type(self) -> str:
        """The transformers ``problem_type``: picks BCE-with-logits vs cross-entropy."""
        return "multi_label_classification" if self.multilabel else "single_label_classification"

    def unknown(self, label_lists: Iterable[Sequence[str]]) -> Counter[str]:
        """Count labels that are not in this space."""
        known = set(self.labels)
        return Counter(lab for labels in label_lists for lab in labels if lab not in known)

    def encode(self, label_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Encode label lists.

        Returns:
            ``(n,)`` int64 ids for single-label tasks; ``(n, num_labels)`` float32 multi-hot
            rows for multi-label.

        Raises:
            DataError: for a label outside the space.
        """
        index = self.label2id
        if self.multilabel:
            out = np.zeros((len(label_lists), self.num_labels), dtype=np.float32)
            for i, labels in enumerate(label_lists):
                for lab in labels:
                    if lab not in index:
                        raise DataError(
                            f"row {i + 1}: label '{lab}' is not one of the model's labels "
                            f"({self._shown()}); fix the label or train on it."
                        )
                    out[i, index[lab]] = 1.0
            return out
        ids = np.empty(len(label_lists), dtype=np.int64)
        for i, labels in enumerate(label_lists):
            if len(labels) != 1 or labels[0] not in index:
                raise DataError(
                    f"row {i + 1}: label {list(labels)} is not one of the model's labels "
                    f"({self._shown()}); fix the label or train on it."
                )
            ids[i] = index[labels[0]]
        return ids

    def decode(self, encoded: np.ndarray) -> list[list[str]]:
        """Inverse of :meth:`encode`: ids or multi-hot rows back to label lists."""
        if self.multilabel:
            return [[self.labels[j] for j in np.flatnonzero(row)] for row in np.asarray(encoded)]
        return [[self.labels[int(i)]] for i in np.asarray(encoded)]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpace:
        return cls(task=data["task"], labels=tuple(data["labels"]))
