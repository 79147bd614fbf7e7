"""The inference engine every backend shares: tokenise → bucket → pad → forward, in order.

Per chunk of texts there is one batched call of the fast (Rust) tokenizer; the token ids
come back as one flat array with each text's length. Texts are sorted by length and cut
into batches by a token budget — padded tokens per batch, as text-embeddings-inference's
``--max-batch-tokens`` does — so a batch of short texts holds many of them and a batch of
long ones few, and every batch costs about the same. Padded arrays are built with numpy
fancy indexing, not per example (``tokenizer.pad`` over lists of dicts was most of the
time per batch on a GPU, issue 13). The next chunk is read and tokenised on a thread while
the current one runs through the model: the tokenizer releases the GIL, and so do torch
and ONNX Runtime. Results come back in input order.

This module needs numpy and ``tokenizers`` only: the ONNX path runs without torch.

Example:
    >>> import numpy as np
    >>> enc = Encoded.from_lists([[101, 7, 102], [101, 102]])
    >>> [b.tolist() for b in plan_batches(enc.lengths, max_tokens=4)]
    [[0], [1]]
    >>> pad_batch(enc, np.array([0, 1]), pad_id=0)["input_ids"].tolist()
    [[101, 7, 102], [101, 102, 0]]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A backend's forward pass: int64 ``(b, L)`` arrays by input name → a thunk that returns
#: ``(b, k)`` float32 logits. The thunk lets a GPU backend queue the next batch before
#: the host waits for this one's result.
Forward = Callable[[dict[str, np.ndarray]], Callable[[], np.ndarray]]

#: Texts tokenised per call (and sorted by length together). Large enough that sorting
#: finds texts of equal length, small enough that the next chunk's tokenisation overlaps
#: the model's work on this one.
CHUNK_TEXTS = 4096


def model_inputs(names: Iterable[str]) -> tuple[str, ...]:
    """The inputs, among ids, mask and token types, that a model or graph takes."""
    wanted = set(names)
    return tuple(k for k in ("input_ids", "attention_mask", "token_type_ids") if k in wanted)


def position_limit(config: dict[str, Any]) -> int | None:
    """The most tokens the model's position embeddings allow, from its ``config.json``.

    RoBERTa-style models number positions from ``pad_token_id + 1``, so two of their
    ``max_position_embeddings`` are not available to tokens (514 → 512).
    """
    limit = config.get("max_position_embeddings")
    if not isinstance(limit, int) or limit <= 0:
        return None
    if "roberta" in str(config.get("model_type", "")) or config.get("model_type") == "camembert":
        limit -= int(config.get("pad_token_id") or 0) + 1
    return limit


def capped_max_length(max_length: int, config: dict[str, Any], *, where: str = "") -> int:
    """``max_length`` capped at the model's position limit, with one log line when capped.

    A ``max_length`` of 1024 on a 512-position model would otherwise crash inside the
    model ("size of tensor a (1024) must match the size of tensor b (512)").
    """
    limit = position_limit(config)
    if limit is not None and max_length > limit:
        logger.warning(
            "%smax_length %d exceeds the model's %d positions; texts are cut at %d tokens.",
            f"{where}: " if where else "",
            max_length,
            limit,
            limit,
        )
        return limit
    return max_length


@dataclass(frozen=True)
class Encoded:
    """Token ids of ``n`` texts, one after another.

    Attributes:
        ids: ``(total,)`` int64 token ids.
        type_ids: ``(total,)`` int64 token type ids, or ``None`` when not needed.
        lengths: ``(n,)`` int64 tokens per text.
        starts: ``(n,)`` int64 offset of each text's first token in ``ids``.
    """

    ids: np.ndarray
    type_ids: np.ndarray | None
    lengths: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_lists(
        cls, ids: Sequence[Sequence[int]], type_ids: Sequence[Sequence[int]] | None = None
    ) -> Encoded:
        """Build from per-text id lists (what a slow tokenizer or a test gives)."""
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        total = int(lengths.sum())
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=total)
        types = (
            np.fromiter(chain.from_iterable(type_ids), dtype=np.int64, count=total)
            if type_ids is not None
            else None
        )
        starts = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return cls(flat, types, lengths, starts)


class TextEncoder:
    """Texts → :class:`Encoded`, with one batched call of a fast tokenizer.

    Truncation matches ``tokenizer(texts, truncation=True, max_length=…)`` of transformers
    (longest-first, on the tokenizer's side); no padding (batches are padded later, each to
    its own longest text).

    Args:
        tokenizer: A ``tokenizers.Tokenizer``; it is copied, so settings never leak.
        max_length: Truncation length in tokens (special tokens included).
        pad_id: Id of the padding token.
        truncation_side: ``right`` (keep the start) or ``left``.
        type_ids: Also return token type ids (models that take ``token_type_ids``).
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        max_length: int,
        pad_id: int = 0,
        truncation_side: str = "right",
        type_ids: bool = False,
    ) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_str(tokenizer.to_str())
        self._tok.no_padding()
        self._tok.enable_truncation(max_length, direction=truncation_side)
        self.max_length = max_length
        self.pad_id = pad_id
        self.type_ids = type_ids
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets we never use.
        self._encode = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)

    @classmethod
    def from_hf(cls, tokenizer: Any, *, max_length: int, type_ids: bool) -> TextEncoder | None:
        """Wrap a transformers tokenizer's Rust backend (``None`` for a slow tokenizer)."""
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or not getattr(tokenizer, "is_fast", False):
            return None
        return cls(
            backend,
            max_length=max_length,
            pad_id=_pad_id(tokenizer.pad_token_id),
            truncation_side=getattr(tokenizer, "truncation_side", "right") or "right",
            type_ids=type_ids,
        )

    @classmethod
    def from_folder(cls, folder: Path, *, max_length: int, type_ids: bool) -> TextEncoder:
        """Load ``tokenizer.json`` (and the pad token and truncation side) from a model folder.

        Raises:
            FileNotFoundError: when the folder has no ``tokenizer.json``.
        """
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        settings = _read_json(folder / "tokenizer_config.json")
        pad = settings.get("pad_token")
        if isinstance(pad, dict):  # older files store an AddedToken
            pad = pad.get("content")
        pad_id = tok.token_to_id(pad) if isinstance(pad, str) else None
        return cls(
            tok,
            max_length=max_length,
            pad_id=_pad_id(pad_id),
            truncation_side=str(settings.get("truncation_side") or "right"),
            type_ids=type_ids,
        )

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Token ids of ``texts`` (truncated, with special tokens)."""
        encodings = self._encode(list(texts))
        n = len(encodings)
        lengths = np.fromiter((len(e) for e in encodings), dtype=np.int64, count=n)
        total = int(lengths.sum())
        # The one pass over the texts in Python: reading each Rust encoding's id list.
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), np.int64, count=total)
        types = (
            np.fromiter(chain.from_iterable(e.type_ids for e in encodings), np.int64, count=total)
            if self.type_ids
            else None
        )
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return Encoded(ids, types, lengths, starts)


class HFEncoder:
    """:class:`TextEncoder`'s interface over a slow (Python) transformers tokenizer."""

    def __init__(self, tokenizer: Any, *, max_length: int, type_ids: bool) -> None:
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = _pad_id(tokenizer.pad_token_id)
        self.type_ids = type_ids

    def encode(self, texts: Sequence[str]) -> Encoded:
        enc = self._tokenizer(list(texts), truncation=True, max_length=self.max_length)
        types = enc.get("token_type_ids") if self.type_ids else None
        return Encoded.from_lists(enc["input_ids"], types)


