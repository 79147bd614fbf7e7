"""The LP-FT warm start: the probe's features come from one pass over the training texts."""

from __future__ import annotations

import copy
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from textclf.data.labels import LabelSpace
from textclf.training import warm_start as ws


@pytest.fixture()
def tiny(tiny_model_dir: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=3, ignore_mismatched_sizes=True
    )
    texts = [f"apple banana {'cherry ' * (i % 5)}number {i}" for i in range(24)]
    enc = tokenizer(texts, truncation=True, max_length=32)
    rows = {
        **enc,
        "labels": [i % 3 for i in range(24)],
        "length": [len(ids) for ids in enc["input_ids"]],
    }
    return model, tokenizer, datasets.Dataset.from_dict(dict(rows))


KWARGS = {"head_init": "probe", "pooler_init": "identity", "reinit_layers": 0, "seed": 0}


def _count_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many texts each feature pass runs over."""
    passes: list[int] = []
    features = ws._features

    def counting(*args, **kwargs):
        passes.append(len(args[2]))
        return features(*args, **kwargs)

    monkeypatch.setattr(ws, "_features", counting)
    return passes


@pytest.mark.parametrize("bf16", [False, True])
def test_the_probe_reuses_the_pooler_pass_and_fits_the_same_head(
    tiny, monkeypatch: pytest.MonkeyPatch, bf16: bool
) -> None:
    model, tokenizer, data = tiny
    space = LabelSpace("multiclass", ("a", "b", "c"))
    slow_model = copy.deepcopy(model)
    passes = _count_passes(monkeypatch)
    ws.warm_start(model, tokenizer, space, data, bf16=bf16, **KWARGS)
    # One pass over all 24 texts for the pooler's input, and 8 texts to check the shortcut
    # (which bf16's rounding must not defeat).
    assert passes == [24, 8]
    if bf16:
        # The tiny random model's features barely vary, so bf16's rounding moves the probe
        # itself: only a fitted, finite head is checked, not equality with the slow path.
        head = ws.output_layer(model, 3).weight.detach().numpy()
        assert np.isfinite(head).all() and np.abs(head).sum() > 0
        return

    monkeypatch.setattr(ws, "_after_pooler", lambda *_: None)  # the two full passes
    passes.clear()
    ws.warm_start(slow_model, tokenizer, space, data, **KWARGS)
    assert passes == [24, 24]
    fast = ws.output_layer(model, 3)
    slow = ws.output_layer(slow_model, 3)
    torch.testing.assert_close(fast.weight, slow.weight, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(fast.bias, slow.bias, atol=1e-4, rtol=1e-3)
    assert np.abs(fast.weight.detach().numpy()).sum() > 0  # a fitted head, not zeros


def test_freeze_bottom_stops_the_gradient_below_the_lowest_trained_layer(tiny) -> None:
    model, _, _ = tiny
    layers = ws.encoder_layers(model)
    assert layers is not None and len(layers) >= 2
    assert ws.freeze_bottom(model, len(layers) + 3, embeddings=False) == len(layers) - 1
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any("embeddings" in n for n in trainable)
    assert all(not p.requires_grad for layer in layers[:-1] for p in layer.parameters())
    assert all(p.requires_grad for p in layers[-1].parameters())
    assert any("classifier" in n for n in trainable)

    ids = torch.tensor([[2, 5, 6, 7, 3]])
    loss = model(input_ids=ids, labels=torch.tensor([1])).loss
    loss.backward()
    assert model.get_input_embeddings().weight.grad is None
    assert layers[-1].output.dense.weight.grad is not None


def test_freeze_embeddings_alone_keeps_the_layers_trained(tiny) -> None:
    model, _, _ = tiny
    assert ws.freeze_bottom(model, 0, embeddings=True) == 0
    assert not model.get_input_embeddings().weight.requires_grad
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == [n for n, _ in model.named_parameters() if "word_embeddings" in n]


def test_no_probe_over_freshly_reinitialised_layers(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer, data = tiny
    space = LabelSpace("multiclass", ("a", "b", "c"))
    head_before = ws.output_layer(model, 3).weight.detach().clone()
    passes = _count_passes(monkeypatch)
    notes = ws.warm_start(model, tokenizer, space, data, **{**KWARGS, "reinit_layers": 1})
    assert "re-initialised the top 1 encoder layer(s)" in notes
    assert any(note.startswith("head left random") for note in notes)
    assert not any("probe on frozen features" in note for note in notes)
    torch.testing.assert_close(ws.output_layer(model, 3).weight, head_before)  # untouched
    assert passes == []  # no feature pass: the pooler keeps scale 1 without one
