"""The predict step shared by the REST server and Ray: limits, truncation, the rule, records."""

from __future__ import annotations

import numpy as np
import pytest

from textclf.evaluation.decision import DecisionRule
from textclf.persistence import ModelInfo
from textclf.serving.predict import TooManyTextsError, batch_scores, prepare_texts, respond
from textclf.serving.schemas import PredictRequest, validation_message


def test_prepare_counts_and_cuts():
    request = PredictRequest(texts=["abc", "abcdefgh", "ab"])
    prepared = prepare_texts(request, max_texts=3, max_chars=4)
    assert prepared.texts == ["abc", "abcd", "ab"]
    assert prepared.truncated == [1]
    with pytest.raises(TooManyTextsError, match="3 texts; this server takes at most 2"):
        prepare_texts(request, max_texts=2, max_chars=4)


def test_respond_applies_temperature_then_per_label_sigmoid_thresholds():
    rule = DecisionRule(task="multilabel", temperature=2.0, thresholds=[0.6, 0.2])
    info = ModelInfo(task="multilabel", labels=["a", "b"], rule=rule)
    scores = batch_scores(info, np.array([[1.0, -1.0]]))
    body = respond(scores, PredictRequest(text="t"), info, model="m")
    (record,) = body["predictions"]
    # sigmoid(0.5) = 0.6225 >= 0.6; sigmoid(-0.5) = 0.3775 >= 0.2.
    assert record["scores"] == pytest.approx({"a": 0.622459, "b": 0.377541})
    assert record["labels"] == ["a", "b"]
    assert "truncated" not in body


def test_respond_binary_threshold_override_and_echo():
    info = ModelInfo(task="binary", labels=["neg", "pos"])
    request = PredictRequest(texts=["x", "y"], threshold=0.9, return_text=True, ids=[1, 2])
    scores = batch_scores(info, np.array([[0.0, 1.0], [0.0, 5.0]]))
    body = respond(scores, request, info, model="m", truncated=[0])
    assert [r["label"] for r in body["predictions"]] == ["neg", "pos"]
    assert [r["text"] for r in body["predictions"]] == ["x", "y"]
    assert [r["id"] for r in body["predictions"]] == [1, 2]
    assert body["truncated"] == [0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "a", "threshold": float("nan")}, "Field 'threshold': input should be a finite"),
        ({"text": "a", "top_k": "2"}, "Field 'top_k': input should be a valid integer"),
        ({"text": "a", "return_text": "yes"}, "Field 'return_text': input should be a valid bool"),
    ],
)
def test_a_setting_of_the_wrong_kind_is_named_not_coerced(body: dict, message: str):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        PredictRequest(**body)
    errors = [{**e, "loc": ("body", *e["loc"])} for e in err.value.errors()]
    assert validation_message(errors).startswith(message)


def test_validation_message_known_answers():
    assert validation_message([]) == "The request is not valid."
    assert (
        validation_message(
            [
                {
                    "loc": ("body", "texts", 0),
                    "msg": "Input should be a valid string",
                    "type": "string_type",
                },
                {
                    "loc": ("body", "texts", 1),
                    "msg": "Input should be a valid string",
                    "type": "string_type",
                },
                {
                    "loc": ("body", "texts", 2),
                    "msg": "Input should be a valid string",
                    "type": "string_type",
                },
            ]
        )
        == "Field 'texts[0]': input should be a valid string (2 more problems)."
    )
    assert (
        validation_message(
            [{"loc": ("body", 9), "msg": "JSON decode error", "type": "json_invalid"}]
        )
        == "The request body is not valid JSON."
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_the_openapi_record_is_the_shared_prediction_record(task: str):
    """The server documents the record predict, the app and eval/predictions.jsonl write."""
    from textclf.data.labels import LabelSpace
    from textclf.inference.records import prediction_records
    from textclf.serving.schemas import PredictionRecord

    labels = ("a", "b") if task == "binary" else ("a", "b", "c")
    space = LabelSpace(task, labels)  # type: ignore[arg-type]
    proba = np.full((1, len(labels)), 1 / len(labels))
    decided = np.ones((1, len(labels)), int) if task == "multilabel" else np.array([0])
    (record,) = prediction_records(proba, decided, space, texts=["t"], ids=["x-1"], top_k=2)
    assert set(record) <= set(PredictionRecord.model_fields)
    assert PredictionRecord.model_validate(record).model_dump(exclude_none=True) == record
