"""Predictions as the app shows them: decisions under adjustable thresholds, result tables,
their filters and their downloads.

Probabilities are computed once per text; every decision after that (a threshold slider
moved, a batch table re-filtered) is :func:`textclf.evaluation.decision.decide` on the
kept probabilities, so the model is not run again.

*Confidence* of a prediction: the probability of the predicted label (single-label);
for multi-label the lowest probability among the predicted labels, or ``1 - max`` when
no label is predicted (how sure the model is that none applies).

Example:
    >>> import numpy as np
    >>> decided_labels(np.array([[0.2, 0.7, 0.6]]), ["a", "b", "c"], "multilabel",
    ...                thresholds=[0.5, 0.8, 0.5])
    [['c']]
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from textclf.data.labels import LabelSpace
from textclf.evaluation.decision import decide
from textclf.inference.records import PredictionWriter, prediction_records
from textclf.persistence import ModelInfo

if TYPE_CHECKING:
    from textclf.inference.pipeline import Predictor

NO_LABEL = "(no label)"


def saved_thresholds(info: ModelInfo) -> list[float] | None:
    """The model's thresholds as the app's sliders hold them.

    Returns:
        One value per label (multi-label), one value for the positive label (binary),
        ``None`` for multi-class (argmax: nothing to adjust). Missing thresholds are 0.5.
    """
    return info.rule.per_label_thresholds(len(info.labels))


def _threshold_arg(task: str, thresholds: Sequence[float] | None) -> Any:
    if thresholds is None or task == "multiclass":
        return None
    return float(thresholds[0]) if task == "binary" else list(thresholds)


def decided_labels(
    proba: np.ndarray,
    labels: Sequence[str],
    task: str,
    *,
    thresholds: Sequence[float] | None = None,
    at_least_one: bool = False,
) -> list[list[str]]:
    """Predicted label names per row of ``proba`` (``(n, k)``), under ``thresholds``."""
    proba = np.atleast_2d(np.asarray(proba, dtype=np.float64))
    pred = decide(
        proba, task, threshold=_threshold_arg(task, thresholds), at_least_one=at_least_one
    )
    if task == "multilabel":
        return [[labels[int(j)] for j in np.flatnonzero(row)] for row in pred]
    return [[labels[int(i)]] for i in pred]


def confidence(
    proba: np.ndarray, predicted: Sequence[Sequence[str]], labels: Sequence[str]
) -> np.ndarray:
    """Confidence per row (see the module docstring), ``(n,)`` floats in [0, 1]."""
    proba = np.atleast_2d(np.asarray(proba, dtype=np.float64))
    index = {lab: j for j, lab in enumerate(labels)}
    out = np.empty(len(proba))
    for i, names in enumerate(predicted):
        if names:
            out[i] = min(proba[i, index[n]] for n in names)
        else:
            out[i] = 1.0 - proba[i].max()
    return out


def top_k(scores: Sequence[float], labels: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` best labels with their scores, best first (ties keep label order)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return [(labels[j], float(scores[j])) for j in order]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Prediction:
    """One classified text, as shown, kept in the session history.

    Attributes:
        text: The text.
        task: The model's task.
        labels: The model's labels (order of ``scores``).
        scores: Probability per label.
        predicted: Predicted label(s) under ``thresholds``.
        thresholds: Thresholds used (see :func:`saved_thresholds`).
        at_least_one: The model's multi-label rule.
        latency_ms: Time to compute the probabilities.
        model_name: Display name of the model.
        model_fingerprint: See :func:`textclf.feedback.model_fingerprint`.
        source: ``text``, or the batch file's name.
        row: Row in the batch file.
        created: ISO time (UTC).
        id: Unique id in the session.
        feedback: ``correct`` or ``corrected`` once the user gave feedback.
        feedback_id: Row id of that feedback in the store.
    """

    text: str
    task: str
    labels: list[str]
    scores: list[float]
    predicted: list[str]
    thresholds: list[float] | None
    at_least_one: bool
    latency_ms: float
    model_name: str
    model_fingerprint: str
    source: str = "text"
    row: int | None = None
    created: str = field(default_factory=_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    feedback: str | None = None
    feedback_id: int | None = None

    @property
    def score_map(self) -> dict[str, float]:
        return dict(zip(self.labels, self.scores, strict=True))

    @property
    def confidence(self) -> float:
        return float(confidence(np.array([self.scores]), [self.predicted], self.labels)[0])

    def redecide(self, thresholds: Sequence[float] | None) -> list[str]:
        """The predicted labels under other thresholds (no model run)."""
        return decided_labels(
            np.array([self.scores]),
            self.labels,
            self.task,
            thresholds=thresholds,
            at_least_one=self.at_least_one,
        )[0]


def classify(
    predictor: Predictor,
    text: str,
    *,
    model_name: str,
    model_fingerprint: str,
    thresholds: Sequence[float] | None = None,
) -> Prediction:
    """Run the model on one text and decide under ``thresholds`` (default: the saved ones)."""
    info = predictor.info
    started = time.perf_counter()
    proba = predictor.predict_proba([text])
    latency_ms = (time.perf_counter() - started) * 1000
    used = list(thresholds) if thresholds is not None else saved_thresholds(info)
    predicted = decided_labels(
        proba, info.labels, info.task, thresholds=used, at_least_one=info.rule.at_least_one
    )[0]
    return Prediction(
        text=text,
        task=info.task,
        labels=list(info.labels),
        scores=[float(x) for x in proba[0]],
        predicted=predicted,
        thresholds=used,
        at_least_one=info.rule.at_least_one,
        latency_ms=latency_ms,
        model_name=model_name,
        model_fingerprint=model_fingerprint,
    )


# ---------------------------------------------------------------------------------------
# Batch results
# ---------------------------------------------------------------------------------------


def score_column(label: str) -> str:
    return f"score_{label}"


def results_frame(
    rows: Sequence[int],
    texts: Sequence[str],
    proba: np.ndarray,
    labels: Sequence[str],
    task: str,
    *,
    thresholds: Sequence[float] | None = None,
    at_least_one: bool = False,
) -> pd.DataFrame:
    """One row per text: ``row``, ``text``, ``prediction`` (names joined by ", "),
    ``predicted`` (list), ``confidence`` and ``score_<label>`` per label."""
    predicted = decided_labels(
        proba, labels, task, thresholds=thresholds, at_least_one=at_least_one
    )
    frame = pd.DataFrame(
        {
            "row": list(rows),
            "text": list(texts),
            "prediction": [", ".join(p) or NO_LABEL for p in predicted],
            "predicted": predicted,
            "confidence": confidence(proba, predicted, labels),
        }
    )
    scores = pd.DataFrame(
        np.asarray(proba, dtype=np.float64), columns=[score_column(lab) for lab in labels]
    )
    return pd.concat([frame, scores], axis=1)


def filter_results(
    frame: pd.DataFrame,
    *,
    labels: Sequence[str] = (),
    min_confidence: float = 0.0,
    max_confidence: float = 1.0,
    query: str = "",
) -> pd.DataFrame:
    """Rows predicted as any of ``labels`` (:data:`NO_LABEL` matches an empty multi-label
    prediction; no labels: all), with confidence in ``[min, max]`` and ``query`` in the text
    (case-insensitive)."""
    keep = frame["confidence"].between(min_confidence, max_confidence)
    if labels:
        wanted = set(labels)
        keep &= frame["predicted"].map(
            lambda p: bool(wanted.intersection(p)) or (not p and NO_LABEL in wanted)
        )
    if query.strip():
        keep &= frame["text"].str.contains(query.strip(), case=False, regex=False, na=False)
    return frame[keep]


def _records(frame: pd.DataFrame, task: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The shown rows as prediction records (:mod:`textclf.inference.records`), and the labels."""
    labels = [c[len("score_") :] for c in frame.columns if c.startswith("score_")]
    space = LabelSpace(task, tuple(labels))  # type: ignore[arg-type]
    index = {label: j for j, label in enumerate(labels)}
    proba = frame[[f"score_{label}" for label in labels]].to_numpy(dtype=np.float64)
    decided: np.ndarray
    if space.multilabel:
        decided = np.zeros(proba.shape, dtype=np.int64)
        for i, predicted in enumerate(frame["predicted"]):
            decided[i, [index[label] for label in predicted]] = 1
    else:  # an empty prediction is an abstention (reject option): label null
        decided = np.array([index[p[0]] if p else -1 for p in frame["predicted"]], dtype=np.int64)
    records = prediction_records(
        proba, decided, space, texts=list(frame["text"]), rows=[int(r) for r in frame["row"]]
    )
    return records, labels


