"""Token attributions: IG completeness, word merging, offsets, default labels, rollout, HTML."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from textclf.diagnostics.attributions import (
    METHODS,
    TokenAttribution,
    _group_words,
    attention_rollout,
    eager_attention,
    explain,
    explain_many,
    highlight_html,
)
from textclf.errors import ConfigError
from textclf.inference.pipeline import Predictor


@pytest.fixture(scope="module")
def multiclass(trained_run) -> Predictor:
    return Predictor.from_folder(trained_run("multiclass"), device="cpu")


@pytest.fixture(scope="module")
def multilabel(trained_run) -> Predictor:
    return Predictor.from_folder(trained_run("multilabel"), device="cpu")


def _proba(predictor: Predictor, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        logits = predictor.model(input_ids=ids, attention_mask=mask).logits
    z = logits.double() / predictor.info.temperature
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
    # Known answer on the grouping itself.
    special = np.array([1, 0, 0, 0, 0, 1], dtype=bool)
    pieces = ["[CLS]", "play", "##ing", "##s", "fast", "[SEP]"]
    word_ids: list[int | None] = [None, 0, 0, 0, 1, None]
    offsets = [(0, 0), (0, 4), (4, 7), (7, 8), (9, 13), (0, 0)]
    assert _group_words(pieces, special, word_ids, offsets) == [[1, 2, 3], [4]]
    # Without word ids (slow tokenizers), "##" continuations still merge.
    assert _group_words(pieces, special, [None] * 6, offsets) == [[1, 2, 3], [4]]


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
    saved = info.thresholds
    info.thresholds = [1.1] * len(info.labels)  # nothing can pass
    try:
        [attr] = explain(multilabel, text, n_steps=4)
    finally:
        info.thresholds = saved
    top = info.labels[int(np.argmax(multilabel.predict_proba([text])[0]))]
    assert attr.label == top


def test_attention_rollout_known_answers():
    seq = 4
    eye = np.broadcast_to(np.eye(seq), (2, seq, seq))
    np.testing.assert_allclose(attention_rollout([eye, eye, eye]), np.eye(seq))
    uniform = np.full((3, seq, seq), 1 / seq)
    one = attention_rollout([uniform])
    np.testing.assert_allclose(one, 0.5 * np.eye(seq) + 0.5 / seq)
    rng = np.random.default_rng(0)
    layers = []
    for _ in range(3):
        a = rng.random((2, seq, seq))
        layers.append(a / a.sum(-1, keepdims=True))
    rollout = attention_rollout(layers)
    np.testing.assert_allclose(rollout.sum(axis=1), 1.0)  # rows stay distributions
    # Layers multiply first-to-last: R = Â3 Â2 Â1.
    hat = [(a.mean(0) + np.eye(seq)) / 2 for a in layers]
    np.testing.assert_allclose(rollout, hat[2] @ hat[1] @ hat[0])
    with pytest.raises(ValueError):
        attention_rollout([])


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


def _attribution(text: str, **kw) -> TokenAttribution:
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    n = len(spans)
    raw = np.linspace(-0.2, 0.4, n)
    defaults = dict(
        text=text,
        tokens=[text[s:e].lower() for s, e in spans],
        offsets=spans,
        scores=raw / np.abs(raw).max(),
        raw_scores=raw,
        label="pos <1>",
        probability=0.875,
        method="integrated_gradients",
        convergence_delta=1e-4,
    )
    defaults.update(kw)
    return TokenAttribution(**defaults)


def test_top_tokens_by_sign():
    attr = _attribution("a b c d e")  # scores -0.5, -0.125, 0.25, 0.625, 1.0
    assert [t for t, _ in attr.top_tokens(2)] == ["e", "d"]
    assert [t for t, _ in attr.top_tokens(5, sign="negative")] == ["a", "b"]
    assert [t for t, _ in attr.top_tokens(3, sign="abs")] == ["e", "d", "a"]
    assert attr.top_tokens(0) == []
    with pytest.raises(ConfigError):
        attr.top_tokens(2, sign="up")  # type: ignore[arg-type]


def test_to_dict_is_json_safe():
    attr = _attribution("x y")
    data = json.loads(json.dumps(attr.to_dict()))
    assert data["offsets"] == [[0, 1], [2, 3]]
    assert data["scores"] == pytest.approx(list(attr.scores))
    assert data["label"] == "pos <1>" and data["convergence_delta"] == pytest.approx(1e-4)


def test_highlight_html_escapes_and_is_self_contained():
    text = 'ok <script>alert("x")</script> & fine'
    attr = _attribution(text)
    out = highlight_html(attr, title="Example <1>")
    assert "<script" not in out and "&lt;script&gt;" in out
    assert "http" not in out and "url(" not in out
    assert "Example &lt;1&gt;" in out and "pos &lt;1&gt;" in out and "0.875" in out
    # Stripping the tags gives back exactly the original text.
    import html as html_mod

    body = re.search(r'white-space:pre-wrap;[^"]*">(.*?)</div>', out, re.S)
    assert body is not None
    assert html_mod.unescape(re.sub(r"<[^>]+>", "", body.group(1))) == text
    # Every token is a span with a tooltip and an explicit text colour.
    spans = re.findall(r'<span title="([^"]*)" style="([^"]*)"', out)
    assert len(spans) == len(attr.tokens)
    assert all("color:" in style and "background:rgba(" in style for _, style in spans)
    # Positive and negative scores get different hues; strength follows |score|.
    hues = {re.search(r"rgba\((\d+, \d+, \d+)", s).group(1) for _, s in spans}  # type: ignore[union-attr]
    assert len(hues) == 2
    alphas = [float(re.search(r"rgba\([^)]*, ([\d.]+)\)", s).group(1)) for _, s in spans]  # type: ignore[union-attr]
    assert alphas[-1] == max(alphas) and alphas[-1] > 0.5


def test_highlight_html_for_rollout_has_no_label():
    attr = _attribution("a b", label="", method="attention_rollout", convergence_delta=None)
    out = highlight_html(attr)
    assert "Attention rollout" in out and "label-agnostic" in out


def test_byte_level_bpe_tokenizer_gives_clean_words():
    """RoBERTa-style tokenizers: no "Ġ" markers in tokens, no spaces in spans."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    from textclf.persistence import ModelInfo

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(["hello world, this is a test of byte level bpe"] * 5, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", cls_token="<s>", sep_token="</s>",
    )  # fmt: skip
    config = RobertaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=40, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = RobertaForSequenceClassification(config)
    predictor = Predictor(
        model, fast, ModelInfo(task="binary", labels=["a", "b"], max_length=32), device="cpu"
    )
    text = "Hello  worldly tests, unseen!"
    assert "Ġ" in "".join(fast.tokenize(text))  # the premise: pieces carry space markers
    for attr in explain(predictor, text, methods=METHODS, n_steps=8):
        assert attr.tokens == ["Hello", "worldly", "tests", ",", "unseen", "!"]
        assert [text[s:e] for s, e in attr.offsets] == attr.tokens
