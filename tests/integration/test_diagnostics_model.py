"""Diagnostics that need a trained model: token attributions and sentence embeddings.

Each uses the ``trained_run`` fixture (a tiny model trained on the fixture data, once per
task per session), so these are whole-pipeline tests; the parts that need no training are
in tests/unit/diagnostics/.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textclf.diagnostics.attributions import (
    METHODS,
    eager_attention,
    explain,
    explain_many,
    highlight_html,
)
from textclf.diagnostics.embeddings import sentence_embeddings
from textclf.errors import ConfigError
from textclf.inference.pipeline import Predictor

pytestmark = pytest.mark.slow


# --- token attributions -----------------------------------------------------------------


@pytest.fixture(scope="module")
def multiclass(trained_run) -> Predictor:
    return Predictor.from_folder(trained_run("multiclass"), device="cpu")


@pytest.fixture(scope="module")
def multilabel(trained_run) -> Predictor:
    return Predictor.from_folder(trained_run("multilabel"), device="cpu")


def _proba(predictor: Predictor, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        logits = predictor.model(input_ids=ids, attention_mask=mask).logits
    z = logits.double() / predictor.info.rule.temperature
    p = torch.sigmoid(z) if predictor.space.multilabel else torch.softmax(z, dim=-1)
    return p[0].numpy()


def test_integrated_gradients_completeness(multiclass: Predictor):
    text = "apple and banana with grape number 3"
    [attr] = explain(multiclass, text, n_steps=50)
    enc = multiclass.tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    special = enc["special_tokens_mask"].bool()
    baseline = torch.where(special, ids, torch.full_like(ids, multiclass.tokenizer.pad_token_id))
    j = multiclass.info.labels.index(attr.label)
    p_x, p_base = _proba(multiclass, ids, mask)[j], _proba(multiclass, baseline, mask)[j]
    assert attr.probability == pytest.approx(p_x, abs=1e-6)
    assert attr.convergence_delta is not None
    # captum's delta is exactly the completeness gap of the raw scores...
    gap = attr.raw_scores.sum() - (p_x - p_base)
    facts = f"p(x)={p_x:.6f} p(baseline)={p_base:.6f} Σraw={attr.raw_scores.sum():.6f}"
    assert gap == pytest.approx(attr.convergence_delta, abs=1e-5), facts
    # ...and 50 Gauss-Legendre steps make it small against the probability change (the tiny
    # fixture model, trained at a high learning rate, is far less smooth than a real encoder:
    # MiniLM's delta is ~1e-5 of the change, see bench/attribution_speed.py).
    assert abs(attr.convergence_delta) < 0.1 * max(abs(p_x - p_base), 1e-3), facts
    assert np.max(np.abs(attr.scores)) == pytest.approx(1.0)
    np.testing.assert_allclose(attr.scores * np.max(np.abs(attr.raw_scores)), attr.raw_scores)


def test_offsets_point_at_the_tokens_in_the_original_text(multiclass: Predictor):
    text = "  Apple, and BANANA!\twith  (grape) Number 7 "
    [attr] = explain(multiclass, text, n_steps=8)
    assert len(attr.tokens) == len(attr.offsets) == len(attr.scores) == len(attr.raw_scores)
    assert attr.tokens == [
        "apple",
        ",",
        "and",
        "banana",
        "!",
        "with",
        "(",
        "grape",
        ")",
        "number",
        "7",
    ]
    for token, (start, end) in zip(attr.tokens, attr.offsets, strict=True):
        assert text[start:end].lower() == token
    starts = [s for s, _ in attr.offsets]
    assert starts == sorted(starts)


def test_wordpieces_are_merged_into_words_and_their_scores_summed(multiclass: Predictor):
    word = "avocadoes"
    pieces = multiclass.tokenizer.tokenize(word)
    assert len(pieces) > 1 and pieces[1].startswith("##"), pieces  # the premise of this test
    text = f"apple {word} basil"
    [attr] = explain(multiclass, text, n_steps=8)
    assert attr.tokens == ["apple", word, "basil"]
    assert text[slice(*attr.offsets[1])] == word
    # The merged score is the sum of its pieces: total attribution is unchanged by merging.
    assert attr.convergence_delta is not None


def test_merged_word_score_is_the_sum_of_its_piece_scores(multiclass: Predictor, monkeypatch):
    from textclf.diagnostics import attributions as mod

    captured: dict[str, np.ndarray] = {}
    original = mod._integrated_gradients

    def spy(*args, **kwargs):
        scores, deltas = original(*args, **kwargs)
        captured["tokens"] = scores
        return scores, deltas

    monkeypatch.setattr(mod, "_integrated_gradients", spy)
    [attr] = explain(multiclass, "apple avocadoes", n_steps=8)
    per_piece = captured["tokens"][0]  # [CLS] apple avoc ##ado ... [SEP]
    assert per_piece[0] == 0 and per_piece[-1] == 0  # special tokens equal the baseline
    assert attr.raw_scores[0] == pytest.approx(per_piece[1])
    assert attr.raw_scores[1] == pytest.approx(per_piece[2:-1].sum())


def test_default_label_is_the_predicted_one(multiclass: Predictor):
    texts = ["banana and blueberry with basil number 2", "grape with garlic and guava"]
    for text, predicted in zip(texts, multiclass.predict(texts), strict=True):
        [attr] = explain(multiclass, text, n_steps=4)
        assert attr.label == predicted
        j = multiclass.info.labels.index(predicted)
        assert attr.probability == pytest.approx(multiclass.predict_proba([text])[0, j], abs=1e-5)
    [attr] = explain(multiclass, texts[0], labels=[], n_steps=4)
    assert attr.label == multiclass.predict([texts[0]])[0]
    # An explicit label is explained even when it is not the prediction.
    others = [lab for lab in multiclass.info.labels if lab != multiclass.predict([texts[0]])[0]]
    attrs = explain(multiclass, texts[0], labels=others, n_steps=4)
    assert [a.label for a in attrs] == others


def test_multilabel_explains_each_predicted_label(multilabel: Predictor):
    text = "apple and apricot with avocado number 1 banana"
    predicted = multilabel.predict([text])[0]
    attrs = explain(multilabel, text, n_steps=8)
    expected = predicted or [
        multilabel.info.labels[int(np.argmax(multilabel.predict_proba([text])[0]))]
    ]
    assert [a.label for a in attrs] == expected
    # Every label on request, each with its own (sigmoid) probability.
    proba = multilabel.predict_proba([text])[0]
    both = explain(multilabel, text, labels=list(multilabel.info.labels), n_steps=8)
    assert [a.label for a in both] == list(multilabel.info.labels)
    for a, p in zip(both, proba, strict=True):
        assert a.probability == pytest.approx(p, abs=1e-5)
        assert a.convergence_delta is not None


def test_multilabel_with_nothing_above_threshold_explains_the_top_label(multilabel: Predictor):
    text = "the quick brown fox"
    info = multilabel.info
    saved = info.rule.thresholds
    info.rule.thresholds = [1.1] * len(info.labels)  # nothing can pass
    try:
        [attr] = explain(multilabel, text, n_steps=4)
    finally:
        info.rule.thresholds = saved
    top = info.labels[int(np.argmax(multilabel.predict_proba([text])[0]))]
    assert attr.label == top


def test_attention_rollout_end_to_end(multiclass: Predictor):
    text = "guava and ginger with garlic"
    ig, rollout = explain(multiclass, text, methods=METHODS, n_steps=4)
    assert ig.method == "integrated_gradients" and rollout.method == "attention_rollout"
    assert rollout.label == "" and rollout.convergence_delta is None
    assert rollout.tokens == ig.tokens
    assert (rollout.raw_scores > 0).all()
    # The [CLS] row sums to 1 over all tokens; [CLS] and [SEP] keep some of it.
    assert 0 < rollout.raw_scores.sum() < 1
    assert rollout.scores.max() == pytest.approx(1.0)
    assert rollout.probability == pytest.approx(multiclass.predict_proba([text])[0].max(), abs=1e-5)


def test_explain_leaves_the_model_as_it_was(multiclass: Predictor):
    model = multiclass.model
    texts = ["apple and banana", "grape with garlic number 5"]
    before = multiclass.logits(texts)
    impl = model.config._attn_implementation
    requires = [p.requires_grad for p in model.parameters()]
    explain(multiclass, texts[0], methods=METHODS, n_steps=4)
    np.testing.assert_array_equal(multiclass.logits(texts), before)
    assert model.config._attn_implementation == impl != "eager"
    assert not model.training
    assert [p.requires_grad for p in model.parameters()] == requires
    assert all(p.grad is None for p in model.parameters())


def test_eager_attention_is_restored_after_an_error(multiclass: Predictor):
    model = multiclass.model
    impl = model.config._attn_implementation
    assert impl != "eager"  # the fast default (SDPA), as loaded
    with pytest.raises(RuntimeError), eager_attention(model):
        assert model.config._attn_implementation == "eager"
        raise RuntimeError("boom")
    assert model.config._attn_implementation == impl


def test_explain_works_inside_inference_mode(multiclass: Predictor):
    with torch.inference_mode():
        [attr] = explain(multiclass, "apple and apricot", n_steps=4)
    assert np.abs(attr.raw_scores).sum() > 0


def test_long_text_is_truncated_and_flagged(multiclass: Predictor):
    max_length = multiclass.info.max_length
    words = [f"apple{i % 3}" if i % 2 else "banana" for i in range(3 * max_length)]
    text = " ".join(words)
    ig, rollout = explain(multiclass, text, methods=METHODS, n_steps=4)
    assert ig.truncated and rollout.truncated
    assert ig.offsets[-1][1] < len(text) // 2
    [short] = explain(multiclass, "apple and banana", n_steps=4)
    assert not short.truncated
    html = highlight_html(ig)
    assert "not scored" in html


def test_empty_text_gives_an_empty_attribution(multiclass: Predictor):
    attrs = explain(multiclass, "", methods=METHODS, n_steps=4)
    assert [len(a.tokens) for a in attrs] == [0, 0]
    assert attrs[0].convergence_delta == 0.0
    assert highlight_html(attrs[0]).startswith("<div")


def test_bad_arguments_raise_config_errors(multiclass: Predictor):
    with pytest.raises(ConfigError, match="'zeta'"):
        explain(multiclass, "apple", labels=["zeta"])
    with pytest.raises(ConfigError, match="lime"):
        explain(multiclass, "apple", methods=["lime"])
    with pytest.raises(ConfigError, match="one per text"):
        explain_many(multiclass, ["a", "b"], labels=[None])


def test_explain_many_keeps_order_and_per_text_labels(multiclass: Predictor):
    texts = ["apple and apricot", "banana with basil", "grape and guava"]
    labels = [None, ["alpha"], None]
    out = explain_many(multiclass, texts, labels=labels, n_steps=4)
    assert [a[0].text for a in out] == texts
    assert out[1][0].label == "alpha"
    assert out[0][0].label == multiclass.predict([texts[0]])[0]


# --- sentence embeddings -----------------------------------------------------------------


@pytest.fixture(scope="module")
def predictor(trained_run) -> Predictor:
    return Predictor.from_folder(trained_run("multiclass"), device="cpu")


TEXTS = [
    "apple",
    "banana and blueberry with basil number 4 and more banana words here",
    "grape with garlic",
    "apple and apricot with avocado number 1",
    "guava",
]


def test_embeddings_shape_and_input_order(predictor: Predictor):
    emb = sentence_embeddings(predictor, TEXTS, batch_size=2, fast=False)
    hidden = predictor.model.config.hidden_size
    assert emb.shape == (len(TEXTS), hidden) and emb.dtype == np.float32
    # Length-sorted batches must come back in input order: compare with one text at a time.
    single = np.vstack([sentence_embeddings(predictor, [t], fast=False) for t in TEXTS])
    np.testing.assert_allclose(emb, single, atol=1e-5)
    assert len({tuple(row.round(4)) for row in emb}) == len(TEXTS)
    assert sentence_embeddings(predictor, []).shape == (0, hidden)


def test_embeddings_are_the_masked_mean_of_the_last_hidden_state(predictor: Predictor):
    text = TEXTS[1]
    enc = predictor.tokenizer([text], return_tensors="pt")
    with torch.inference_mode():
        states = predictor.model.base_model(**enc).last_hidden_state[0].numpy()
    expected = states.mean(axis=0)  # one unpadded text: every token counts
    # Batched with a shorter text, padding must not leak into the mean.
    emb = sentence_embeddings(predictor, [text, "apple"], batch_size=2, fast=False)
    np.testing.assert_allclose(emb[0], expected, atol=1e-5)
    assert not predictor.model.training
