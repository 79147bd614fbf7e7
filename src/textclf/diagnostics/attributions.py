"""Which words pushed a prediction: Integrated Gradients and attention rollout.

Two methods, both over the tokens the model saw (special tokens dropped, WordPieces
merged back into words, their scores summed):

- **Integrated Gradients** (Sundararajan et al. 2017, "Axiomatic Attribution for Deep
  Networks"), through captum's ``LayerIntegratedGradients`` on the input word-embedding
  layer. The baseline is the same sequence with every non-special token replaced by
  ``[PAD]`` ([CLS]/[SEP] kept), so the baseline differs from the input only in its words
  and position / segment embeddings cancel. The attributed output is the label's
  *calibrated probability* (logits divided by the saved temperature, then softmax for
  single-label or sigmoid for multi-label tasks), not its logit: probabilities are what
  users see, they are bounded, so scores of different texts are comparable, and by
  completeness the raw scores sum to ``p(label | text) − p(label | baseline)`` up to the
  reported convergence delta. Signed: positive pushes toward the label.
- **Attention rollout** (Abnar & Zuidema 2020, "Quantifying Attention Flow in
  Transformers"): per layer the heads are averaged, the identity is added for the
  residual connection and rows are re-normalised; the layers are multiplied and the
  [CLS] row says how much each token feeds the classifier's input. It needs one forward
  pass, is non-negative and does not depend on the label.

Example:
    >>> predictor = Predictor.from_folder("runs/demo")  # doctest: +SKIP
    >>> [attr] = explain(predictor, "my card has not arrived yet")  # doctest: +SKIP
    >>> attr.label, attr.top_tokens(3)  # doctest: +SKIP
    ('card_arrival', [('arrived', 1.0), ('card', 0.62), ('yet', 0.21)])
    >>> html = highlight_html(attr)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from textclf.config.schema import IG_STEPS
from textclf.diagnostics.highlight import DELTA_TOLERANCE, TokenAttribution, highlight_html
from textclf.errors import ConfigError, ModelLoadError, TextclfError
from textclf.progress import progress_bar

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)

__all__ = [
    "DELTA_TOLERANCE",
    "METHODS",
    "TokenAttribution",
    "attention_rollout",
    "eager_attention",
    "explain",
    "explain_many",
    "highlight_html",
]

METHODS = ("integrated_gradients", "attention_rollout")

# Rows (interpolation steps × labels) × tokens per forward pass of Integrated Gradients
# when ``internal_batch_size`` is not given. On CPU the chunk size hardly matters (8 to 128
# rows of a 128-token text: 3.4-3.8 s for 50 steps on one core), so it is set for memory:
# the backward pass keeps every layer's activations, about 140 kB per token for MiniLM
# and 4x that for a base-size encoder. A short text still runs all steps in one pass.
_TOKENS_PER_PASS = 2048

# Switching a model to eager attention, or freezing its weights for IG, changes shared
# state: explanations running in parallel threads (a Streamlit server) must not interleave
# a change and its restore.
_MODEL_LOCK = threading.RLock()


@dataclass
class _Encoded:
    """One tokenised text and how its tokens group into words."""

    inputs: dict[str, torch.Tensor]  # (1, seq) tensors on the model's device
    special: np.ndarray  # (seq,) bool
    groups: list[list[int]]  # token positions of each word, in order
    tokens: list[str]
    offsets: list[tuple[int, int]]
    truncated: bool


def _encode(predictor: Predictor, text: str) -> _Encoded:
    tokenizer = predictor.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{predictor.info.backbone or 'the model'}: attributions need a fast (Rust) "
            "tokenizer for character offsets; save the model with its tokenizer.json."
        )
    # Overflowing chunks tell truncation apart from a text that just fits.
    enc = tokenizer(
        text,
        truncation=True,
        max_length=predictor.info.max_length,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    truncated = len(enc["input_ids"]) > 1
    ids: list[int] = enc["input_ids"][0]
    offsets = [(int(s), int(e)) for s, e in enc["offset_mapping"][0]]
    special = np.asarray(enc["special_tokens_mask"][0], dtype=bool)
    word_ids = enc.word_ids(0)
    pieces = list(tokenizer.convert_ids_to_tokens(ids))
    groups = _group_words(pieces, special, word_ids, offsets)
    wordpiece = _is_wordpiece(tokenizer)
    unk = getattr(tokenizer, "unk_token", None)
    tokens, spans = [], []
    for group in groups:
        start = min(offsets[i][0] for i in group if offsets[i][1] > offsets[i][0])
        end = max(offsets[i][1] for i in group)
        # A bare space piece (byte-level BPE on a double space) must not widen the word.
        word = text[start:end]
        if word.strip():
            start += len(word) - len(word.lstrip())
            end -= len(word) - len(word.rstrip())
        spans.append((start, end))
        piece_list = [pieces[i] for i in group]
        tokens.append(_word_text(piece_list, text[start:end], wordpiece=wordpiece, unk=unk))
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    inputs = {k: torch.tensor([enc[k][0]], dtype=torch.long, device=predictor.device) for k in keys}
    return _Encoded(inputs, special, groups, tokens, spans, truncated)


def _group_words(
    pieces: list[str],
    special: np.ndarray,
    word_ids: list[int | None],
    offsets: list[tuple[int, int]],
) -> list[list[int]]:
    """Token positions per word: same ``word_id`` (or a ``##`` continuation) → same word."""
    groups: list[list[int]] = []
    last_word: int | None = None
    for i, piece in enumerate(pieces):
        if special[i]:
            last_word = None
            continue
        word = word_ids[i]
        same = groups and (
            (word is not None and word == last_word) or (word is None and piece.startswith("##"))
        )
        if same:
            groups[-1].append(i)
        else:
            groups.append([i])
        last_word = word
    # A word with no characters of its own (a bare SentencePiece "▁") joins its neighbour,
    # so its score still counts and every token has a span.
    merged: list[list[int]] = []
    pending: list[int] = []
    for group in groups:
        if all(offsets[i][1] <= offsets[i][0] for i in group):
            (merged[-1] if merged else pending).extend(group)
        else:
            merged.append(sorted(pending + group))
            pending = []
    return merged


def _is_wordpiece(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(getattr(backend, "model", None)).__name__ == "WordPiece"


def _word_text(pieces: list[str], span_text: str, *, wordpiece: bool, unk: str | None) -> str:
    """The word as the model saw it: WordPieces joined; otherwise the original text span.

    BPE and SentencePiece pieces carry space markers ("Ġ", "▁"), and ``[UNK]`` says
    nothing, so for those the text itself is the better label.
    """
    joinable = not pieces[0].startswith("##") and all(p.startswith("##") for p in pieces[1:])
    if wordpiece and joinable and unk not in pieces:
        return pieces[0] + "".join(p[2:] for p in pieces[1:])
    return span_text


def _probabilities(
    model: PreTrainedModel, inputs: dict[str, torch.Tensor], temperature: float, multilabel: bool
) -> torch.Tensor:
    logits = model(**inputs).logits.float() / temperature
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)


def _pick_labels(
    predictor: Predictor, proba: np.ndarray, labels: Sequence[str] | None
) -> list[int]:
    """Label ids to explain: the given names, or the saved decision rule's prediction."""
    names = predictor.info.labels
    if labels:  # None or empty (a cleared multiselect): the prediction
        ids: list[int] = []
        for name in labels:
            if name not in names:
                shown = ", ".join(repr(n) for n in names[:10]) + (
                    ", ..." if len(names) > 10 else ""
                )
                raise ConfigError(
                    f"label {name!r} is not one of the model's labels ({shown}); pass one of them."
                )
            if names.index(name) not in ids:
                ids.append(names.index(name))
        return ids
    pred = predictor.decide(proba[None, :])[0]
    if predictor.space.multilabel:
        chosen = [int(j) for j in np.flatnonzero(pred)]
        # Nothing passes its threshold: the top label is still the most useful to explain.
        return chosen or [int(np.argmax(proba))]
    return [int(pred)]


def _integrated_gradients(
    predictor: Predictor,
    encoded: _Encoded,
    label_ids: list[int],
    *,
    n_steps: int,
    internal_batch_size: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Token attributions ``(n_labels, seq)`` and convergence deltas ``(n_labels,)``."""
    from captum.attr import LayerIntegratedGradients

    model = predictor.model
    temperature = float(predictor.info.rule.temperature)
    multilabel = predictor.space.multilabel
    n = len(label_ids)
    ids = encoded.inputs["input_ids"]
    pad_id = predictor.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = predictor.tokenizer.unk_token_id or 0
    special = torch.as_tensor(encoded.special, device=ids.device)
    baseline = torch.where(special, ids, torch.full_like(ids, pad_id))
    extra: tuple[torch.Tensor, ...] = (encoded.inputs["attention_mask"].expand(n, -1),)
    if "token_type_ids" in encoded.inputs:
        extra += (encoded.inputs["token_type_ids"].expand(n, -1),)

    def forward(
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        return _probabilities(model, inputs, temperature, multilabel)

    if internal_batch_size is None:
        internal_batch_size = max(n, _TOKENS_PER_PASS // ids.shape[1])
    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    # inference_mode(False): a caller inside torch.inference_mode() still gets gradients.
    with torch.inference_mode(False), torch.enable_grad(), _frozen(model):
        attributions, delta = lig.attribute(
            ids.expand(n, -1),
            baselines=baseline.expand(n, -1),
            target=list(label_ids),
            additional_forward_args=extra,
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
    scores = attributions.sum(dim=-1).detach().float().cpu().numpy()
    return scores, delta.detach().float().cpu().numpy().reshape(-1)


@contextmanager
def _frozen(model: PreTrainedModel) -> Iterator[None]:
    """Weights without gradients inside the block, restored after.

    IG needs gradients for the inputs only; without weight gradients autograd keeps fewer
    activations (a quarter less peak memory on MiniLM).
    """
    with _MODEL_LOCK:
        flags = [(p, p.requires_grad) for p in model.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)


@contextmanager
def eager_attention(model: PreTrainedModel) -> Iterator[None]:
    """Run ``model`` with eager attention inside the block, then restore its implementation.

    PyTorch's fused SDPA kernels (the transformers 5 default) never materialise attention
    weights, so ``output_attentions=True`` returns nothing under them; eager attention
    computes the same outputs and returns the weights, only slower. The switch is
    temporary so that ordinary predictions keep the fast kernels.

    Example:
        >>> with eager_attention(predictor.model):  # doctest: +SKIP
        ...     out = predictor.model(**inputs, output_attentions=True)
    """
    with _MODEL_LOCK:
        previous = model.config._attn_implementation
        if previous == "eager":
            yield
            return
        model.set_attn_implementation("eager")
        try:
            yield
        finally:
            model.set_attn_implementation(previous)


def attention_rollout(attentions: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) of one sequence.

    Args:
        attentions: Per layer, first to last, ``(heads, seq, seq)`` attention weights whose
            rows sum to 1.

    Returns:
        ``(seq, seq)`` rollout ``R = Â_L ⋯ Â_1`` with ``Â = rownorm(mean_heads(A) + I)``;
        every row sums to 1, and row 0 is how much each input token reaches [CLS].

    Example:
        >>> uniform = np.full((1, 2, 2), 0.5)
        >>> attention_rollout([uniform]).round(2).tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    layers = [np.asarray(a, dtype=np.float64) for a in attentions]
    if not layers:
        raise ValueError("attention_rollout needs the attention weights of at least one layer.")
    seq = layers[0].shape[-1]
    eye = np.eye(seq)
    rollout = eye
    for weights in layers:
        # Residual connection: half the signal skips attention (the paper's 0.5·A + 0.5·I).
        a = weights.mean(axis=0) + eye
        a /= a.sum(axis=-1, keepdims=True)
        rollout = a @ rollout
    return rollout


def _rollout_scores(predictor: Predictor, encoded: _Encoded) -> np.ndarray:
    """Rollout [CLS]-row ``(seq,)``: the classifier reads the first token's state."""
    model = predictor.model
    with eager_attention(model), torch.inference_mode():
        out = model(**encoded.inputs, output_attentions=True)
    attentions = out.attentions
    if not attentions or any(a is None for a in attentions):
        raise TextclfError(
            f"{type(model).__name__} returned no attention weights, so attention rollout is "
            "not available for it; use methods=('integrated_gradients',)."
        )
    layers = [a[0].float().cpu().numpy() for a in attentions]
    return attention_rollout(layers)[0]


def _word_scores(token_scores: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    return np.array([float(token_scores[g].sum()) for g in groups], dtype=np.float64)


def _scaled(raw: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(raw))) if raw.size else 0.0
    return raw / peak if peak > 0 else np.zeros_like(raw)


def explain(
    predictor: Predictor,
    text: str,
    *,
    labels: Sequence[str] | None = None,
    methods: Sequence[str] = ("integrated_gradients",),
    n_steps: int = IG_STEPS,
    internal_batch_size: int | None = None,
) -> list[TokenAttribution]:
    """Explain one prediction: which words pushed the model toward (or away from) a label.

    Args:
        predictor: A loaded model (:class:`textclf.inference.pipeline.Predictor`); runs on
            its device, stays in eval mode and is left exactly as it was.
        text: The text to explain. Text beyond ``info.max_length`` tokens is not scored
            (``truncated=True``).
        labels: Label names to explain; ``None`` or empty → the predicted label(s) under
            the saved thresholds (multi-label with nothing above threshold → the top label).
        methods: Any of ``integrated_gradients`` and ``attention_rollout``.
        n_steps: Integrated Gradients steps (Gauss-Legendre quadrature); the default,
            32, is the report's and the CLI's. A completeness error above 0.05 is flagged
            (:attr:`TokenAttribution.approximate`): raise it then.
        internal_batch_size: Rows per IG forward pass; ``None`` → about 2,048 tokens.

    Returns:
        One attribution per (method, label) in ``methods`` order; attention rollout is
        label-agnostic and gives one, with ``label=""``.

    Raises:
        ConfigError: an unknown method or label.
        ModelLoadError: a tokenizer without character offsets.

    Example:
        >>> attrs = explain(predictor, "great film", methods=METHODS)  # doctest: +SKIP
        >>> [(a.method, a.label) for a in attrs]  # doctest: +SKIP
        [('integrated_gradients', 'positive'), ('attention_rollout', '')]
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(
            f"attribution method {unknown[0]!r} is not known; use one of {', '.join(METHODS)}."
        )
    if n_steps < 1:
        raise ConfigError(f"--steps {n_steps}: must be at least 1 (n_steps in Python).")
    model = predictor.model
    was_training = model.training
    model.eval()
    try:
        encoded = _encode(predictor, text)
        with torch.inference_mode():
            proba = _probabilities(
                model,
                encoded.inputs,
                float(predictor.info.rule.temperature),
                predictor.space.multilabel,
            )[0]
        p = proba.float().cpu().numpy().astype(np.float64)
        names = predictor.info.labels
        result: list[TokenAttribution] = []
        for method in dict.fromkeys(methods):
            if method == "attention_rollout":
                raw = _word_scores(_rollout_scores(predictor, encoded), encoded.groups)
                top = int(np.argmax(p))
                result.append(_attribution(text, encoded, raw, "", float(p[top]), method, None))
                continue
            label_ids = _pick_labels(predictor, p, labels)
            if encoded.groups:
                token_scores, deltas = _integrated_gradients(
                    predictor,
                    encoded,
                    label_ids,
                    n_steps=n_steps,
                    internal_batch_size=internal_batch_size,
                )
            else:  # nothing but special tokens: input == baseline, nothing to attribute
                token_scores = np.zeros((len(label_ids), len(encoded.special)))
                deltas = np.zeros(len(label_ids))
            for row, j in enumerate(label_ids):
                raw = _word_scores(token_scores[row], encoded.groups)
                result.append(
                    _attribution(
                        text, encoded, raw, names[j], float(p[j]), method, float(deltas[row])
                    )
                )
        return result
    finally:
        model.train(was_training)


def _attribution(
    text: str,
    encoded: _Encoded,
    raw: np.ndarray,
    label: str,
    probability: float,
    method: str,
    delta: float | None,
) -> TokenAttribution:
    return TokenAttribution(
        text=text,
        tokens=list(encoded.tokens),
        offsets=list(encoded.offsets),
        scores=_scaled(raw),
        raw_scores=raw,
        label=label,
        probability=probability,
        method=method,
        convergence_delta=delta,
        truncated=encoded.truncated,
    )


def explain_many(
    predictor: Predictor,
    texts: Sequence[str],
    *,
    labels: Sequence[Sequence[str] | None] | None = None,
    methods: Sequence[str] = ("integrated_gradients",),
    n_steps: int = IG_STEPS,
    internal_batch_size: int | None = None,
    progress: bool = False,
) -> list[list[TokenAttribution]]:
    """:func:`explain` for each text.

    Args:
        predictor: A loaded model.
        texts: Texts to explain.
        labels: ``None``, or one entry per text: label names, or ``None`` for the
            predicted label(s).
        methods: As for :func:`explain`.
        n_steps: As for :func:`explain`.
        internal_batch_size: As for :func:`explain`.
        progress: Show a progress bar ("Explaining").

    Returns:
        One list of attributions per text, in input order.

    Raises:
        ConfigError: ``labels`` of another length than ``texts``, or as for :func:`explain`.
    """
    if labels is not None and len(labels) != len(texts):
        raise ConfigError(
            f"labels has {len(labels)} entries for {len(texts)} texts; give one per text "
            "(None for the predicted label)."
        )
    out = []
    for i, text in enumerate(progress_bar(texts, desc="Explaining", unit="text", enabled=progress)):
        out.append(
            explain(
                predictor,
                text,
                labels=None if labels is None else labels[i],
                methods=methods,
                n_steps=n_steps,
                internal_batch_size=internal_batch_size,
            )
        )
    return out