def _pad_id(value: Any) -> int:
    # Padded positions are masked out, so any id would do; 0 is a valid id in every vocabulary.
    return int(value) if isinstance(value, int) and value >= 0 else 0


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def texts_list(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of non-empty strings.

    One string is refused, not read as a list of characters. An empty or whitespace-only
    text is refused as the server refuses it and the file readers skip and count it: it
    holds nothing to classify, yet a model would give it a confident label.

    Raises:
        TypeError: for a ``str`` or ``bytes`` (scikit-learn's text vectorizers refuse it
            too), or an item that is not a string.
        ValueError: for an empty or whitespace-only text, naming its position.
    """
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"expected a list of texts, got one string ({texts[:30]!r}); wrap it in a list: "
            "predict([text])."
        )
    texts = texts if isinstance(texts, list) else list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"text {i} is a {type(text).__name__} ({text!r:.30}), not a string; "
                "pass strings (e.g. fill or drop missing values first)."
            )
        if not text or text.isspace():
            blank = sum(1 for t in texts if isinstance(t, str) and not t.strip())
            more = f" (and {blank - 1} more)" if blank > 1 else ""
            raise ValueError(
                f"text {i}{more} is empty or only whitespace, so there is nothing to "
                "classify; drop such texts before predicting."
            )
    return texts


def plan_batches(
    lengths: np.ndarray, *, max_tokens: int, max_texts: int | None = None
) -> list[np.ndarray]:
    """Cut texts into batches of at most ``max_tokens`` padded tokens, longest texts first.

    Each batch holds texts of similar length (sorted), as many as fit the budget when
    padded to the batch's longest, and at most ``max_texts``. A text longer than the
    budget gets a batch of its own. Longest first: a memory problem shows up at once.

    Args:
        lengths: ``(n,)`` tokens per text.
        max_tokens: Budget of padded tokens (batch size × longest length) per batch.
        max_texts: Cap on texts per batch (``None``: the budget alone).

    Returns:
        Index arrays into ``lengths``; together they hold every index exactly once.
    """
    if max_texts is not None and max_texts < 1:
        raise ValueError(f"max_texts={max_texts} must be at least 1")
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches: list[np.ndarray] = []
    start, n = 0, len(order)
    while start < n:
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, max_tokens // longest)
        if max_texts is not None:
            size = min(size, max_texts)
        batches.append(order[start : start + size])
        start += size
    return batches


def pad_batch(
    enc: Encoded, idx: np.ndarray, *, pad_id: int, names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Padded ``(b, L)`` int64 arrays for the texts ``idx``, ``L`` their longest length.

    Args:
        enc: The chunk's token ids.
        idx: ``(b,)`` indices of the texts in the batch.
        pad_id: Id written into padded positions (masked out).
        names: Arrays to return (default ids, mask, and token types when encoded).

    Returns:
        ``input_ids``, ``attention_mask`` and, when asked, ``token_type_ids``.
    """
    lens = enc.lengths[idx]
    width = int(lens.max()) if len(lens) else 0
    positions = np.arange(width, dtype=np.int64)
    mask = positions < lens[:, None]
    # Row-major order of the mask's true cells is the order of the texts' tokens.
    gather = (enc.starts[idx][:, None] + positions)[mask]
    names = names or model_inputs(
        ["input_ids", "attention_mask"] + (["token_type_ids"] if enc.type_ids is not None else [])
    )
    out: dict[str, np.ndarray] = {}
    if "input_ids" in names:
        ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        ids[mask] = enc.ids[gather]
        out["input_ids"] = ids
    if "attention_mask" in names:
        out["attention_mask"] = mask.astype(np.int64)
    if "token_type_ids" in names:
        types = np.zeros((len(idx), width), dtype=np.int64)
        if enc.type_ids is not None:
            types[mask] = enc.type_ids[gather]
        out["token_type_ids"] = types
    return out


class Engine:
    """Runs chunks of texts through a backend's forward pass (see the module docstring).

    Args:
        encoder: A :class:`TextEncoder` (or anything with ``encode`` and ``pad_id``).
        forward: The backend's forward pass (see :data:`Forward`).
        input_names: Arrays the forward pass takes.
        num_labels: Columns of the logits.
        max_tokens: Padded tokens per batch.
        max_texts: Cap on texts per batch (``None``: the budget alone).
        chunk_texts: Texts tokenised per call when given one long list.
    """

    def __init__(
        self,
        encoder: Any,
        forward: Forward,
        *,
        input_names: Sequence[str],
        num_labels: int,
        max_tokens: int,
        max_texts: int | None = None,
        chunk_texts: int = CHUNK_TEXTS,
    ) -> None:
        self.encoder = encoder
        self.forward = forward
        self.input_names = tuple(input_names)
        self.num_labels = num_labels
        self.max_tokens = max_tokens
        self.max_texts = max_texts
        self.chunk_texts = chunk_texts

    def logits(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Logits ``(n, k)`` float32 for ``texts``, in input order.

        Raises:
            TypeError: for one string, which would otherwise be read as a list of
                characters (scikit-learn's text vectorizers refuse it the same way).
        """
        texts = texts_list(texts)
        n = len(texts)
        if n == 0:
            return np.empty((0, self.num_labels), dtype=np.float32)
        if n <= self.chunk_texts:
            # One chunk: nothing to overlap its tokenisation with, so no worker thread
            # (a server calls this per micro-batch; a thread each time costs ~5 %).
            bar = _progress(progress, n)
            try:
                return self._run(self.encoder.encode(texts), bar)
            finally:
                if bar is not None:
                    bar.close()
        chunks = (texts[i : i + self.chunk_texts] for i in range(0, n, self.chunk_texts))
        parts = [out for _, out in self.stream(chunks, _identity, progress=progress, total=n)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def stream(
        self,
        chunks: Iterable[T],
        texts_of: Callable[[T], Sequence[str]],
        *,
        progress: bool = False,
        total: int | None = None,
    ) -> Iterator[tuple[T, np.ndarray]]:
        """``(chunk, logits)`` for each chunk, in order; the next chunk is prepared meanwhile.

        Args:
            chunks: Anything; ``texts_of(chunk)`` gives its texts. Drawn from a worker
                thread (so reading a file overlaps the model too).
            texts_of: The texts of a chunk.
            progress: Show a progress bar ("Predicting").
            total: Texts in all, for the bar (``None``: unknown).
        """
        source = iter(chunks)

        def prepare() -> tuple[T, Encoded] | None:
            chunk = next(source, None)
            if chunk is None:
                return None
            return chunk, self.encoder.encode(texts_of(chunk))

        bar = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="textclf-tokenize") as pool:
                pending = pool.submit(prepare)
                while True:
                    item = pending.result()
                    if item is None:
                        break
                    # The bar starts with the first chunk read: a file refused on its first
                    # rows leaves an error, not an empty bar above it.
                    if bar is None:  # not `bar or …`: a tqdm without a total has no truth value
                        bar = _progress(progress, total)
                    pending = pool.submit(prepare)
                    chunk, enc = item
                    yield chunk, self._run(enc, bar)
        finally:
            if bar is not None:
                bar.close()

    def _run(self, enc: Encoded, bar: Any) -> np.ndarray:
        out = np.empty((len(enc), self.num_labels), dtype=np.float32)
        if len(enc) == 0:
            return out
        waiting: tuple[np.ndarray, Callable[[], np.ndarray]] | None = None
        for idx in plan_batches(enc.lengths, max_tokens=self.max_tokens, max_texts=self.max_texts):
            arrays = pad_batch(enc, idx, pad_id=self.encoder.pad_id, names=self.input_names)
            result = self.forward(arrays)
            # Collect the previous batch only now: a GPU is already busy with this one.
            if waiting is not None:
                self._collect(out, *waiting, bar)
            waiting = (idx, result)
        if waiting is not None:
            self._collect(out, *waiting, bar)
        return out

    @staticmethod
    def _collect(
        out: np.ndarray, idx: np.ndarray, result: Callable[[], np.ndarray], bar: Any
    ) -> None:
        out[idx] = result()
        if bar is not None:
            bar.update(len(idx))


def _identity(x: Sequence[str]) -> Sequence[str]:
    return x


def _progress(enabled: bool, total: int | None) -> Any:
    if not enabled:
        return None
    from textclf.progress import progress_bar  # silenced by textclf -q

    return progress_bar(total=total, desc="Predicting", unit="text")
