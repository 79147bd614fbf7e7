"""Error analysis: every mistake with its kind, the confused pairs, and likely label errors.

Works on arrays (texts, true labels, probabilities, the decision rule), so a saved
``predictions.jsonl`` or a baseline's probabilities are analysed the same way as a live
model.

Error types (one per misclassified example, the first that applies):

* single-label — ``confident error`` (the wrong label got at least ``confident_at``),
  ``near threshold`` (the decision was within ``near`` of going the other way:
  binary ``|p − t|``, multi-class ``p(predicted) − p(true)``), else ``confused pair``
  (the model preferred another label, without confidence);
* multi-label — ``near threshold`` (every wrong decision was within ``near`` of its
  threshold), ``confident error`` (a wrong label scored at least ``confident_at`` or a
  missed one at most ``1 − confident_at``), else ``missed label``, ``extra label`` or
  ``missed and extra labels``.

Likely label errors use confident learning (Northcutt et al., 2021, "Confident Learning:
Estimating Uncertainty in Dataset Labels") through ``cleanlab``, the maintained
implementation, rather than a re-derivation: an example is flagged when the model, which
never saw it, puts its probability mass on another label with more confidence than that
label's typical self-confidence.

Example:
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.45, 0.55]])
    >>> t = error_table(texts=["a", "b", "c"], y_true=np.array([1, 1, 0]), proba=proba,
    ...                 task="binary", labels=["neg", "pos"])
    >>> t["error_type"].tolist()
    ['confident error', 'near threshold']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from textclf.evaluation.decision import decide

logger = logging.getLogger(__name__)

#: A wrong label with at least this probability counts as a confident error.
CONFIDENT_AT = 0.9
#: A decision within this distance of flipping counts as "near the threshold".
NEAR = 0.1

ERROR_COLUMNS = [
    "row",
    "text",
    "true",
    "predicted",
    "error_type",
    "confidence",
    "true_label_score",
    "margin",
    "missed",
    "extra",
]


def _as_threshold_vector(thresholds: float | Sequence[float] | None, k: int) -> np.ndarray:
    if thresholds is None:
        return np.full(k, 0.5)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    return np.full(k, float(t[0])) if t.size == 1 else t


def error_table(
    *,
    texts: Sequence[str],
    y_true: np.ndarray,
    proba: np.ndarray,
    task: str,
    labels: Sequence[str],
    thresholds: float | Sequence[float] | None = None,
    at_least_one: bool = False,
    rows: Sequence[int] | None = None,
    confident_at: float = CONFIDENT_AT,
    near: float = NEAR,
) -> pd.DataFrame:
    """One row per misclassified example, most damaging first.

    Args:
        texts: The ``n`` texts.
        y_true: ``(n,)`` label ids, or ``(n, k)`` 0/1 for multi-label.
        proba: ``(n, k)`` calibrated probabilities, columns in ``labels`` order.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label names.
        thresholds: The decision rule's thresholds (``None``: argmax / 0.5).
        at_least_one: Multi-label: the rule predicts the top label when none passes.
        rows: Row numbers in the source file (default ``0..n-1``).
        confident_at: Probability at which a wrong label is a "confident error".
        near: Distance to the decision boundary counted as "near threshold".

    Returns:
        Columns :data:`ERROR_COLUMNS`: ``confidence`` is the probability of the predicted
        label (multi-label: how sure the model was of its worst wrong decision, ``p`` for
        an extra label and ``1 − p`` for a missed one); ``true_label_score`` the true
        label's probability (multi-label: the lowest among the true labels, NaN for an
        example with none); ``margin`` how far
        the decision was from flipping (always ≥ 0; small = borderline), ``missed`` and
        ``extra`` the multi-label differences (``|``-joined). Sorted by error type severity,
        then confidence, descending.
    """
    proba = np.asarray(proba, dtype=np.float64)
    names: list[str] = list(labels)
    y_true = np.asarray(y_true)
    n, k = proba.shape
    rows = list(range(n)) if rows is None else list(rows)
    pred = decide(proba, task, threshold=thresholds, at_least_one=at_least_one)
    records: list[dict[str, object]] = []

    def record(i: int | np.integer, *values: object) -> dict[str, object]:
        """Example ``i``'s row: its row number and text, then the other ERROR_COLUMNS."""
        return dict(zip(ERROR_COLUMNS, (rows[i], texts[int(i)], *values), strict=True))

    if task == "multilabel":
        t = _as_threshold_vector(thresholds, k)
        wrong = pred != y_true
        for i in np.flatnonzero(wrong.any(axis=1)):
            missed = np.flatnonzero((y_true[i] == 1) & (pred[i] == 0))
            extra = np.flatnonzero((y_true[i] == 0) & (pred[i] == 1))
            bad = np.flatnonzero(wrong[i])
            distance = np.abs(proba[i, bad] - t[bad])
            # How sure the model was of its worst wrong decision: p for a label it added,
            # 1 − p for a label it left out (one scale, so misses and extras sort together).
            confidence = max(
                float(proba[i, extra].max()) if len(extra) else 0.0,
                float(1 - proba[i, missed].min()) if len(missed) else 0.0,
            )
            true_ids = np.flatnonzero(y_true[i] == 1)
            if (distance <= near).all():
                kind = "near threshold"
            elif confidence >= confident_at:
                kind = "confident error"
            elif len(missed) and len(extra):
                kind = "missed and extra labels"
            elif len(missed):
                kind = "missed label"
            else:
                kind = "extra label"
            records.append(
                record(
                    i,
                    *("|".join(names[j] for j in np.flatnonzero(v[i])) for v in (y_true, pred)),
                    kind,
                    confidence,
                    # The weakest true label's score; undefined for an example with none.
                    float(proba[i, true_ids].min()) if len(true_ids) else float("nan"),
                    float(distance.min()),
                    "|".join(names[j] for j in missed),
                    "|".join(names[j] for j in extra),
                )
            )
    else:
        t_bin = float(_as_threshold_vector(thresholds, 1)[0])
        for i in np.flatnonzero(pred != y_true):
            p_pred, p_true = proba[i, pred[i]], proba[i, y_true[i]]
            margin = abs(proba[i, 1] - t_bin) if task == "binary" else p_pred - p_true
            if p_pred >= confident_at:
                kind = "confident error"
            elif margin <= near:
                kind = "near threshold"
            else:
                kind = "confused pair"
            records.append(
                record(
                    i,
                    names[y_true[i]],
                    names[pred[i]],
                    kind,
                    float(p_pred),
                    float(p_true),
                    float(margin),
                    "",
                    "",
                )
            )
    frame = pd.DataFrame.from_records(records, columns=ERROR_COLUMNS)
    severity = {
        "confident error": 0,
        "confused pair": 1,
        "missed and extra labels": 1,
        "missed label": 2,
        "extra label": 2,
        "near threshold": 3,
    }
    frame["_severity"] = frame["error_type"].map(severity)
    frame = frame.sort_values(["_severity", "confidence"], ascending=[True, False], kind="stable")
    return frame.drop(columns="_severity").reset_index(drop=True)


