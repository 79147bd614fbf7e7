"""Request and response bodies of the REST API, and one-sentence validation messages.

The response items are the prediction records of :mod:`textclf.inference.records` (the
one record schema of ``predict``, the app and the server); :class:`PredictionRecord`
only describes them for the OpenAPI document. Errors have TEI's shape,
``{"error": "...", "error_type": "..."}``, plus the request id.

Example:
    >>> PredictRequest.model_validate({"text": "my card is lost"}).all_texts()
    ['my card is lost']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)


class PredictRequest(BaseModel):
    """``POST /v1/predict``: one text or a list, with optional per-request settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"texts": ["my card has not arrived", "how do I top up?"], "top_k": 3},
                {"text": "I was charged twice", "threshold": 0.4},
            ]
        },
    )

    text: StrictStr | None = Field(default=None, description="One text (or give 'texts').")
    texts: list[StrictStr] | None = Field(
        default=None, description="Several texts, answered in the same order.", min_length=1
    )
    ids: list[StrictStr | StrictInt] | None = Field(
        default=None, description="One id per text, copied into its record as 'id'."
    )
    # Strict: "2" or "true" as a string is a client bug, named rather than guessed at.
    top_k: StrictInt | None = Field(
        default=None, ge=1, description="Also list the K best labels with their scores."
    )
    threshold: float | None = Field(
        default=None,
        allow_inf_nan=False,
        ge=0.0,
        le=1.0,
        description="Override the saved rule: the positive label's threshold (binary), every "
        "label's (multi-label), or the top probability below which a multi-class model "
        "abstains (label null).",
    )
    return_text: StrictBool = Field(default=False, description="Echo each text in its record.")

    @model_validator(mode="after")
    def _one_source(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either 'text' or 'texts'")
        n = 1 if self.texts is None else len(self.texts)
        # As a file's empty rows are skipped rather than given a label: nothing to classify.
        blank = [i for i, t in enumerate(self.all_texts()) if not t.strip()]
        if blank:
            where = "'text'" if self.texts is None else f"texts[{blank[0]}]"
            more = f" (and {len(blank) - 1} more)" if len(blank) > 1 else ""
            raise ValueError(
                f"the text in {where}{more} is empty or only whitespace; send text to classify"
            )
        if self.ids is not None and len(self.ids) != n:
            raise ValueError(f"'ids' has {len(self.ids)} values for {n} texts")
        return self

    def all_texts(self) -> list[str]:
        """The texts of the request, as a list."""
        return list(self.texts) if self.texts is not None else [self.text or ""]


class TopK(BaseModel):
    label: str
    score: float


class PredictionRecord(BaseModel):
    """One text's prediction (the schema of :func:`textclf.inference.records.prediction_records`)."""

    row: int = Field(description="Position of the text in the request.")
    id: str | int | None = Field(default=None, description="The text's id, when 'ids' was given.")
    text: str | None = Field(default=None, description="The text, when 'return_text' was set.")
    label: str | None = Field(
        default=None, description="Single-label: the label, or null when the model abstains."
    )
    labels: list[str] | None = Field(
        default=None, description="Multi-label: every label whose score reaches its threshold."
    )
    scores: dict[str, float] = Field(
        description="Every label's probability after the saved temperature: softmax for "
        "single-label, independent sigmoids for multi-label (they need not sum to 1)."
    )
    top_k: list[TopK] | None = None


class PredictResponse(BaseModel):
    model: str = Field(description="Fingerprint of the model that answered.")
    task: str
    predictions: list[PredictionRecord]
    truncated: list[int] | None = Field(
        default=None, description="Rows whose text was cut to the character limit, if any."
    )


class ErrorResponse(BaseModel):
    error: str = Field(description="One sentence saying what is wrong.")
    error_type: str = Field(
        description="validation, payload_too_large, overloaded, unauthorized, unavailable, "
        "not_found, backend."
    )
    request_id: str | None = None


def _where(loc: Sequence[Any]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence for pydantic/FastAPI validation errors (the first one, and how many more).

    Example:
        >>> validation_message([{"loc": ("body", "texts", 2), "msg": "Input should be a valid string",
        ...                      "type": "string_type"}])
        "Field 'texts[2]': input should be a valid string."
    """
    if not errors:
        return "The request is not valid."
    first = errors[0]
    kind = str(first.get("type", ""))
    msg = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    where = _where(first.get("loc") or ())
    if kind == "json_invalid":
        sentence = "The request body is not valid JSON"
    elif kind == "missing" and not where:
        sentence = "The request needs a JSON body with 'text' or 'texts'"
    elif kind in ("model_attributes_type", "model_type") or (kind == "dict_type" and not where):
        sentence = "The request body must be a JSON object with 'text' or 'texts'"
    elif kind == "extra_forbidden":
        sentence = f"Unknown field '{where}'; the fields are text, texts, ids, top_k, threshold and return_text"
    elif where:
        sentence = f"Field '{where}': {msg[:1].lower()}{msg[1:]}"
    else:
        sentence = msg[:1].upper() + msg[1:]
    more = len(errors) - 1
    if more:
        sentence += f" ({more} more problem{'s' if more > 1 else ''})"
    return sentence.rstrip(".") + "."
