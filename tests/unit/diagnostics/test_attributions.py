"""Token attributions without a trained model: rollout and word grouping known answers,
ranking, JSON, HTML, and a byte-level BPE tokenizer on an untrained model.

The tests that explain a trained model are in tests/integration/test_diagnostics_model.py.
"""

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
    explain,
    highlight_html,
)
from textclf.errors import ConfigError
from textclf.inference.pipeline import Predictor


def test_word_pieces_are_grouped_into_words():
    special = np.array([1, 0, 0, 0, 0, 1], dtype=bool)
    pieces = ["[CLS]", "play", "##ing", "##s", "fast", "[SEP]"]
    word_ids: list[int | None] = [None, 0, 0, 0, 1, None]
    offsets = [(0, 0), (0, 4), (4, 7), (7, 8), (9, 13), (0, 0)]
    assert _group_words(pieces, special, word_ids, offsets) == [[1, 2, 3], [4]]
    # Without word ids (slow tokenizers), "##" continuations still merge.
    assert _group_words(pieces, special, [None] * 6, offsets) == [[1, 2, 3], [4]]


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


@pytest.mark.parametrize(
    ("delta", "flagged"), [(1e-4, False), (-0.049, False), (0.21, True), (-0.3, True)]
)
def test_an_ig_completeness_error_above_the_tolerance_is_flagged(delta: float, flagged: bool):
    attr = _attribution("a b", convergence_delta=delta)
    assert attr.approximate is flagged
    assert ("approximate, use more steps" in highlight_html(attr)) is flagged
    note = attr.accuracy_note("--steps (now 32)")
    assert (note is not None) is flagged
    if flagged:
        assert f"{delta:.2g}" in note and note.endswith("raise --steps (now 32).")
    rollout = _attribution("a b", label="", method="attention_rollout", convergence_delta=None)
    assert not rollout.approximate


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
