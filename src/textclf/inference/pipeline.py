"""Fast batched inference: preprocess → forward → postprocess, as in transformers' pipeline.

Texts are tokenised once, sorted by length, cut into batches padded only to their own
longest text, run under ``torch.inference_mode``, and returned in input order. Sorting
is what makes it fast: a batch of short texts costs little, where fixed-length padding
would make every batch cost as much as the longest text allows.

Example:
    >>> predictor = Predictor.from_folder("runs/demo")  # doctest: +SKIP
    >>> predictor.predict(["ER positive, PR negative, HER2 3+"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from textclf.data.labels import LabelSpace
from textclf.persistence import ModelInfo, load_model_folder

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


def _pick_device(device: str) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


class Predictor:
    """Probabilities and labels for texts from a fine-tuned classifier.

    Args:
        model: A sequence-classification model.
        tokenizer: Its tokenizer.
        info: Task, labels, thresholds, temperature and max length.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        batch_size: Texts per forward pass.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        info: ModelInfo,
        *,
        device: str = "auto",
        batch_size: int = 64,
    ) -> None:
        self.device = _pick_device(device)
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        self.tokenizer = tokenizer
        self.info = info
        self.batch_size = batch_size

    @classmethod
    def from_folder(
        cls, directory: str | os.PathLike[str], *, device: str = "auto", batch_size: int = 64
    ) -> Predictor:
        """Load a saved model folder (see :mod:`textclf.persistence`)."""
        model, tokenizer, info = load_model_folder(directory)
        return cls(model, tokenizer, info, device=device, batch_size=batch_size)

    @property
    def space(self) -> LabelSpace:
        return self.info.space

    def logits(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Raw logits, ``(n, k)`` float32, in input order."""
        n = len(texts)
        k = len(self.info.labels)
        out = np.empty((n, k), dtype=np.float32)
        if n == 0:
            return out
        enc = self.tokenizer(
            list(texts), truncation=True, max_length=self.info.max_length, padding=False
        )
        ids: list[list[int]] = enc["input_ids"]
        order = np.argsort([len(x) for x in ids], kind="stable")[::-1]
        keys = [key for key in enc if key in ("input_ids", "attention_mask", "token_type_ids")]
        bar = tqdm(total=n, desc="Predicting", unit="text", disable=not progress)
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                features = [{key: enc[key][i] for key in keys} for i in idx]
                padded = self.tokenizer.pad(features, return_tensors="pt")
                inputs = {key: value.to(self.device) for key, value in padded.items()}
                logits = self.model(**inputs).logits.float().cpu().numpy()
                out[idx] = logits
                bar.update(len(idx))
        bar.close()
        return out

    def predict_proba(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Probabilities ``(n, k)``: columns follow ``info.labels``; the rule's temperature applied.

        Softmax for single-label tasks, independent sigmoids for multi-label.
        """
        return self.info.rule.probabilities(self.logits(texts, progress=progress))

    def decide(self, proba: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """Ids (``-1``: abstained) or 0/1 rows under the saved rule, or a given threshold.

        ``threshold`` is the positive label's (binary), every label's (multi-label), or the
        top probability below which a multi-class model abstains (see
        :meth:`DecisionRule.with_threshold`).
        """
        return self.info.rule.with_threshold(threshold).decide(proba)

    def predict(
        self, texts: Sequence[str], *, threshold: float | None = None, progress: bool = False
    ) -> list[Any]:
        """Label names: one per text (``None`` when abstaining), or a list per text (multi-label)."""
        pred = self.decide(self.predict_proba(texts, progress=progress), threshold=threshold)
        labels = self.info.labels
        if self.space.multilabel:
            return [[labels[j] for j in np.flatnonzero(row)] for row in pred]
        return [labels[i] if i >= 0 else None for i in pred]


def mean_pooled_embeddings(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    max_length: int,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Attention-masked mean of the encoder's last hidden state (sentence-transformers' pooling).

    Texts are tokenised once, sorted by length and cut into batches padded to their own
    longest text, so short texts cost little.

    Args:
        model: A classifier or a bare encoder; its encoder is ``model.base_model``.
        tokenizer: Its tokenizer.
        texts: ``n`` texts, truncated to ``max_length`` tokens.
        max_length: Truncation length.
        device: Where ``model`` is.
        batch_size: Texts per forward pass.
        progress: Show a progress bar ("Embedding").

    Returns:
        ``(n, hidden)`` float32, rows in input order.

    Raises:
        ConfigError: for a batch size below 1.
    """
    from textclf.errors import ConfigError

    hidden = int(getattr(model.config, "hidden_size", 0) or getattr(model.config, "dim", 0))
    n = len(texts)
    if n == 0:
        return np.empty((0, hidden), dtype=np.float32)
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be at least 1.")
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    ids: list[list[int]] = enc["input_ids"]
    # Longest first: a memory problem shows up in the first batch, not after minutes.
    order = np.argsort([len(x) for x in ids], kind="stable")[::-1]
    keys = [k for k in enc if k in ("input_ids", "attention_mask", "token_type_ids")]
    encoder = model.base_model
    out = np.empty((n, hidden), dtype=np.float32)
    was_training = model.training
    model.eval()
    bar = tqdm(total=n, desc="Embedding", unit="text", disable=not progress)
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                padded = tokenizer.pad(
                    [{k: enc[k][i] for k in keys} for i in idx], return_tensors="pt"
                )
                inputs = {k: v.to(device) for k, v in padded.items()}
                states = encoder(**inputs).last_hidden_state.float()
                mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                out[idx] = pooled.cpu().numpy()
                bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    return out
