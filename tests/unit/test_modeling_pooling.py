"""The mean-pooling top layer: a plain BERT whose [CLS] output is the mean of the token states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from textclf.data.labels import LabelSpace
from textclf.modeling import build_model, load_tokenizer


def test_mean_layer_carries_the_mean_of_the_last_states_to_cls(tiny_model_dir: Path):
    space = LabelSpace("multiclass", ("a", "b", "c"))
    plain = build_model(str(tiny_model_dir), space).eval()
    pooled = build_model(str(tiny_model_dir), space, pooling="mean").eval()
    assert pooled.config.num_hidden_layers == plain.config.num_hidden_layers + 1
    assert type(pooled) is type(plain)  # the standard architecture, one more layer
    tok = load_tokenizer(str(tiny_model_dir))
    enc = tok(["apple and banana", "grape with ginger number 3 and more"], padding=True,
              return_tensors="pt")  # fmt: skip
    with torch.inference_mode():
        states = plain.base_model(**enc).last_hidden_state
        cls = pooled.base_model(**enc).last_hidden_state[:, 0]
    mask = enc["attention_mask"].unsqueeze(-1).float()
    mean = (states * mask).sum(1) / mask.sum(1)  # padding excluded, as in sentence-transformers
    normed = torch.nn.functional.layer_norm(mean, mean.shape[-1:])
    cos = torch.nn.functional.cosine_similarity(cls, normed, dim=-1).numpy()
    assert np.all(cos > 0.99), cos
