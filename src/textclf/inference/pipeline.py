"""Batched prediction from a saved model: preprocess → forward → postprocess, as in transformers.

:class:`Predictor` runs the engine of :mod:`textclf.inference.engine` (one tokenizer call
per chunk, length buckets cut by a token budget, padding without per-example Python,
tokenisation overlapped with the forward pass) on one of two backends:

* **torch** (:mod:`textclf.inference.torch_backend`): any model, CPU or GPU, fp32 or bf16
  by measurement;
* **ONNX Runtime** (:mod:`textclf.inference.onnx`): a model exported with
  ``textclf export``, fp32 or int8, without importing torch at all.

``from_folder(..., backend="auto")`` runs ONNX when the folder holds a checked export.
Either way logits go through the model's :class:`~textclf.evaluation.decision.DecisionRule`
and results come back in input order.

Example:
    >>> predictor = Predictor.from_folder("runs/demo")  # doctest: +SKIP
    >>> predictor.predict(["ER positive, PR negative, HER2 3+"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from textclf.data.labels import LabelSpace
from textclf.inference.engine import (
    Engine,
    HFEncoder,
    TextEncoder,
    capped_max_length,
    model_inputs,
    pad_batch,
    plan_batches,
)
from textclf.persistence import ModelInfo, read_info

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from textclf.inference.onnx import BackendChoice

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Padded tokens per forward pass, by device. On 2 CPU cores (MiniLM, Banking77) int8
#: throughput was flat from 1k to 4k tokens and 15 % lower at 16k (caches); a GPU wants
#: far more work per launch than a CPU.
DEFAULT_MAX_TOKENS = {"cpu": 4096, "cuda": 65536, "mps": 16384}


def check_batch_size(batch_size: int | None) -> None:
    """Refuse a batch size below 1 (``None``: the token budget decides).

    Raises:
        ConfigError: naming ``--batch-size``; a zero would plan empty batches for ever.
    """
    from textclf.errors import ConfigError

    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: must be at least 1.")


class Predictor:
    """Probabilities and labels for texts from a fine-tuned classifier.

    Args:
        model: A sequence-classification model (the torch backend).
        tokenizer: Its tokenizer.
        info: Task, labels, decision rule and max length.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        batch_size: At most this many texts per forward pass (``None``: the token budget
            alone decides).
        max_batch_tokens: Padded tokens per forward pass (default by device,
            :data:`DEFAULT_MAX_TOKENS`).
        precision: ``auto`` (fp32 on CPU, bf16 on a GPU where measured faster), ``fp32``
            or ``bf16`` (see :mod:`textclf.inference.torch_backend`).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        info: ModelInfo,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
        precision: str = "auto",
    ) -> None:
        from textclf.inference.torch_backend import TorchBackend

        check_batch_size(batch_size)
        self._torch: TorchBackend | None = TorchBackend(model, device=device, precision=precision)
        self._model: Any = self._torch.model
        self._tokenizer: Any = tokenizer
        self._config: dict[str, Any] = model.config.to_dict()
        self.info = info
        self.batch_size = batch_size
        self.backend = "torch"
        self.folder: Path | None = None
        self._device_name = device
        self._onnx: Any = None
        self._forward: Callable[..., Any] = self._torch.forward
        self._inputs = model_inputs(getattr(tokenizer, "model_input_names", ()))
        self._max_tokens = max_batch_tokens or DEFAULT_MAX_TOKENS.get(self._torch.device.type, 4096)
        self._engine: Engine | None = None
        self._engine_length = -1

    @classmethod
    def from_folder(
        cls,
        directory: str | os.PathLike[str],
        *,
        device: str = "auto",
        batch_size: int | None = None,
        backend: str = "auto",
        max_batch_tokens: int | None = None,
        precision: str = "auto",
    ) -> Predictor:
        """Load a saved model folder (see :mod:`textclf.persistence`) on the best backend.

        Args:
            directory: The model folder.
            device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
            batch_size: Cap on texts per forward pass.
            backend: ``auto`` (ONNX when exported and checked, else torch), ``torch`` or
                ``onnx`` (see :func:`textclf.inference.onnx.choose_backend`).
            max_batch_tokens: Padded tokens per forward pass.
            precision: torch only: ``auto``, ``fp32`` or ``bf16``.

        Raises:
            ModelLoadError: a missing or incomplete folder; ``onnx`` without an export.
            ConfigError: an unknown backend; a ``precision`` with ``backend="onnx"``.
        """
        from textclf.inference.onnx import choose_backend

        check_batch_size(batch_size)
        folder = Path(directory)
        info = read_info(folder)  # a missing folder fails here, before any backend talk
        if backend == "onnx" and precision != "auto":
            from textclf.errors import ConfigError

            raise ConfigError(
                f"--precision {precision}: the precision is the torch backend's; the ONNX "
                "export runs fp32 or int8 as exported, so leave --precision out or use "
                "--backend torch."
            )
        choice = choose_backend(folder, backend, device=device)
        logger.info("Predicting with the %s backend (%s).", choice.name, choice.reason)
        if choice.file is not None:
            if precision != "auto":  # backend auto picked the export
                logger.warning(
                    "--precision %s applies to the torch backend only; the ONNX export (%s) "
                    "runs as exported. Pass --backend torch to use it.",
                    precision,
                    choice.name,
                )
            return cls.from_onnx(
                folder,
                choice,
                info=info,
                device=device,
                batch_size=batch_size,
                max_batch_tokens=max_batch_tokens,
            )
        from textclf.persistence import load_model_folder

        model, tokenizer, info = load_model_folder(folder)
        predictor = cls(
            model,
            tokenizer,
            info,
            device=device,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            precision=precision,
        )
        predictor.folder = folder
        return predictor

    @classmethod
    def from_onnx(
        cls,
        directory: str | os.PathLike[str],
        onnx_file: BackendChoice | str | os.PathLike[str],
        *,
        info: ModelInfo | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
    ) -> Predictor:
        """A predictor over an ONNX file of a model folder; torch is not imported.

        ``model`` and ``tokenizer`` (for attributions and embeddings) are loaded from the
        folder only when first used.

        Raises:
            ModelLoadError: no ``tokenizer.json`` in the folder, or an unloadable file.
        """
        from textclf.errors import ModelLoadError
        from textclf.inference.onnx import BackendChoice, OnnxBackend

        check_batch_size(batch_size)

        folder = Path(directory)
        choice = (
            onnx_file
            if isinstance(onnx_file, BackendChoice)
            else BackendChoice("onnx", Path(onnx_file), "asked for")
        )
        assert choice.file is not None  # an ONNX choice always names its file
        if not (folder / "tokenizer.json").is_file():
            raise ModelLoadError(
                f"{folder}: no tokenizer.json beside the ONNX model; export the model again "
                "with 'textclf export'."
            )
        self = cls.__new__(cls)
        self._torch = None
        self._model = None
        self._tokenizer = None
        try:
            self._config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            self._config = {}
        self.info = info or read_info(folder)
        self.batch_size = batch_size
        self.backend = choice.name
        self.folder = folder
        self._device_name = device
        self._onnx = OnnxBackend(choice.file, device=device)
        if choice.name == "onnx-int8":
            self._guard_int8(folder, device)
        self._forward = self._onnx.forward
        self._inputs = model_inputs(self._onnx.input_names)
        self._max_tokens = max_batch_tokens or DEFAULT_MAX_TOKENS.get(self._onnx.device, 4096)
        self._engine = None
        self._engine_length = -1
        return self

    def _guard_int8(self, folder: Path, device: str) -> None:
        """Re-check int8's closest calls in fp32, below the margin the export fitted."""
        from textclf.inference.onnx import FP32_FILE, ONNX_DIR, OnnxBackend, read_parity

        fp32 = folder / ONNX_DIR / FP32_FILE
        check = (read_parity(folder) or {}).get("int8") or {}
        below = check.get("recheck_below") if isinstance(check, dict) else None
        if not isinstance(below, int | float) or below <= 0 or not fp32.is_file():
            return
        rule = self.info.rule
        assert self._onnx is not None
        self._onnx.guard(
            OnnxBackend(fp32, device=device),
            lambda logits: rule.margins(rule.probabilities(logits)),
            float(below),
        )

    # -- what other code reads ------------------------------------------------------------

    @property
    def space(self) -> LabelSpace:
        return self.info.space

    @property
    def model(self) -> PreTrainedModel:
        """The torch model (loaded from the folder on first use under the ONNX backend)."""
        if self._model is None:
            self._load_torch()
        return self._model

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The transformers tokenizer (loaded on first use under the ONNX backend)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.folder, trust_remote_code=False)
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        """Where :attr:`model` runs (CPU for a model loaded beside an ONNX session)."""
        if self._torch is not None:
            return self._torch.device
        self.model  # noqa: B018 - loads it
        assert self._torch is not None
        return self._torch.device

    @property
    def runs_on(self) -> str:
        """Where predictions run (``cpu``, ``cuda``, …), without loading torch for ONNX."""
        if self._onnx is not None:
            return str(self._onnx.device)
        return str(self.device)

    @property
    def precision(self) -> str:
        """``fp32``/``bf16`` (torch), or the ONNX file's: ``fp32`` or ``int8``."""
        if self._onnx is None and self._torch is not None:
            return self._torch.precision
        return "int8" if self.backend == "onnx-int8" else "fp32"

    def _load_torch(self) -> None:
        from textclf.inference.torch_backend import TorchBackend
        from textclf.persistence import load_model_folder

        logger.info("Loading the torch model of %s (for gradients or hidden states).", self.folder)
        model, tokenizer, _ = load_model_folder(self.folder)  # type: ignore[arg-type]
        device = (
            "cpu" if self._onnx is not None and self._onnx.device == "cpu" else self._device_name
        )
        self._torch = TorchBackend(model, device=device, precision="fp32")
        self._model = self._torch.model
        self._tokenizer = self._tokenizer or tokenizer

    # -- the engine -----------------------------------------------------------------------

    def _max_length(self) -> int:
        where = str(self.folder) if self.folder else ""
        return capped_max_length(int(self.info.max_length), self._config, where=where)

    def engine(self) -> Engine:
        """The engine for the current ``info`` (rebuilt when its max length changes)."""
        length = self._max_length()
        if self._engine is None or length != self._engine_length:
            type_ids = "token_type_ids" in self._inputs
            encoder: Any
            if self._onnx is not None:
                assert self.folder is not None
                encoder = TextEncoder.from_folder(self.folder, max_length=length, type_ids=type_ids)
            else:
                encoder = TextEncoder.from_hf(
                    self._tokenizer, max_length=length, type_ids=type_ids
                ) or HFEncoder(self._tokenizer, max_length=length, type_ids=type_ids)
            self._engine = Engine(
                encoder,
                self._forward,
                input_names=self._inputs,
                num_labels=len(self.info.labels),
                max_tokens=self._max_tokens,
                max_texts=self.batch_size,
            )
            self._engine_length = length
            if self._torch is not None and self._onnx is None:
                self._settle_precision(length)
        return self._engine

    def _settle_precision(self, length: int) -> None:
        assert self._torch is not None
        width = min(length, 128)
        rows = max(1, self._max_tokens // width)
        if self.batch_size:
            rows = min(rows, self.batch_size)
        vocab = int(self._config.get("vocab_size") or 1000)
        ids = np.random.default_rng(0).integers(0, vocab, size=(rows, width), dtype=np.int64)
        sample = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            sample["token_type_ids"] = np.zeros_like(ids)
        self._torch.choose_precision(sample)

    def logits(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Raw logits, ``(n, k)`` float32, in input order."""
        return self.engine().logits(texts, progress=progress)

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
    fast: bool = False,
) -> np.ndarray:
    """Attention-masked mean of the encoder's last hidden state (sentence-transformers' pooling).

    Texts are tokenised in one call, sorted by length and cut into batches padded to
    their own longest text (the engine's arrays), so short texts cost little.

    Args:
        model: A classifier or a bare encoder; its encoder is ``model.base_model``.
        tokenizer: Its tokenizer.
        texts: ``n`` texts, truncated to ``max_length`` tokens.
        max_length: Truncation length.
        device: Where ``model`` is.
        batch_size: Texts per forward pass.
        progress: Show a progress bar ("Embedding").
        fast: Run in bf16 autocast where the device computes bf16 natively
            (:func:`~textclf.inference.torch_backend.native_bf16`), about 2.4x faster on
            such a CPU; for features and maps, where bf16's rounding (about 1e-3 relative)
            does not matter. ``False``: fp32.

    Returns:
        ``(n, hidden)`` float32, rows in input order.

    Raises:
        ConfigError: for a batch size below 1.
    """
    import torch

    from textclf.errors import ConfigError
    from textclf.inference.torch_backend import native_bf16
    from textclf.progress import progress_bar

    hidden = int(getattr(model.config, "hidden_size", 0) or getattr(model.config, "dim", 0))
    n = len(texts)
    if n == 0:
        return np.empty((0, hidden), dtype=np.float32)
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be at least 1.")
    names = model_inputs(getattr(tokenizer, "model_input_names", ()))
    type_ids = "token_type_ids" in names
    length = capped_max_length(max_length, model.config.to_dict())
    encoder = TextEncoder.from_hf(tokenizer, max_length=length, type_ids=type_ids) or HFEncoder(
        tokenizer, max_length=length, type_ids=type_ids
    )
    enc = encoder.encode(texts)
    # Longest first (plan_batches): a memory problem shows up in the first batch.
    batches = plan_batches(enc.lengths, max_tokens=batch_size * length, max_texts=batch_size)
    encoder_model = model.base_model
    out = np.empty((n, hidden), dtype=np.float32)
    was_training = model.training
    model.eval()
    kind = torch.device(device).type
    bf16 = fast and native_bf16(kind)
    bar = progress_bar(total=n, desc="Embedding", unit="text", enabled=progress)
    try:
        with (
            torch.inference_mode(),
            torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16),
        ):
            for idx in batches:
                arrays = pad_batch(enc, idx, pad_id=encoder.pad_id, names=names)
                inputs = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
                states = encoder_model(**inputs).last_hidden_state.float()
                mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                out[idx] = pooled.cpu().numpy()
                bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    return out
