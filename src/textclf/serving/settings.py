"""The server's settings: batching, limits, authentication and CORS, checked once at start.

The defaults follow Hugging Face text-embeddings-inference (TEI, ``router/src/main.rs``)
where it has the same knob: a 16,384-token batch budget (``--max-batch-tokens``) and a
2 MB payload limit (``--payload-limit``). TEI counts its queue in requests
(``--max-concurrent-requests``); textclf counts texts, because a request may hold many.

Example:
    >>> ServeSettings(max_texts_per_request=8).max_texts_per_request
    8
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textclf.errors import ConfigError
from textclf.inference.devices import check_device
from textclf.inference.onnx import check_backend

logger = logging.getLogger(__name__)

#: Characters per token assumed by :func:`estimate_tokens`: measured 4.1 on BANKING77 and
#: 4.0 on GoEmotions with the all-MiniLM-L6-v2 WordPiece tokenizer.
CHARS_PER_TOKEN = 4

#: Characters kept per token of ``max_length`` when no ``max_chars`` is given: 8 characters
#: a token is twice the English average, so truncating characters first never cuts text the
#: model would have seen, and a 10 MB string never reaches the tokenizer.
CHARS_PER_TOKEN_KEPT = 8


@dataclass(frozen=True)
class ServeSettings:
    """How the server batches, what it accepts, and who may call it.

    Attributes:
        max_batch_tokens: Token budget of one forward pass (estimated, see
            :func:`estimate_tokens`); a single request larger than it runs alone.
        max_wait_ms: Longest a text waits for others to share its forward pass. The wait
            ends early when no other request is arriving (so one client alone never waits).
        max_queue_texts: Texts that may wait for the model; beyond it requests get 429.
        max_texts_per_request: Texts in one request; beyond it 413.
        max_request_bytes: Bytes of one request body; beyond it 413.
        max_chars: Characters kept of each text (the rest is cut before tokenising);
            ``None``: ``8 × max_length`` of the model.
        api_key_file: File of accepted API keys, one per line; ``None``: no authentication.
        cors_origins: Origins allowed by CORS (none: CORS off).
        backend: ``auto`` (ONNX when ``textclf export`` wrote a checked one, else torch),
            ``torch`` or ``onnx``.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        batch_size: Texts per forward pass inside the engine (``None``: the engine's own
            choice); Ray batches this many texts (64 when ``None``).
        parallel_batches: Micro-batches that run at once, each in its own model thread
            (``None``: :func:`textclf.serving.server.run_server` fills the cores, one batch
            per engine's worth of threads; 1 for an app built directly).
    """

    max_batch_tokens: int = 16384
    max_wait_ms: float = 2.0
    max_queue_texts: int = 4096
    max_texts_per_request: int = 128
    max_request_bytes: int = 2_000_000
    max_chars: int | None = None
    api_key_file: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    backend: str = "auto"
    device: str = "auto"
    batch_size: int | None = None
    parallel_batches: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_batch_tokens",
            "max_queue_texts",
            "max_texts_per_request",
            "max_request_bytes",
            "batch_size",
            "parallel_batches",
        ):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"--{_flag(name)} must be at least 1, not {getattr(self, name)}.")
        check_backend(self.backend)
        check_device(self.device)
        if self.max_wait_ms < 0:
            raise ConfigError(f"--max-wait-ms must be 0 or more, not {self.max_wait_ms}.")
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"--max-chars must be at least 1, not {self.max_chars}.")
        if self.max_queue_texts < self.max_texts_per_request:
            raise ConfigError(
                f"--max-queue-texts ({self.max_queue_texts}) is below --max-texts-per-request "
                f"({self.max_texts_per_request}), so the largest allowed request could never "
                "be queued; raise --max-queue-texts."
            )

    def chars_limit(self, max_length: int) -> int:
        """Characters kept of each text for a model that truncates at ``max_length`` tokens."""
        return self.max_chars or CHARS_PER_TOKEN_KEPT * max_length

    def limits(self, max_length: int) -> dict[str, Any]:
        """The limits as ``/info`` reports them (never the keys)."""
        return {
            "max_batch_tokens": self.max_batch_tokens,
            "max_wait_ms": self.max_wait_ms,
            "max_queue_texts": self.max_queue_texts,
            "max_texts_per_request": self.max_texts_per_request,
            "max_request_bytes": self.max_request_bytes,
            "max_chars": self.chars_limit(max_length),
            "max_length_tokens": max_length,
            "auth": self.api_key_file is not None,
            "cors_origins": list(self.cors_origins),
        }

    def to_json(self) -> str:
        """JSON for the environment of worker processes (it holds the key file's path only)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        data = json.loads(text)
        data["cors_origins"] = tuple(data.get("cors_origins") or ())
        return cls(**data)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def estimate_tokens(text: str, max_length: int) -> int:
    """Tokens ``text`` will take in a batch: ``ceil(chars / 4) + 2`` special tokens, at most
    ``max_length``.

    An estimate, not the tokenizer: the engine's API takes strings and tokenises them
    itself, so counting exactly would tokenise every text twice, the first time on the
    event loop. The budget only bounds the work of one forward pass, so an estimate that is
    off by a constant factor (CJK text has about one character per token) changes the batch
    size, not any prediction; the engine still cuts its own sub-batches.
    """
    return min(max_length, -(-len(text) // CHARS_PER_TOKEN) + 2)


def read_api_keys(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The keys in ``path``: one per line; blank lines and ``#`` comments ignored.

    Several keys let a key be rotated without downtime (add the new one, move the clients,
    remove the old one, restart).

    Raises:
        ConfigError: when the file cannot be read or holds no key.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        mode = file.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{file}: cannot read the API key file ({e}); check --api-key-file."
        ) from e
    keys = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if not keys:
        raise ConfigError(f"{file}: the API key file holds no key; write one key per line.")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning("%s: the API key file is readable by other users; chmod 600 it.", file)
    return keys
