"""Sentence embeddings from the fine-tuned encoder, and 2-D maps of them (PCA, t-SNE, UMAP).

The embedding of a text is the attention-masked mean of the encoder's last hidden state
(the pooling sentence-transformers uses for MiniLM); a map of them shows whether classes
separate, which ones overlap, and where mislabelled or odd examples sit.

Example:
    >>> predictor = Predictor.from_folder("runs/demo")  # doctest: +SKIP
    >>> emb = sentence_embeddings(predictor, texts)  # doctest: +SKIP
    >>> proj = project(emb, method="tsne", seed=13)  # doctest: +SKIP
    >>> proj.coords.shape, proj.note  # doctest: +SKIP
    ((2000, 2), 't-SNE on a random sample of 2,000 of 3,000 examples (seed 13)')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from textclf.errors import ConfigError, missing_extra
from textclf.inference.pipeline import mean_pooled_embeddings

if TYPE_CHECKING:
    from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)

ProjectionMethod = Literal["pca", "tsne", "umap"]
_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}

# t-SNE and UMAP need neighbours to embed: below this many rows they fall back to PCA.
MIN_NONLINEAR = 5

# t-SNE / UMAP cost grows faster than linearly with the number of points, and the map is
# drawn in a report that must build in under 2 minutes on 2 CPU cores. There, 2,000
# MiniLM embeddings take about 6 s with t-SNE and 4 s with UMAP, plus 9 s (numba cache
# warm) to 25 s (fresh install) to import umap and compile it on the first call in a
# process (bench/embedding_speed.py): affordable, so the map shows 2,000 points.
DEFAULT_MAX_POINTS = 2000


def sentence_embeddings(
    predictor: Predictor,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    progress: bool = False,
    fast: bool = True,
) -> np.ndarray:
    """Mean-pooled last hidden states of the fine-tuned encoder.

    Texts are tokenised once, sorted by length and cut into batches padded to their own
    longest text (as :meth:`Predictor.logits` does), so short texts cost little.

    Args:
        predictor: A loaded model; its encoder is ``model.base_model``.
        texts: ``n`` texts (truncated to ``info.max_length`` tokens).
        batch_size: Texts per forward pass.
        progress: Show a progress bar ("Embedding").
        fast: bf16 where the device computes it natively (a map to look at: bf16's
            rounding does not show); ``False``: fp32.

    Returns:
        ``(n, hidden)`` float32, rows in input order.

    Example:
        >>> sentence_embeddings(predictor, ["a", "b c"]).shape  # doctest: +SKIP
        (2, 384)
    """
    return mean_pooled_embeddings(
        predictor.model,
        predictor.tokenizer,
        texts,
        max_length=predictor.info.max_length,
        device=predictor.device,
        batch_size=batch_size,
        progress=progress,
        fast=fast,
    )


@dataclass
class Projection:
    """A 2-D map of (some of) the embeddings.

    Attributes:
        coords: ``(m, 2)`` float32 coordinates.
        index: ``(m,)`` int rows of the input embeddings that ``coords`` show, ascending.
        method: ``pca``, ``tsne`` or ``umap`` — the method actually used (tiny inputs
            fall back to ``pca``).
        note: What to tell the reader, e.g. ``"t-SNE on a random sample of 2,000 of
            3,000 examples (seed 13)"``; ``""`` when every row was used as asked.
    """

    coords: np.ndarray
    index: np.ndarray
    method: str
    note: str = ""


def _pca(x: np.ndarray, seed: int) -> np.ndarray:
    """First two principal components; zero columns where fewer exist (n < 3 or d < 2)."""
    from sklearn.decomposition import PCA

    coords = np.zeros((len(x), 2), dtype=np.float32)
    k = min(2, len(x), x.shape[1])
    if k > 0 and len(x) > 1:
        coords[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x)
    return coords


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(x)
    # PCA to 50 dimensions first (van der Maaten & Hinton 2008): it removes noise and makes
    # the neighbour search several times faster without changing the map much.
    dims = min(50, n, x.shape[1])
    if dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    # Perplexity must stay below n; ~n/3 keeps small inputs from collapsing to a ball.
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    return np.asarray(tsne.fit_transform(x), dtype=np.float32)


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    try:
        import umap
    except ImportError as e:
        raise missing_extra("umap-learn", "diagnostics") from e

    n = len(x)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(15, n - 1),
        # A fixed random_state makes UMAP single-threaded (n_jobs=1 says so, without the
        # library's warning): reproducible maps are worth it.
        random_state=seed,
        n_jobs=1,
        # The spectral initialisation needs a connected graph of more than a few points.
        init="spectral" if n > 10 else "random",
    )
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)


def project(
    embeddings: np.ndarray,
    *,
    method: ProjectionMethod,
    seed: int,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> Projection:
    """Project embeddings to 2-D.

    Args:
        embeddings: ``(n, d)`` array.
        method: ``pca`` (scikit-learn, all rows), ``tsne`` (scikit-learn, after PCA to 50
            dimensions, PCA initialisation) or ``umap`` (umap-learn, the ``diagnostics``
            extra).
        seed: Seeds the sample and the method.
        max_points: t-SNE and UMAP run on a seeded random sample of this many rows when
            ``n`` is larger; ``None`` uses every row. PCA always uses every row.

    Returns:
        The :class:`Projection`; fewer than 5 rows with ``tsne``/``umap`` fall back to
        PCA (explained in ``note``).

    Raises:
        ConfigError: an unknown method, a non-2-D array or ``max_points < 1``.
        MissingExtraError: ``umap`` without umap-learn installed.

    Example:
        >>> proj = project(np.random.default_rng(0).normal(size=(10, 4)), method="pca", seed=0)
        >>> proj.coords.shape, proj.index.tolist() == list(range(10)), proj.note
        ((10, 2), True, '')
    """
    if method not in _NAMES:
        raise ConfigError(f"projection method {method!r} is not known; use pca, tsne or umap.")
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-D (n, d) array, got shape {x.shape}.")
    if max_points is not None and max_points < 1:
        raise ConfigError(f"max_points={max_points} must be at least 1 (or None for all rows).")
    n = len(x)
    name = _NAMES[method]
    index = np.arange(n)
    if n == 0:
        return Projection(
            np.empty((0, 2), dtype=np.float32), index, method, "no examples to project"
        )
    if method == "pca" or n < MIN_NONLINEAR:
        note = ""
        if method != "pca":
            note = (
                f"{name} needs at least {MIN_NONLINEAR} examples; showing PCA of "
                f"{n} example{'s' if n != 1 else ''}"
            )
        if n < 3:
            note = (note + "; " if note else "") + "fewer than 3 examples: the map is degenerate"
        return Projection(_pca(x, seed), index, "pca", note)
    note = ""
    if max_points is not None and n > max_points:
        rng = np.random.default_rng(seed)
        index = np.sort(rng.choice(n, size=max_points, replace=False))
        x = x[index]
        note = f"{name} on a random sample of {max_points:,} of {n:,} examples (seed {seed})"
    if len(x) < MIN_NONLINEAR:  # max_points below 5
        note += f"; {name} needs at least {MIN_NONLINEAR} examples, so this is PCA"
        return Projection(_pca(x, seed), index, "pca", note)
    coords = _tsne(x, seed) if method == "tsne" else _umap(x, seed)
    return Projection(coords, index, method, note)
