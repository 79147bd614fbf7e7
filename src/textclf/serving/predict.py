"""What a predict request does around the model, for the REST server and the Ray deployment.

Before: the count limit (413) and the character cap (truncation). After: the model's own
decision rule — its saved temperature, then softmax, or independent sigmoids for a
multi-label model (where TEI's ``/predict`` applies softmax, ``core/src/infer.rs``), then
its saved threshold(s) or the request's override — and the prediction records of
:mod:`textclf.inference.records`.

The scores are computed once per micro-batch (:func:`batch_scores`, in the model's thread):
the temperature does not depend on the request, and one softmax over a batch costs what
one over a single row does. :func:`respond` then applies each request's own thresholds.

Example:
    >>> import numpy as np
    >>> from textclf.persistence import ModelInfo
    >>> info = ModelInfo(task="multilabel", labels=["a", "b"])
    >>> req = PredictRequest(text="x")
    >>> body = respond(batch_scores(info, np.array([[2.0, 1.0]])), req, info, model="sha256:0")
    >>> body["predictions"][0]["labels"]
    ['a', 'b']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from textclf.inference.records import prediction_records
from textclf.persistence import ModelInfo
from textclf.serving.schemas import PredictRequest


class TooManyTextsError(Exception):
    """More texts in one request than the server takes (HTTP 413)."""


@dataclass(frozen=True)
class PreparedTexts:
    """A request's texts, cut to the character limit.

    Attributes:
        texts: The texts the model sees.
        truncated: Rows that were cut.
    """

    texts: list[str]
    truncated: list[int]


def prepare_texts(request: PredictRequest, *, max_texts: int, max_chars: int) -> PreparedTexts:
    """Check the count and cut each text to ``max_chars`` characters.

    Raises:
        TooManyTextsError: for more than ``max_texts`` texts.
    """
    texts = request.all_texts()
    if len(texts) > max_texts:
        raise TooManyTextsError(
            f"The request has {len(texts)} texts; this server takes at most {max_texts} per "
            "request, so split it."
        )
    truncated = [i for i, t in enumerate(texts) if len(t) > max_chars]
    for i in truncated:
        texts[i] = texts[i][:max_chars]
    return PreparedTexts(texts, truncated)


def batch_scores(info: ModelInfo, logits: np.ndarray) -> np.ndarray:
    """``(n, k)`` scores of a batch under the model's temperature (softmax, or sigmoids for
    multi-label): what :func:`respond` takes."""
    return info.rule.probabilities(np.asarray(logits, dtype=np.float64))


def respond(
    scores: np.ndarray,
    request: PredictRequest,
    info: ModelInfo,
    *,
    model: str,
    texts: list[str] | None = None,
    truncated: list[int] | None = None,
) -> dict[str, Any]:
    """The response body for ``scores`` (``(n, k)``, the request's rows in order).

    Args:
        scores: The request's rows of :func:`batch_scores`.
        request: The request (threshold override, top_k, ids, return_text).
        info: The model's info: labels and decision rule.
        model: The model fingerprint named in the response.
        texts: The texts as the model saw them (echoed with ``return_text``).
        truncated: Rows that were cut to the character limit.
    """
    rule = info.rule.with_threshold(request.threshold)
    proba = np.asarray(scores, dtype=np.float64)
    decided = rule.decide(proba)
    records = prediction_records(
        proba,
        decided,
        info.space,
        texts=(texts if texts is not None else request.all_texts())
        if request.return_text
        else None,
        ids=request.ids,
        top_k=request.top_k,
    )
    body: dict[str, Any] = {"model": model, "task": info.task, "predictions": records}
    if truncated:
        body["truncated"] = truncated
    return body
