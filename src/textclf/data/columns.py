"""Where the text and the labels are: :class:`ColumnSpec`, the column names looked for when
none is given, and the label-names file that maps integer ids to names.

Nothing here imports ``datasets`` or ``pandas``, so a reader that streams plain files can
take the same options and pick the same columns as :mod:`textclf.data.io`.

Example:
    >>> pick_column(["id", "Review", "label"], None, TEXT_CANDIDATES, "text", "train.csv")
    'Review'
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textclf.config import DataConfig
from textclf.data.formats import not_utf8_error
from textclf.errors import DataError, did_you_mean

TEXT_CANDIDATES = (
    "text",
    "sentence",
    "content",
    "document",
    "review",
    "body",
    "comment_text",
    "utterance",
    "query",
    "question",
    "report",
    "description",
)
LABEL_CANDIDATES = ("label", "labels", "category", "class", "target", "intent", "y")


@dataclass(frozen=True)
class ColumnSpec:
    """How to find the text and the labels in a source.

    Attributes:
        text: Text column; ``None`` picks the first of :data:`TEXT_CANDIDATES` present.
        label: Column holding one label, a JSON list, or separator-joined labels.
        label_columns: Several 0/1 columns, one per label (multi-label).
        label_separator: Splits ``"a|b"`` into ``["a", "b"]``; a blank cell is then the
            empty label set.
        label_names: Names of integer label ids (id ``i`` is ``label_names[i]``).
        id_column: Column whose values identify rows in prediction files.
        column_names: Column names for a file without a header row.
        quoting: ``"auto"`` (CSV: RFC 4180 quoting; TSV: RFC 4180 when the whole file is
            valid RFC 4180, else none), ``"minimal"`` or ``"none"``.
        file_format: Force a format instead of guessing it from the extension.
        hf_config: Config name of a hub dataset.
    """

    text: str | None = None
    label: str | None = None
    label_columns: tuple[str, ...] | None = None
    label_separator: str | None = None
    label_names: tuple[str, ...] | None = None
    id_column: str | None = None
    column_names: tuple[str, ...] | None = None
    quoting: str = "auto"
    file_format: str = "auto"
    hf_config: str | None = None

    @classmethod
    def from_config(cls, cfg: DataConfig) -> ColumnSpec:
        """Build the spec from the ``data`` config section (reads the label-names file)."""
        return cls(
            text=cfg.text_column,
            label=cfg.label_column,
            label_columns=tuple(cfg.label_columns) if cfg.label_columns else None,
            label_separator=cfg.label_separator,
            label_names=read_label_names(cfg.label_names) if cfg.label_names else None,
            id_column=cfg.id_column,
            column_names=tuple(cfg.column_names) if cfg.column_names else None,
            quoting=cfg.quoting,
            file_format=cfg.format,
            hf_config=cfg.hf_config,
        )


def read_label_names(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Read label names for integer ids: one per line, a JSON list, or a JSON ``{id: name}``.

    Raises:
        DataError: if the file is missing, empty or not in one of those shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: label-names file not found; check the path given to --label-names.")
    try:
        text = p.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as e:
        raise not_utf8_error(p) from e
    if not text:
        raise DataError(f"{p}: label-names file is empty; put one label name per line.")
    if text[0] in "[{":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{p} line {e.lineno}: not valid JSON ({e.msg}); fix it.") from e
        if isinstance(obj, dict):
            try:
                ids = sorted((int(k), str(v)) for k, v in obj.items())
            except ValueError as e:
                raise DataError(f"{p}: JSON object keys must be integer ids.") from e
            if [i for i, _ in ids] != list(range(len(ids))):
                raise DataError(f"{p}: ids must run 0..{len(ids) - 1} without gaps.")
            return tuple(v for _, v in ids)
        if isinstance(obj, list) and obj:
            return tuple(str(v) for v in obj)
        raise DataError(f"{p}: expected a JSON list of names or an object {{id: name}}.")
    names = tuple(line.strip() for line in text.splitlines())
    for i, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{p} line {i}: empty label name; remove the blank line.")
    return names


def pick_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str, where: str
) -> str | None:
    """The column named ``wanted``, else the first of ``candidates`` present (any case).

    Args:
        columns: The source's column names.
        wanted: The name the user gave, or ``None``.
        candidates: Names to look for when none was given, best first.
        what: ``text``, ``label`` or ``id``, for the message and the flag it names.
        where: The source, for the message.

    Returns:
        The column, or ``None`` when none was given and no candidate is present.

    Raises:
        DataError: ``wanted`` is not a column.
    """
    if wanted is not None:
        if wanted not in columns:
            raise DataError(
                f"{where}: no {what} column '{wanted}'{did_you_mean(wanted, columns)} (columns "
                f"are {list(columns)}); pass the right name with --{what}-column."
            )
        return wanted
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    return None