def _download(frame: pd.DataFrame, task: str, suffix: str) -> bytes:
    records, labels = _records(frame, task)
    out = io.StringIO()
    writer = PredictionWriter(out, suffix, labels)
    if not records:  # every row filtered out: the table still names predict's columns
        scores = {f"score_{label}": [0.0] for label in labels}
        example = pd.DataFrame({"row": [0], "text": [""], "predicted": [[]], **scores})
        writer.write_header(_records(example, task)[0][0])
    writer.write(records)
    return out.getvalue().encode("utf-8")


def results_csv(frame: pd.DataFrame, task: str) -> bytes:
    """The shown rows as CSV, the records of ``textclf predict --output x.csv``."""
    return _download(frame, task, ".csv")


def results_jsonl(frame: pd.DataFrame, task: str) -> bytes:
    """The shown rows as JSON Lines, the records of ``textclf predict``."""
    return _download(frame, task, ".jsonl")


@dataclass
class BatchRun:
    """One predicted batch file, kept in the session history.

    Attributes:
        name: The file name.
        column: The text column.
        task: The model's task.
        labels: The model's labels.
        proba: ``(n, k)`` probabilities, kept so thresholds can change without a model run.
        rows: Data row of each text in the file.
        texts: The texts.
        n_skipped: Rows skipped for an empty text.
        seconds: Prediction time.
        model_name: Display name of the model.
        model_fingerprint: Its fingerprint.
        at_least_one: The model's multi-label rule.
        created: ISO time (UTC).
        id: Unique id in the session.
    """

    name: str
    column: str
    task: str
    labels: list[str]
    proba: np.ndarray
    rows: list[int]
    texts: list[str]
    n_skipped: int
    seconds: float
    model_name: str
    model_fingerprint: str
    at_least_one: bool = False
    created: str = field(default_factory=_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def frame(self, thresholds: Sequence[float] | None) -> pd.DataFrame:
        """The results table under ``thresholds``."""
        return results_frame(
            self.rows,
            self.texts,
            self.proba,
            self.labels,
            self.task,
            thresholds=thresholds,
            at_least_one=self.at_least_one,
        )

    def prediction(self, index: int, thresholds: Sequence[float] | None) -> Prediction:
        """Row ``index`` of the results as a :class:`Prediction` (for feedback)."""
        prediction = Prediction(
            text=self.texts[index],
            task=self.task,
            labels=list(self.labels),
            scores=[float(x) for x in self.proba[index]],
            predicted=[],  # decided below, by the rule a history entry re-decides with
            thresholds=None if thresholds is None else list(thresholds),
            at_least_one=self.at_least_one,
            latency_ms=self.seconds * 1000 / max(1, len(self.texts)),
            model_name=self.model_name,
            model_fingerprint=self.model_fingerprint,
            source=self.name,
            row=self.rows[index],
            created=self.created,
            id=f"{self.id}-{self.rows[index]}",
        )
        prediction.predicted = prediction.redecide(thresholds)
        return prediction
