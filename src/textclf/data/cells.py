"""Label cells: one raw cell of a label column → the list of label names it holds.

Every label is kept as a list of names, one element for single-label data; the task is
decided later from those lists (see :mod:`textclf.data.labels`). A cell is

* **one name** (``pos``; an integer id with ``--label-names``);
* **a set of names** (multi-label): a JSON list ``["a", "b"]`` in a CSV/TSV cell, a list
  in JSONL, JSON, Parquet or a DataFrame, names joined by ``--label-separator``, or 0/1
  columns (``--label-columns``). Such a source marks the data multi-label
  (:attr:`textclf.data.io.Split.label_sets`);
* **no labels**, the empty set, which only a multi-label example can have: ``[]`` or an
  empty list; with ``--label-separator``, a blank cell (the empty set joined is the empty
  string); with ``--label-columns``, a row of zeros. These rows are kept and counted
  (``n_without_labels`` in the validation report);
* **missing**, which stops the run naming the row: a blank cell without a label
  separator, JSON ``null``, an absent key, NaN. A blank cell is never silently read as
  "no labels" where it could be a forgotten single label. A missing entry *inside* a list
  (``[null, "x"]``, as pyarrow and pandas write ragged lists) is ignored, and counted and
  reported (:meth:`LabelParser.null_items`).

Example:
    >>> parse = LabelParser("train.csv", "label", label_separator="|")
    >>> parse("b|a|b", row=1), parse("", row=2), parse.saw_sets
    (['b', 'a'], [], False)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textclf.errors import DataError


def is_missing(value: Any) -> bool:
    """``None``, NaN (any float type), pandas' ``NA``/``NaT``, or a string of blank space."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    # pandas' missing markers, by type name: cells are read where pandas is not imported.
    return type(value).__name__ in ("NAType", "NaTType")


def scalar_name(item: Any) -> str:
    """A scalar label as its name: ``True`` → ``"1"``, ``2.0`` → ``"2"``, ``"a "`` → ``"a"``.

    Example:
        >>> scalar_name(True), scalar_name(np.int64(3)), scalar_name(2.0), scalar_name(" b ")
        ('1', '3', '2', 'b')
    """
    if isinstance(item, np.generic):
        item = item.item()
    if isinstance(item, bool):
        item = int(item)
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    return str(item).strip()


