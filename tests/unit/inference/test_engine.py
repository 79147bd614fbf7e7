"""The inference engine against a naive per-text reference: same logits, same order, every text once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textclf.inference.engine import Encoded, TextEncoder, pad_batch, plan_batches, position_limit
from textclf.inference.pipeline import Predictor, mean_pooled_embeddings
from textclf.persistence import ModelInfo

TEXTS = [
    "apple and apricot with avocado number 1",
    "banana",
    "grape guava ginger garlic " * 40,  # longer than max_length: truncated
    "the quick brown fox",
    "unknown words appear here and there, again and again",
    "x",
    "number and with " * 7,
    "basil barley blueberry",
]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return model, tokenizer


def _info(max_length: int = 48) -> ModelInfo:
    return ModelInfo(task="binary", labels=["neg", "pos"], max_length=max_length)


def _reference(model, tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    """One text at a time, no padding: what the engine must reproduce."""
    rows = []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            rows.append(model(**enc).logits[0].numpy())
    return np.stack(rows)


def test_engine_equals_the_per_text_reference(loaded):
    model, tokenizer = loaded
    predictor = Predictor(model, tokenizer, _info(), device="cpu")
    got = predictor.logits(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(got, _reference(model, tokenizer, TEXTS, 48), atol=1e-5)


def test_results_keep_input_order_across_chunks_and_small_budgets(loaded):
    model, tokenizer = loaded
    texts = [f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(50)]
    whole = Predictor(model, tokenizer, _info(), device="cpu").logits(texts)
    small = Predictor(model, tokenizer, _info(), device="cpu", max_batch_tokens=40, batch_size=3)
    engine = small.engine()
    engine.chunk_texts = 7  # several chunks, tokenised on the worker thread
    np.testing.assert_allclose(small.logits(texts), whole, atol=1e-5)
    np.testing.assert_allclose(small.logits(texts[::-1])[::-1], whole, atol=1e-5)
    assert small.logits([]).shape == (0, 2)


def test_max_length_beyond_the_position_embeddings_is_capped(loaded):
    model, tokenizer = loaded
    limit = model.config.max_position_embeddings  # 128 in the fixture
    predictor = Predictor(model, tokenizer, _info(max_length=1024), device="cpu")
    long_text = "apple banana grape " * 200
    got = predictor.logits([long_text, "banana"])  # no "size of tensor a must match" crash
    np.testing.assert_allclose(
        got, _reference(model, tokenizer, [long_text, "banana"], limit), atol=1e-5
    )


def test_position_limit_leaves_room_for_roberta_offsets():
    assert position_limit({"max_position_embeddings": 512, "model_type": "bert"}) == 512
    roberta = {"max_position_embeddings": 514, "model_type": "roberta", "pad_token_id": 1}
    assert position_limit(roberta) == 512
    assert position_limit({}) is None


def test_encoder_gives_the_transformers_tokenizer_ids(loaded):
    _, tokenizer = loaded
    encoder = TextEncoder.from_hf(tokenizer, max_length=12, type_ids=True)
    assert encoder is not None
    enc = encoder.encode(TEXTS)
    ref = tokenizer(TEXTS, truncation=True, max_length=12)
    for i, ids in enumerate(ref["input_ids"]):
        got = enc.ids[enc.starts[i] : enc.starts[i] + enc.lengths[i]]
        assert got.tolist() == ids
        assert enc.type_ids is not None
        types = enc.type_ids[enc.starts[i] : enc.starts[i] + enc.lengths[i]]
        assert types.tolist() == ref["token_type_ids"][i]


def test_encoder_from_the_folder_matches_the_transformers_tokenizer(tiny_model_dir, loaded):
    _, tokenizer = loaded
    folder_enc = TextEncoder.from_folder(tiny_model_dir, max_length=16, type_ids=False)
    hf_enc = TextEncoder.from_hf(tokenizer, max_length=16, type_ids=False)
    assert hf_enc is not None
    a, b = folder_enc.encode(TEXTS), hf_enc.encode(TEXTS)
    assert a.ids.tolist() == b.ids.tolist() and a.lengths.tolist() == b.lengths.tolist()
    assert folder_enc.pad_id == tokenizer.pad_token_id


def test_pad_batch_matches_padding_by_hand():
    enc = Encoded.from_lists([[5, 6, 7], [8], [9, 10]], [[0, 0, 1], [0], [1, 1]])
    out = pad_batch(enc, np.array([2, 0, 1]), pad_id=0)
    assert out["input_ids"].tolist() == [[9, 10, 0], [5, 6, 7], [8, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1], [1, 0, 0]]
    assert out["token_type_ids"].tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert {k: v.dtype for k, v in out.items()} == dict.fromkeys(out, np.dtype(np.int64))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 300), min_size=0, max_size=200),
    max_tokens=st.integers(1, 5000),
    max_texts=st.one_of(st.none(), st.integers(1, 64)),
)
def test_token_budget_batches_cover_every_text_once(lengths, max_tokens, max_texts):
    arr = np.array(lengths, dtype=np.int64)
    batches = plan_batches(arr, max_tokens=max_tokens, max_texts=max_texts)
    seen = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) >= 1
        padded = len(b) * int(arr[b].max())
        assert padded <= max_tokens or len(b) == 1  # a text over budget goes alone
        assert max_texts is None or len(b) <= max_texts


def test_mean_pooled_embeddings_equal_the_per_text_mean(loaded):
    model, tokenizer = loaded
    got = mean_pooled_embeddings(model, tokenizer, TEXTS, max_length=20, batch_size=3)
    with torch.inference_mode():
        for i, text in enumerate(TEXTS):
            enc = tokenizer(text, truncation=True, max_length=20, return_tensors="pt")
            ref = model.base_model(**enc).last_hidden_state[0].mean(dim=0).numpy()
            np.testing.assert_allclose(got[i], ref, atol=1e-5)


def test_progress_bar_only_when_asked(loaded, capsys):
    model, tokenizer = loaded
    predictor = Predictor(model, tokenizer, _info(), device="cpu")
    predictor.logits(TEXTS)
    assert "Predicting" not in capsys.readouterr().err
    predictor.logits(TEXTS, progress=True)
    assert "Predicting" in capsys.readouterr().err


def test_no_progress_bar_when_the_first_chunk_cannot_be_read(loaded, capsys):
    from textclf.errors import DataError

    model, tokenizer = loaded
    engine = Predictor(model, tokenizer, _info(), device="cpu").engine()

    def chunks():
        raise DataError("input.csv line 2: expected 1 field, found 2")
        yield  # a generator that fails on its first item

    with pytest.raises(DataError, match="line 2"):
        list(engine.stream(chunks(), lambda c: c, progress=True))
    assert "Predicting" not in capsys.readouterr().err
    # a readable stream still shows it, over any number of chunks of unknown total
    # (a file of more than one chunk once crashed on the bar's truth value)
    parts = list(engine.stream(iter([TEXTS, TEXTS, TEXTS]), lambda c: c, progress=True))
    assert len(parts) == 3 and "Predicting" in capsys.readouterr().err


def test_fp32_on_cpu_and_an_unknown_precision_is_refused(loaded):
    model, tokenizer = loaded
    predictor = Predictor(model, tokenizer, _info(), device="cpu")
    predictor.logits(["x"])
    assert predictor.precision == "fp32" and predictor.backend == "torch"
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match="auto, fp32 or bf16"):
        Predictor(model, tokenizer, _info(), device="cpu", precision="fp8")


def test_bf16_runs_on_a_copy_and_stays_near_fp32(loaded):
    model, tokenizer = loaded
    fp32 = Predictor(model, tokenizer, _info(), device="cpu").logits(TEXTS)
    bf16 = Predictor(model, tokenizer, _info(), device="cpu", precision="bf16")
    np.testing.assert_allclose(bf16.logits(TEXTS), fp32, atol=0.05)
    assert bf16.precision == "bf16"
    assert next(bf16.model.parameters()).dtype == torch.float32  # gradients still possible


def test_auto_precision_is_timed_once_where_bf16_can_pay(loaded, monkeypatch):
    from textclf.inference import torch_backend

    model, tokenizer = loaded
    monkeypatch.setattr(torch_backend, "_timed", lambda device: True)  # as on a GPU
    monkeypatch.setattr(torch_backend, "_CHOSEN", {})
    predictor = Predictor(model, tokenizer, _info(), device="cpu", max_batch_tokens=256)
    got = predictor.logits(TEXTS)
    assert predictor.precision in ("fp32", "bf16")
    assert list(torch_backend._CHOSEN.values()) == [predictor.precision]
    reference = _reference(model, tokenizer, TEXTS, 48)
    np.testing.assert_allclose(got, reference, atol=1e-5 if predictor.precision == "fp32" else 0.05)


def test_a_batch_size_below_one_is_refused_not_planned_for_ever(loaded):
    from textclf.errors import ConfigError

    with pytest.raises(ValueError, match="max_texts=0"):
        plan_batches(np.array([3, 2, 1]), max_tokens=64, max_texts=0)
    model, tokenizer = loaded
    for bad in (0, -1):
        with pytest.raises(ConfigError, match=f"--batch-size {bad}: must be at least 1"):
            Predictor(model, tokenizer, _info(), device="cpu", batch_size=bad)
    with pytest.raises(ConfigError, match="--batch-size 0"):
        Predictor.from_folder("/nonexistent", batch_size=0)  # before the folder is read


def test_one_string_is_refused_not_read_as_characters(loaded):
    model, tokenizer = loaded
    predictor = Predictor(model, tokenizer, _info(), device="cpu")
    for call in (predictor.predict, predictor.predict_proba, predictor.logits):
        with pytest.raises(TypeError, match=r"got one string \('goal team'\); wrap it in a list"):
            call("goal team")
    assert len(predictor.predict(["goal team"])) == 1


def test_an_empty_or_non_string_text_is_refused_by_position(loaded):
    model, tokenizer = loaded
    predictor = Predictor(model, tokenizer, _info(), device="cpu")
    for call in (predictor.predict, predictor.predict_proba, predictor.logits):
        with pytest.raises(ValueError, match=r"text 1 \(and 1 more\) is empty or only whitespace"):
            call(["goal team", "  ", ""])
        with pytest.raises(TypeError, match=r"text 0 is a float \(nan\), not a string"):
            call([float("nan"), "goal team"])
    assert len(predictor.predict(np.array(["goal team", "bank"]))) == 2  # numpy str_ is a str
