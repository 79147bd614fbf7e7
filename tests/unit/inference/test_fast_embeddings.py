"""``mean_pooled_embeddings(fast=True)``: bf16 only where the device computes it natively."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textclf.inference import torch_backend
from textclf.inference.pipeline import mean_pooled_embeddings

TEXTS = ["the quick brown fox", "unknown words appear here", "number and with", "fox"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


def _embed(tiny, fast: bool) -> np.ndarray:
    model, tokenizer = tiny
    return mean_pooled_embeddings(model, tokenizer, TEXTS, max_length=16, fast=fast)


def test_without_native_bf16_fast_is_exactly_fp32(tiny, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: False)
    assert np.array_equal(_embed(tiny, fast=True), _embed(tiny, fast=False))


def test_with_native_bf16_fast_rounds_only(tiny, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: True)
    fp32, bf16 = _embed(tiny, fast=False), _embed(tiny, fast=True)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert not np.array_equal(bf16, fp32)  # bf16 did run
    cos = (bf16 * fp32).sum(1) / np.linalg.norm(bf16, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cos.min() > 0.99


def test_native_bf16_by_device(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: True)
    assert torch_backend.native_bf16("cpu")
    assert not torch_backend.native_bf16("meta")
    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: False)
    assert not torch_backend.native_bf16("cpu")
