"""Checks run on the data before any training, collected into a report.

Fatal findings (``level="error"``) stop the run with one sentence naming the file, the
row and the fix; warnings are counted and shown, never silently acted on. The checks run
as Arrow compute kernels over the memory-mapped columns, so they scale with the data
without Python lists of it.

Truncation is measured here too, from token counts that the caller computes (this
package never imports a tokenizer): :func:`measure_truncation` reports the share of texts
longer than ``max_length`` tokens, which the model reads only in part.

Example:
    >>> report = validate_splits({"train": train_split}, space)  # doctest: +SKIP
    >>> report.raise_for_errors()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textclf.data.io import Split
from textclf.data.labels import LabelSpace
from textclf.errors import DataError
from textclf.markdown import md_code, md_escape

_KEY_SEP = "\x1f"  # joins a row's labels into one comparable key; never appears in label names
_MAX_ROWS_SHOWN = 10
# Above this share of truncated texts the report warns (issue 10): a tenth of the data
# read only in part is where raising max_length is worth its cost.
TRUNCATION_WARNING_SHARE = 0.10
_TOKEN_BATCH = 1000

TokenCounter = Callable[[Sequence[str]], Sequence[int]]
"""Texts in, the number of tokens the model would see for each (special tokens included)."""


@dataclass
class Finding:
    """One problem found in the data.

    Attributes:
        level: ``error`` stops the run; ``warning`` is reported and counted.
        code: Stable identifier, e.g. ``duplicate_text``.
        split: The split it was found in.
        message: One sentence for the user, with the fix.
        count: How many rows it concerns.
        rows: The first few row numbers concerned (1-based data rows of the source).
    """

    level: Literal["error", "warning"]
    code: str
    split: str
    message: str
    count: int
    rows: list[int] = field(default_factory=list)


@dataclass
class SplitSummary:
    """Sizes, label distribution and text lengths of one split.

    Attributes:
        n_without_labels: Rows whose label set is empty (multi-label examples with no
            label; see :mod:`textclf.data.io` for when a cell means that).
    """

    source: str
    n_read: int
    n_used: int
    skipped: dict[str, int]
    label_counts: dict[str, int]
    chars: dict[str, float]
    words: dict[str, float]
    n_without_labels: int = 0


@dataclass
class SplitTruncation:
    """How many texts of one split are longer than ``max_length`` tokens.

    Attributes:
        n_texts: Texts measured.
        n_truncated: Texts with more than ``max_length`` tokens.
        share: ``n_truncated / n_texts``.
        tokens: ``min``, ``median``, ``p95`` and ``max`` token counts.
    """

    n_texts: int
    n_truncated: int
    share: float
    tokens: dict[str, float]


@dataclass
class Truncation:
    """The share of texts that the model reads only in part, overall and per split.

    Attributes:
        max_length: The token limit texts are cut to.
        model_max_length: The backbone's own limit, when the caller knows it.
        n_texts: Texts measured, all splits together.
        n_truncated: Of those, texts longer than ``max_length`` tokens.
        share: ``n_truncated / n_texts``; a warning is raised above ``warning_share``.
        warning_share: :data:`TRUNCATION_WARNING_SHARE`.
        splits: Per split.
    """

    max_length: int
    model_max_length: int | None
    n_texts: int
    n_truncated: int
    share: float
    warning_share: float
    splits: dict[str, SplitTruncation]


@dataclass
class ValidationReport:
    """Everything the checks found, per split.

    Attributes:
        splits: Sizes, labels and lengths per split.
        findings: Errors and warnings, in the order found.
        truncation: Texts longer than the token limit; ``None`` when not measured.
    """

    splits: dict[str, SplitSummary] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    truncation: Truncation | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def raise_for_errors(self) -> None:
        """Raise the first fatal finding as a :class:`DataError`."""
        if self.errors:
            first = self.errors[0]
            more = f" ({len(self.errors) - 1} more problem(s) listed by 'textclf data validate')"
            raise DataError(first.message + (more if len(self.errors) > 1 else ""))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        ``truncation`` is ``None`` when token lengths were not measured, else
        ``{"max_length", "model_max_length", "n_texts", "n_truncated", "share",
        "warning_share", "splits": {name: {"n_texts", "n_truncated", "share", "tokens"}}}``
        with ``share`` a fraction in [0, 1]. Each split has ``n_without_labels``.
        """
        return {
            "splits": {k: asdict(v) for k, v in self.splits.items()},
            "findings": [asdict(f) for f in self.findings],
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "truncation": asdict(self.truncation) if self.truncation is not None else None,
        }

    def to_markdown(self) -> str:
        """A short Markdown summary for model cards and reports."""
        unlabelled = any(s.n_without_labels for s in self.splits.values())
        lines = [
            "| split | source | rows read | rows used | labels | median words |"
            + (" rows without labels |" if unlabelled else ""),
            "|---|---|---|---|---|---|" + ("---|" if unlabelled else ""),
        ]
        for name, s in self.splits.items():
            lines.append(
                f"| {name} | {md_code(s.source)} | {s.n_read} | {s.n_used} | {len(s.label_counts)} "
                f"| {s.words.get('median', 0):.0f} |"
                + (f" {s.n_without_labels} |" if unlabelled else "")
            )
        t = self.truncation
        if t is not None:
            per_split = ", ".join(f"{k} {v.share:.1%}" for k, v in t.splits.items())
            lines += [
                "",
                f"Texts longer than max_length {t.max_length} tokens (read only in part): "
                f"{t.share:.1%} ({t.n_truncated} of {t.n_texts}; {per_split}).",
            ]
        if self.findings:
            # count: the rows (or labels) a finding is about; blank where it counts none.
            lines += ["", "| level | split | finding | count |", "|---|---|---|---|"]
            for f in self.findings:
                lines.append(
                    f"| {f.level} | {f.split} | {md_escape(f.message)} | {f.count or ''} |"
                )
        else:
            lines += ["", "No data problems found."]
        return "\n".join(lines)


