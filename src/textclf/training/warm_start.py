"""Starting points for fine-tuning on little data: a probed head, a pass-through pooler, fresh top layers.

A new classification head starts from random weights, so the first hundreds of updates
push random gradients through a pretrained encoder; with a few hundred examples that
often ends at the class prior (Mosbach et al., ICLR 2021). Three remedies, each measured
by ``bench/robustness.py`` before it became a default:

* **Probed head (LP-FT, Kumar et al., ICLR 2022).** The encoder is run once, frozen, over
  the training texts; a logistic regression is fitted on the features the output layer
  sees, and its weights become the output layer's. Fine-tuning then starts from a head
  that already separates the classes, and distorts the pretrained features less.
* **Pass-through pooler.** BERT's pooler (``tanh(W h_cls + b)``) was trained for next-
  sentence prediction; sentence-embedding checkpoints such as all-MiniLM-L6-v2 never
  trained it (they mean-pool). On Banking77 with 10 examples per class a probe on the
  pretrained pooler's output reached 0.67 accuracy, on the [CLS] state itself 0.82. A
  pooler set to a scaled identity passes the [CLS] state through (``tanh`` of a small
  multiple of it, nearly linear), and stays the standard architecture.
* **Re-initialised top layers (Zhang et al., ICLR 2021).** The last layers of a
  pretrained encoder are the most specific to its pretraining task.

All three keep ``BertForSequenceClassification`` (or whichever class the backbone has):
the saved folder loads with plain ``transformers.pipeline``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import datasets
import numpy as np
import torch
from torch import nn
from transformers import DataCollatorWithPadding, PreTrainedModel, PreTrainedTokenizerBase

from textclf.data.labels import LabelSpace

logger = logging.getLogger(__name__)


def output_layer(model: PreTrainedModel, num_labels: int) -> nn.Linear:
    """The final projection to the label logits (the last ``Linear`` with ``num_labels`` outputs).

    Raises:
        ValueError: when the model has no such layer.
    """
    found = None
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features == num_labels:
            found = module
    if found is None:
        raise ValueError(f"no Linear layer with {num_labels} outputs in {type(model).__name__}")
    return found


def _pooler_dense(model: PreTrainedModel) -> nn.Linear | None:
    """BERT-style ``pooler.dense`` (square), or ``None`` for architectures without one."""
    for name, module in model.named_modules():
        if (
            name.endswith("pooler.dense")
            and isinstance(module, nn.Linear)
            and module.in_features == module.out_features
        ):
            return module
    return None


def _after_pooler(model: PreTrainedModel, cls_states: np.ndarray) -> np.ndarray | None:
    """The BERT-style pooler's output (``activation(dense(x))``) for captured [CLS] states.

    ``None`` when the model has no such pooler (the caller then runs the model).
    """
    for name, module in model.named_modules():
        dense, activation = getattr(module, "dense", None), getattr(module, "activation", None)
        if name.endswith("pooler") and isinstance(dense, nn.Linear) and activation is not None:
            with torch.inference_mode():
                x = torch.from_numpy(cls_states).to(dense.weight.device, dense.weight.dtype)
                return activation(dense(x)).float().cpu().numpy()
    return None


def encoder_layers(model: PreTrainedModel) -> nn.ModuleList | None:
    """The encoder's list of transformer layers, bottom first (``None`` when not found)."""
    for _, module in model.named_modules():
        candidate = getattr(module, "layer", None)
        if isinstance(candidate, nn.ModuleList) and len(candidate) > 0:
            return candidate
    return None


def reinit_top_layers(model: PreTrainedModel, n: int) -> int:
    """Re-initialise the last ``n`` encoder layers with the model's own initialiser.

    Returns:
        How many layers were re-initialised (0 when the layer list is not found).
    """
    if n <= 0:
        return 0
    layers = encoder_layers(model)
    init = getattr(model, "_init_weights", None)
    if layers is None or init is None:
        return 0
    for layer in list(layers)[-n:]:
        layer.apply(init)
    return min(n, len(layers))