def confused_pairs(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    *,
    top: int = 20,
) -> pd.DataFrame:
    """The most frequent (true → predicted) confusions.

    Single-label: off-diagonal cells of the confusion matrix. Multi-label: an example
    that misses label A and wrongly predicts label B counts once for (A → B); so do
    ``(A → none)`` and ``(none → B)`` for a miss or an extra label with no partner.

    Args:
        y_true, y_pred: ``(n,)`` ids, or ``(n, k)`` 0/1 for multi-label.
        labels: Label names.
        top: How many pairs to return.

    Returns:
        Columns ``true, predicted, count, share``; ``share`` is the count over the number
        of examples whose true labels include ``true`` (``none`` rows: over all examples).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    names: list[str] = list(labels)
    counts: dict[tuple[str, str], int] = {}
    if y_true.ndim == 2:
        support = y_true.sum(axis=0)
        n = len(y_true)
        for i in np.flatnonzero((y_true != y_pred).any(axis=1)):
            missed = np.flatnonzero((y_true[i] == 1) & (y_pred[i] == 0))
            extra = np.flatnonzero((y_true[i] == 0) & (y_pred[i] == 1))
            pairs = [(names[a], names[b]) for a in missed for b in extra]
            if not len(extra):
                pairs = [(names[a], "none") for a in missed]
            elif not len(missed):
                pairs = [("none", names[b]) for b in extra]
            for pair in pairs:
                counts[pair] = counts.get(pair, 0) + 1
        denominators = {lab: int(s) for lab, s in zip(labels, support, strict=True)}
        denominators["none"] = n
    else:
        k = len(labels)
        matrix = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
        np.fill_diagonal(matrix, 0)
        for a, b in zip(*np.nonzero(matrix), strict=True):
            counts[(names[a], names[b])] = int(matrix[a, b])
        denominators = {
            lab: int(s) for lab, s in zip(labels, np.bincount(y_true, minlength=k), strict=True)
        }
    frame = pd.DataFrame(
        [(a, b, c, c / max(denominators.get(a, 1), 1)) for (a, b), c in counts.items()],
        columns=["true", "predicted", "count", "share"],
    )
    frame = frame.sort_values(["count", "share"], ascending=False, kind="stable")
    return frame.head(top).reset_index(drop=True)


def likely_label_errors(
    *,
    texts: Sequence[str],
    y_true: np.ndarray,
    proba: np.ndarray,
    task: str,
    labels: Sequence[str],
    rows: Sequence[int] | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Examples whose given label the model contradicts with confidence (confident learning).

    Only meaningful on data the model did not train on (a test or validation split):
    on training data the model has memorised the labels, errors included.

    Args:
        texts: The ``n`` texts.
        y_true: ``(n,)`` ids, or ``(n, k)`` 0/1 for multi-label.
        proba: ``(n, k)`` out-of-sample probabilities.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label names.
        rows: Row numbers in the source file (default ``0..n-1``).
        top: Keep only the ``top`` most likely errors.

    Returns:
        Columns ``row, text, given, suggested, label_quality, given_score,
        suggested_score``, most likely label error first (lowest ``label_quality``).
        Empty when there are too few examples per label for the estimate.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    columns = [
        "row",
        "text",
        "given",
        "suggested",
        "label_quality",
        "given_score",
        "suggested_score",
    ]
    proba = np.asarray(proba, dtype=np.float64)
    names: list[str] = list(labels)
    y_true = np.asarray(y_true)
    n, k = proba.shape
    rows = list(range(n)) if rows is None else list(rows)
    multilabel = task == "multilabel"
    # cleanlab needs every label to occur among the given labels, and a handful of examples.
    present = y_true.sum(axis=0) > 0 if multilabel else np.bincount(y_true, minlength=k) > 0
    if n < 2 * k or not present.all():
        logger.info(
            "Likely label errors not estimated: %d examples for %d labels, %d label(s) absent.",
            n,
            k,
            int((~present).sum()),
        )
        return pd.DataFrame(columns=columns)
    if multilabel:
        given_lists = [list(np.flatnonzero(r)) for r in y_true]
        from cleanlab.multilabel_classification.filter import (
            find_label_issues as find_multilabel_issues,
        )
        from cleanlab.multilabel_classification.rank import (
            get_label_quality_scores as multilabel_quality,
        )

        # n_jobs=1: cleanlab's default forks a process pool, and a fork of a process that
        # runs threads (torch, tokenizers, Ray) can deadlock in the child: it hung a test run.
        issues = find_multilabel_issues(labels=given_lists, pred_probs=proba, n_jobs=1)

        quality = multilabel_quality(given_lists, proba)
        suggested = proba >= 0.5
    else:
        # Softmax rows must sum to one; calibrated probabilities may drift by rounding.
        proba = proba / proba.sum(axis=1, keepdims=True)
        issues = find_label_issues(labels=y_true, pred_probs=proba, n_jobs=1)  # as above
        quality = get_label_quality_scores(y_true, proba)
    out = []
    for i in np.flatnonzero(issues):
        if multilabel:
            given = "|".join(names[j] for j in np.flatnonzero(y_true[i]))
            sug = "|".join(names[j] for j in np.flatnonzero(suggested[i])) or "(none)"
            given_score = float(proba[i, y_true[i] == 1].min()) if y_true[i].any() else 1.0
            suggested_score = float(proba[i].max())
        else:
            j = int(proba[i].argmax())
            given, sug = names[y_true[i]], names[j]
            given_score, suggested_score = float(proba[i, y_true[i]]), float(proba[i, j])
        out.append(
            (rows[i], texts[int(i)], given, sug, float(quality[i]), given_score, suggested_score)
        )
    frame = pd.DataFrame(out, columns=columns).sort_values("label_quality", kind="stable")
    if top is not None:
        frame = frame.head(top)
    return frame.reset_index(drop=True)


#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula quoted.

    CSV files meant to be opened by people (``errors.csv``, ``label_issues.csv``, the app's
    history) hold the data's texts; one such as ``=HYPERLINK("http://…?d="&A3)`` would run
    when the file is opened (security review). A leading ``'`` shows the text as text,
    the OWASP advice. Files read back by programs (``predict --output``, feedback
    exports for training) keep their cells byte for byte.

    Example:
        >>> spreadsheet_safe(pd.DataFrame({"text": ["=1+1", "ok", "-2 nodes"]}))["text"].tolist()
        ["'=1+1", 'ok', "'-2 nodes"]
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = [
                "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                for v in out[column]
            ]
    return out