def _shorten(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class LabelParser:
    """Turns one raw label cell into a list of label names (see the module docstring).

    Attributes:
        where: The source, for messages.
        column: The label column, for messages.
        label_names: Names of integer label ids (id ``i`` is ``label_names[i]``).
        label_separator: Splits ``"a|b"`` into ``["a", "b"]``; a blank cell is then the
            empty label set.
    """

    where: str
    column: str
    label_names: Sequence[str] | None = field(default=None, kw_only=True)
    label_separator: str | None = field(default=None, kw_only=True)
    # Cells seen as lists (or JSON lists) and as single names; the longest list; whether a
    # list was empty; the first list's row.
    _lists: int = field(default=0, init=False)
    _names: int = field(default=0, init=False)
    _longest: int = field(default=0, init=False)
    _first_list: int = field(default=0, init=False)
    # Missing entries inside label lists (JSON null, NaN), which are ignored.
    _nulls: int = field(default=0, init=False)
    _first_null: int = field(default=0, init=False)

    @property
    def saw_sets(self) -> bool:
        """The labels are sets: every cell was a list, or some list held several names or
        none. A few one-name lists among single names are still single-label data (see
        :meth:`stray_lists`)."""
        return self._lists > 0 and (self._names == 0 or self._longest != 1)

    def stray_lists(self) -> tuple[str, int] | None:
        """The warning, and the cells it is about, for one-name lists among single names
        (read as single names)."""
        if not self._lists or self.saw_sets:
            return None
        return (
            f"{self.where}: {self._lists} label cell(s) hold a one-name list (first: row "
            f"{self._first_list}) among {self._names} single names, so the data is read as "
            "single-label unless --task multilabel is given.",
            self._lists,
        )

    def null_items(self) -> tuple[str, int] | None:
        """The warning, and its count, for missing entries inside label lists (``[null,
        "x"]`` reads as ``["x"]``); ``None`` when there were none."""
        if not self._nulls:
            return None
        return (
            f"{self.where}: {self._nulls} missing entr{'y' if self._nulls == 1 else 'ies'} "
            f"(null or NaN) inside label lists were ignored (first: row {self._first_null}); "
            "remove them from the data to silence this.",
            self._nulls,
        )

    def name(self, item: Any, row: int) -> str:
        """The label name of one scalar item (an id maps through ``label_names``)."""
        names = self.label_names
        if isinstance(item, list | tuple | dict):
            raise DataError(
                f"{self.where} row {row}: label {_shorten(item)} in column '{self.column}' is "
                'a nested list or object; give names or a flat list like ["a", "b"].'
            )
        text = scalar_name(item)
        if names is not None and re.fullmatch(r"-?\d+", text):
            idx = int(text)
            if not 0 <= idx < len(names):
                raise DataError(
                    f"{self.where} row {row}: label id {idx} is outside the {len(names)} names "
                    "in the label-names file; fix the id or the names file."
                )
            return names[idx]
        return text

    def _json_list(self, s: str, row: int) -> list[Any]:
        try:
            parsed = json.loads(s)
        except (json.JSONDecodeError, RecursionError) as e:
            why = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise DataError(
                f"{self.where} row {row}: label {_shorten(s)} looks like a JSON list but is "
                f'not valid JSON ({why}); write it as ["a", "b"].'
            ) from e
        return parsed if isinstance(parsed, list) else [parsed]

    def _saw_list(self, items: list[Any], row: int) -> list[Any]:
        self._lists += 1
        self._first_list = self._first_list or row
        size = sum(1 for item in items if not is_missing(item))
        if size == 0:
            self._longest = -1  # an empty set: only multi-label data has one
        elif self._longest != -1:
            self._longest = max(self._longest, size)
        return items

    def __call__(self, value: Any, row: int) -> list[str]:
        """The label names of one cell, in order of first appearance, without repeats."""
        items: list[Any]
        if isinstance(value, list | tuple):
            items = self._saw_list(list(value), row)
        elif (
            isinstance(value, str) and value.strip().startswith("[") and value.strip().endswith("]")
        ):
            items = self._saw_list(self._json_list(value.strip(), row), row)
        elif isinstance(value, str) and self.label_separator:
            # The empty set joined by a separator is the empty string: a blank cell is an
            # example with no labels, not a missing one (see the module docstring).
            items = [p for p in value.split(self.label_separator) if p.strip()]
        elif is_missing(value):
            raise DataError(
                f"{self.where} row {row}: the '{self.column}' value is missing; fill in the "
                "label (write [] for a multi-label example with no labels) or remove the row."
            )
        elif isinstance(value, dict):
            raise DataError(
                f"{self.where} row {row}: the '{self.column}' value is an object "
                f"{_shorten(value)}; give a label name or a list of names."
            )
        elif isinstance(value, str):
            items = [value.strip()]
            self._names += 1
        else:
            items = [value]
            self._names += 1
        out: list[str] = []
        for item in items:
            if is_missing(item):  # counted and reported (null_items), not fatal
                self._nulls += 1
                self._first_null = self._first_null or row
                continue
            name = self.name(item, row)
            if name not in out:
                out.append(name)
        return out


_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


def binary_cell(value: Any, where: str, row: int, column: str) -> bool:
    """Whether a 0/1 label-column cell (``--label-columns``) holds the label.

    Raises:
        DataError: a value that is neither 0/1 nor true/false, naming the row and column.
    """
    text = str(value).strip().lower() if not is_missing(value) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DataError(
        f"{where} row {row}: label column '{column}' holds {value!r}; each label column must "
        "hold 0 or 1."
    )