def freeze_bottom(model: PreTrainedModel, n_layers: int, *, embeddings: bool) -> int:
    """Keep the input embeddings and the lowest ``n_layers`` encoder layers as pretrained.

    Backpropagation then stops at the lowest trained layer: the frozen layers cost a
    forward pass only. ``n_layers`` > 0 freezes the whole embedding block (word, position,
    type embeddings and their LayerNorm) with them; ``embeddings`` alone freezes the word
    embeddings, the largest and least task-specific weights.

    Returns:
        How many encoder layers were frozen (never the top one: something must train).
    """
    if n_layers <= 0:
        if embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        return 0
    block = getattr(model.base_model, "embeddings", None) or model.get_input_embeddings()
    layers = list(encoder_layers(model) or [])
    n = min(n_layers, max(len(layers) - 1, 0))
    for module in [block, *layers[:n]]:
        module.requires_grad_(False)
    return n


@torch.inference_mode()
def _features(
    model: PreTrainedModel,
    layer: nn.Module,
    dataset: datasets.Dataset,
    tokenizer: PreTrainedTokenizerBase,
    *,
    batch_size: int,
    bf16: bool = False,
) -> np.ndarray:
    """The inputs of ``layer`` for every row of ``dataset``, in row order (model frozen, eval).

    ``bf16``: under bf16 autocast, as training will run (2.4x faster on a CPU with native
    bf16); the probe fitted on these features sees the same rounding as the training.
    """
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach().float().cpu())

    keys = [
        k for k in ("input_ids", "attention_mask", "token_type_ids") if k in dataset.column_names
    ]
    lengths = np.asarray(dataset["length"]) if "length" in dataset.column_names else None
    order = np.argsort(-lengths, kind="stable") if lengths is not None else np.arange(len(dataset))
    collator = DataCollatorWithPadding(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    handle = layer.register_forward_pre_hook(hook)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            rows = dataset[idx.tolist()]
            batch = collator([{k: rows[k][i] for k in keys} for i in range(len(idx))])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                model(**{k: v.to(device) for k, v in batch.items()})
    finally:
        handle.remove()
        model.train(was_training)
    feats = torch.cat(captured).numpy()
    out = np.empty_like(feats)
    out[order] = feats
    return out


def _probe(
    features: np.ndarray, y: np.ndarray, space: LabelSpace, *, seed: int, c: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a standardised logistic-regression probe; return weights and bias on the raw features."""
    from sklearn.linear_model import LogisticRegression

    mu = features.mean(axis=0)
    # One scale for all dimensions, not one per dimension: some dimensions barely vary on
    # the frozen model, and weights divided by their tiny spread turn dropout's noise in
    # training mode into logits in the thousands (measured: a first-step loss of 13,000).
    sd = float(np.sqrt(((features - mu) ** 2).mean())) + 1e-6
    z = (features - mu) / sd
    k = space.num_labels
    coef = np.zeros((k, z.shape[1]))
    intercept = np.zeros(k)
    if space.multilabel:
        for j in range(k):
            pos = float(y[:, j].mean())
            if pos in (0.0, 1.0):  # nothing to fit: a constant logit at the (clipped) prior
                p = min(max(pos, 1e-3), 1 - 1e-3)
                intercept[j] = np.log(p / (1 - p))
                continue
            lr = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(z, y[:, j])
            coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
    else:
        present = np.unique(y)
        lr = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(z, y)
        if len(present) == 2 and lr.coef_.shape[0] == 1:
            # sklearn's binary LR has one row (logit of the second class): split it evenly.
            w, b = lr.coef_[0] / 2, lr.intercept_[0] / 2
            coef[present[0]], coef[present[1]] = -w, w
            intercept[present[0]], intercept[present[1]] = -b, b
        else:
            coef[present], intercept[present] = lr.coef_, lr.intercept_
        missing = np.setdiff1d(np.arange(k), present)
        intercept[missing] = intercept[present].min() - 10.0  # never seen: never predicted
    # Fold the standardisation into the layer: w·(x - mu)/sd + b = (w/sd)·x + (b - w·mu/sd).
    weight = coef / sd
    bias = intercept - weight @ mu
    return weight.astype(np.float32), bias.astype(np.float32)


def warm_start(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    space: LabelSpace,
    train_dataset: datasets.Dataset,
    *,
    head_init: str,
    pooler_init: str,
    reinit_layers: int,
    probe_c: float = 1.0,
    seed: int,
    batch_size: int = 64,
    bf16: bool = False,
) -> list[str]:
    """Prepare ``model`` for fine-tuning in place; return plain-words notes on what was done.

    Args:
        model: A freshly built classifier.
        tokenizer: Its tokenizer (pads the probe batches).
        space: Task and labels.
        train_dataset: Tokenised training rows with ``labels`` (and ``length``).
        head_init: ``random`` (leave the new head) or ``probe`` (LP-FT warm start).
        pooler_init: ``pretrained``, ``identity`` (pass [CLS] through) or ``random``.
        reinit_layers: Re-initialise this many top encoder layers.
        probe_c: Inverse L2 strength of the probe (on standardised features).
        seed: Seeds the probe's solver.
        batch_size: Texts per forward pass while extracting features.
        bf16: Extract them under bf16 autocast (training's precision).
    """
    notes: list[str] = []
    cls_states: np.ndarray | None = None
    n_reinit = reinit_top_layers(model, reinit_layers)
    if n_reinit:
        notes.append(f"re-initialised the top {n_reinit} encoder layer(s)")
        if head_init == "probe":
            # A probe on random layers' outputs fits features that the first updates
            # replace; its large weights then blow up the loss (measured on the 2-layer test
            # model: a mean training loss of 167 against 1.1, and a run stuck at the prior).
            head_init = "random"
            notes.append("head left random: a probe cannot read freshly re-initialised layers")
    pooler = _pooler_dense(model)
    if pooler is not None and pooler_init != "pretrained":
        with torch.no_grad():
            if pooler_init == "identity":
                scale = 1.0
                if head_init == "probe":
                    # Scale so tanh stays in its nearly linear range for typical [CLS] states.
                    cls_states = _features(
                        model, pooler, train_dataset, tokenizer, batch_size=batch_size, bf16=bf16
                    )
                    scale = float(0.5 / (np.sqrt((cls_states**2).mean()) + 1e-6))
                pooler.weight.copy_(torch.eye(pooler.in_features) * scale)
                pooler.bias.zero_()
                notes.append(f"pooler set to pass the [CLS] state through (scale {scale:.2f})")
            else:
                model._init_weights(pooler)
                notes.append("pooler re-initialised")
    if head_init == "probe" and len(train_dataset):
        started = time.perf_counter()
        layer = output_layer(model, space.num_labels)
        # The pass that scaled the pooler captured its input; the output layer's input is
        # the pooler's output (dropout is off in eval mode), so a second pass over the
        # training texts is spared: checked against the model on the first texts.
        feats = None if cls_states is None else _after_pooler(model, cls_states)
        if feats is not None:
            head = train_dataset.select(range(min(8, len(train_dataset))))
            real = _features(model, layer, head, tokenizer, batch_size=batch_size, bf16=bf16)
            # bf16 rounds to about 3 significant digits: a tolerance far below the O(1)
            # gap of a head whose input is not the pooler's output.
            if not np.allclose(real, feats[: len(real)], atol=2e-2 if bf16 else 1e-4):
                feats = None
        if feats is None:
            feats = _features(
                model, layer, train_dataset, tokenizer, batch_size=batch_size, bf16=bf16
            )
        y = np.asarray(train_dataset["labels"])
        weight, bias = _probe(feats, y, space, seed=seed, c=probe_c)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weight))
            layer.bias.copy_(torch.from_numpy(bias))
        notes.append(
            f"head warm-started from a logistic-regression probe on frozen features "
            f"({time.perf_counter() - started:.1f} s)"
        )
    for note in notes:
        logger.info("Warm start: %s.", note)
    return notes