def _label_keys(split: Split) -> pa.Array:
    # Sort each row's labels first: ["a", "b"] and ["b", "a"] are the same label set.
    labels = split.dataset.data.column("labels").combine_chunks()
    flat = pc.list_flatten(labels)
    by_row = pa.table({"row": pc.list_parent_indices(labels), "label": flat})
    order = pc.sort_indices(by_row, sort_keys=[("row", "ascending"), ("label", "ascending")])
    offsets = pc.subtract(labels.offsets, labels.offsets[0])
    return pc.binary_join(pa.ListArray.from_arrays(offsets, pc.take(flat, order)), _KEY_SEP)


def _rows_where(split: Split, mask: pa.ChunkedArray | pa.Array) -> tuple[int, list[int]]:
    idx = pc.indices_nonzero(mask)
    rows = pc.take(split.dataset.data.column("row"), idx[:_MAX_ROWS_SHOWN]).to_pylist()
    return len(idx), rows


def _length_stats(values: pa.ChunkedArray) -> dict[str, float]:
    if len(values) == 0:
        return {"min": 0, "median": 0, "p95": 0, "max": 0}
    q = pc.quantile(values, q=[0.5, 0.95])
    return {
        "min": float(pc.min(values).as_py()),
        "median": float(q[0].as_py()),
        "p95": float(q[1].as_py()),
        "max": float(pc.max(values).as_py()),
    }


def summarize(split: Split) -> SplitSummary:
    """Sizes, label counts and text-length statistics of one split."""
    texts = split.dataset.data.column("text")
    label_counts: dict[str, int] = {}
    if split.labelled:
        flat = pc.list_flatten(split.dataset.data.column("labels"))
        for item in pc.value_counts(flat).to_pylist():
            label_counts[item["values"]] = int(item["counts"])
    words = pc.list_value_length(pc.utf8_split_whitespace(texts))
    n_without_labels = 0
    if split.labelled:
        sizes = pc.list_value_length(split.dataset.data.column("labels"))
        n_without_labels = int(pc.sum(pc.equal(sizes, 0)).as_py() or 0)
    return SplitSummary(
        source=split.source,
        n_read=split.n_read,
        n_used=len(split),
        skipped=dict(split.skipped),
        label_counts=dict(sorted(label_counts.items(), key=lambda kv: -kv[1])),
        chars=_length_stats(pc.utf8_length(texts)),
        words=_length_stats(words),
        n_without_labels=n_without_labels,
    )


def _check_skipped(split: Split, out: list[Finding]) -> None:
    for reason, count in split.skipped.items():
        rows = split.skipped_rows.get(reason, [])[:_MAX_ROWS_SHOWN]
        out.append(
            Finding(
                "warning",
                reason,
                split.name,
                f"{split.source}: {count} row(s) skipped because the text is empty or only "
                f"whitespace (first: row {rows[0] if rows else '?'}); fill them in to use them.",
                count,
                rows,
            )
        )


def _check_duplicates(split: Split, out: list[Finding]) -> None:
    table = pa.table({"text": split.dataset.data.column("text")})
    if split.labelled:
        table = table.append_column("key", _label_keys(split))
    grouped = table.group_by("text").aggregate(
        [("text", "count")] + ([("key", "count_distinct")] if split.labelled else [])
    )
    dup_texts = grouped.filter(pc.greater(grouped["text_count"], 1))
    if dup_texts.num_rows:
        extra = int(pc.sum(pc.subtract(dup_texts["text_count"], 1)).as_py())
        mask = pc.is_in(table["text"], value_set=dup_texts["text"])
        _, rows = _rows_where(split, mask)
        out.append(
            Finding(
                "warning",
                "duplicate_text",
                split.name,
                f"{split.source}: {extra} row(s) repeat a text seen earlier in it "
                f"({dup_texts.num_rows} distinct text{'' if dup_texts.num_rows == 1 else 's'}, "
                f"e.g. rows {rows[:4]}); de-duplicate unless the repetition is intended.",
                extra,
                rows,
            )
        )
    if split.labelled:
        conflict = grouped.filter(pc.greater(grouped["key_count_distinct"], 1))
        if conflict.num_rows:
            mask = pc.is_in(table["text"], value_set=conflict["text"])
            count, rows = _rows_where(split, mask)
            out.append(
                Finding(
                    "warning",
                    "conflicting_labels",
                    split.name,
                    f"{split.source}: {conflict.num_rows} text(s) appear with different labels "
                    f"({count} rows, e.g. rows {rows[:4]}); review and correct the labels.",
                    count,
                    rows,
                )
            )


def _check_unseen_labels(split: Split, space: LabelSpace, out: list[Finding]) -> None:
    known = pa.array(space.labels, type=pa.string())
    labels = split.dataset.data.column("labels")
    flat = pc.list_flatten(labels)
    unseen = pc.unique(pc.filter(flat, pc.invert(pc.is_in(flat, value_set=known))))
    if len(unseen):
        bad = pc.invert(pc.is_in(flat, value_set=known))
        bad_parent = pc.filter(pc.list_parent_indices(labels), bad)
        row_of = split.dataset.data.column("row")
        rows = pc.take(row_of, pc.unique(bad_parent)).to_pylist()
        first: dict[str, int] = {}  # each unseen label → the first row that has it
        for name, parent in zip(
            pc.filter(flat, bad).to_pylist(), bad_parent.to_pylist(), strict=True
        ):
            first.setdefault(name, parent)
        shown = sorted(first.items(), key=lambda kv: kv[1])[:5]
        listed = ", ".join(f"{n!r} (first at row {row_of[p].as_py()})" for n, p in shown)
        more = f" and {len(first) - len(shown)} more" if len(first) > len(shown) else ""
        out.append(
            Finding(
                "error",
                "unseen_label",
                split.name,
                f"{split.source}: label(s) {listed}{more} do not occur in the training data, "
                "so the model cannot learn them; add training examples of them or remove "
                "those rows.",
                len(rows),
                rows[:_MAX_ROWS_SHOWN],
            )
        )


def _check_leakage(train: Split, other: Split, out: list[Finding]) -> None:
    train_texts = pc.unique(train.dataset.data.column("text"))
    mask = pc.is_in(other.dataset.data.column("text"), value_set=train_texts)
    count, rows = _rows_where(other, mask)
    if count:
        out.append(
            Finding(
                "warning",
                "leakage",
                other.name,
                f"{other.source}: {count} text(s) also occur in the training data (e.g. rows "
                f"{rows[:4]}), which inflates {other.name} scores; remove them from one side.",
                count,
                rows,
            )
        )


def _some(names: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` names, and how many more there are: a list cut short says so."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{list(names[:shown])}{more}"


def _check_imbalance(
    name: str, summary: SplitSummary, space: LabelSpace, out: list[Finding]
) -> None:
    counts = [summary.label_counts.get(lab, 0) for lab in space.labels]
    absent = [lab for lab, c in zip(space.labels, counts, strict=True) if c == 0]
    if absent and name == "train":
        out.append(
            Finding(
                "warning",
                "label_without_examples",
                name,
                f"{summary.source}: label(s) {_some(absent)} have no training example and will "
                "never be predicted; add examples or drop them from the label names.",
                len(absent),
            )
        )
    everywhere = [lab for lab, c in zip(space.labels, counts, strict=True) if c == summary.n_used]
    if space.multilabel and everywhere and name == "train" and summary.n_used > 1:
        out.append(
            Finding(
                "warning",
                "label_on_every_example",
                name,
                f"{summary.source}: label(s) {_some(everywhere)} are on every training example, "
                "so the model learns to always predict them and no metric can rank them; add "
                "examples without them or drop them from the labels.",
                len(everywhere),
            )
        )
    if absent and name in ("validation", "test") and len(absent) < len(counts):
        use = (
            "it picks the kept checkpoint and fits the decision rule blind to them"
            if name == "validation"
            else "the test scores say nothing about them"
        ) + " (and macro averages count each as 0)"
        out.append(
            Finding(
                "warning",
                "label_missing_from_split",
                name,
                f"{summary.source}: label(s) {_some(absent)} have no {name} example, so {use}; add "
                f"examples of them to the {name} file, or leave the {name} split out and let "
                "textclf carve a stratified one.",
                len(absent),
            )
        )
    present = [c for c in counts if c > 0]
    if name == "train" and present and max(present) >= 10 * min(present):
        # Multi-label: 'auto' already weights each label's positives (sqrt pos_weight);
        # 'balanced' would flood the rare labels with false positives.
        fix = (
            "class_weighting 'auto' already weights each label's positives by the square root "
            "of its negative-to-positive ratio"
            if space.multilabel
            else "consider --set train.class_weighting=balanced"
        )
        kind = "label" if space.multilabel else "class"
        out.append(
            Finding(
                "warning",
                "class_imbalance",
                name,
                f"{summary.source}: the largest {kind} has {max(present)} examples and the "
                f"smallest {min(present)}; {fix}.",
                0,
            )
        )


def _spelling(label: str) -> str:
    """The label with case and number formatting taken out: "01", "1.0" and "1" agree."""
    folded = label.strip().casefold()
    try:
        number = float(folded)
    except ValueError:
        return folded
    return repr(number) if math.isfinite(number) else folded


def _check_label_spelling(source: str, space: LabelSpace, out: list[Finding]) -> None:
    groups: dict[str, list[str]] = {}
    for label in space.labels:
        groups.setdefault(_spelling(label), []).append(label)
    alike = [names for names in groups.values() if len(names) > 1]
    if alike:
        shown = "; ".join(" and ".join(repr(n) for n in names) for names in alike[:3])
        out.append(
            Finding(
                "warning",
                "labels_alike",
                "train",
                f"{source}: labels {shown} differ only in case or number formatting, so they "
                "are different classes; if they mean the same, write them one way in the file.",
                sum(len(names) for names in alike),
            )
        )


def validate_splits(splits: dict[str, Split], space: LabelSpace | None) -> ValidationReport:
    """Run every check on the given splits.

    Args:
        splits: By name; ``train`` is the reference for unseen labels and leakage.
        space: The label space learned from ``train`` (``None`` skips label checks).

    Returns:
        The report; call :meth:`ValidationReport.raise_for_errors` to stop on fatal ones.
    """
    report = ValidationReport()
    for name, split in splits.items():
        report.splits[name] = summarize(split)
        _check_skipped(split, report.findings)
        if split.stray_lists is not None:
            message, count = split.stray_lists
            report.findings.append(Finding("warning", "stray_label_lists", name, message, count))
        if split.null_items is not None:
            message, count = split.null_items
            report.findings.append(Finding("warning", "null_label_items", name, message, count))
        _check_duplicates(split, report.findings)
        if space is not None and split.labelled and name != "train":
            _check_unseen_labels(split, space, report.findings)
        if space is not None and split.labelled:
            _check_imbalance(name, report.splits[name], space, report.findings)
    train = splits.get("train")
    if train is not None and space is not None:
        _check_label_spelling(train.source, space, report.findings)
    if train is not None:
        for name, split in splits.items():
            if name != "train":
                _check_leakage(train, split, report.findings)
    return report


def _token_counts(split: Split, count_tokens: TokenCounter) -> np.ndarray:
    """Token counts of every text, in batches (never a Python list of the whole column)."""
    texts = split.dataset.data.column("text")
    counts = np.empty(len(texts), dtype=np.int64)
    for start in range(0, len(texts), _TOKEN_BATCH):
        batch = texts.slice(start, _TOKEN_BATCH).to_pylist()
        got = count_tokens(batch)
        if len(got) != len(batch):
            raise ValueError(f"count_tokens returned {len(got)} counts for {len(batch)} texts.")
        counts[start : start + len(batch)] = np.asarray(got, dtype=np.int64)
    return counts


def measure_truncation(
    splits: dict[str, Split],
    count_tokens: TokenCounter,
    *,
    max_length: int,
    model_max_length: int | None = None,
) -> tuple[Truncation, Finding | None]:
    """The share of texts longer than ``max_length`` tokens, and a warning when it is large.

    Args:
        splits: By name, as used for training and evaluation.
        count_tokens: Texts → token counts, special tokens included (e.g. the lengths of a
            tokenizer's ``input_ids`` with ``truncation=False``).
        max_length: The limit texts are cut to.
        model_max_length: The backbone's own limit, named in the hint when known.

    Returns:
        The measurement, and one warning when more than :data:`TRUNCATION_WARNING_SHARE`
        of all texts are cut (``None`` otherwise).

    Example:
        >>> from textclf.data.io import split_from_lists
        >>> splits = {"train": split_from_lists(["a b c", "a", "b"], ["x", "y", "x"])}
        >>> t, warning = measure_truncation(
        ...     splits, lambda texts: [len(t.split()) for t in texts], max_length=2
        ... )
        >>> round(t.share, 3), warning.code
        (0.333, 'truncation')
    """
    per_split: dict[str, SplitTruncation] = {}
    for name, split in splits.items():
        counts = _token_counts(split, count_tokens)
        n_cut = int((counts > max_length).sum())
        stats = (
            {
                "min": float(counts.min()),
                "median": float(np.median(counts)),
                "p95": float(np.quantile(counts, 0.95)),
                "max": float(counts.max()),
            }
            if len(counts)
            else {"min": 0.0, "median": 0.0, "p95": 0.0, "max": 0.0}
        )
        per_split[name] = SplitTruncation(
            n_texts=len(counts),
            n_truncated=n_cut,
            share=n_cut / len(counts) if len(counts) else 0.0,
            tokens=stats,
        )
    n_texts = sum(t.n_texts for t in per_split.values())
    n_cut = sum(t.n_truncated for t in per_split.values())
    share = n_cut / n_texts if n_texts else 0.0
    truncation = Truncation(
        max_length=max_length,
        model_max_length=model_max_length,
        n_texts=n_texts,
        n_truncated=n_cut,
        share=share,
        warning_share=TRUNCATION_WARNING_SHARE,
        splits=per_split,
    )
    if share <= TRUNCATION_WARNING_SHARE:
        return truncation, None
    if model_max_length is not None and max_length < model_max_length:
        fix = (
            f"raise --max-length (this model reads up to {model_max_length} tokens) or expect "
            "the end of long texts to be ignored"
        )
    elif model_max_length is not None:
        fix = (
            f"{max_length} is already this model's limit, so expect the end of long texts to "
            "be ignored, or split them into shorter examples"
        )
    else:
        fix = (
            "raise --max-length up to the model's limit or expect the end of long texts to be "
            "ignored"
        )
    # Named after the training file: carved splits come from it, and it is what the user
    # passed first; the per-split shares are in the report.
    first = next(iter(splits))
    source = splits["train"].source if "train" in splits else splits[first].source
    p95 = max(t.tokens["p95"] for t in per_split.values())
    finding = Finding(
        "warning",
        "truncation",
        ", ".join(k for k, v in per_split.items() if v.share > TRUNCATION_WARNING_SHARE),
        f"{source}: {share:.1%} of the texts ({n_cut} of {n_texts} in all splits) are longer "
        f"than max_length {max_length} tokens (95th percentile up to {p95:.0f}), so the model "
        f"reads only their beginning; {fix}.",
        n_cut,
    )
    return truncation, finding
