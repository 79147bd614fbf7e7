"""The training sampler: length-grouped batches, served in random order."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from textclf.training.trainer import ShuffledLengthGroupedSampler


def _batches(lengths: list[int], size: int, seed: int = 0) -> list[list[int]]:
    sampler = ShuffledLengthGroupedSampler(
        size, lengths=lengths, generator=torch.Generator().manual_seed(seed)
    )
    order = list(sampler)
    return [order[i : i + size] for i in range(0, len(order), size)]


def test_every_text_once_and_the_longest_batch_first() -> None:
    lengths = np.random.default_rng(0).integers(5, 120, size=1000).tolist()
    batches = _batches(lengths, 32)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    assert max(lengths) in [lengths[i] for i in batches[0]]


def test_batches_need_less_padding_than_random_ones() -> None:
    lengths = np.random.default_rng(1).integers(5, 120, size=2000).tolist()
    grouped = _batches(lengths, 32)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in grouped)
    rng = np.random.default_rng(2)
    perm = rng.permutation(2000)
    random_padded = sum(
        len(perm[i : i + 32]) * max(lengths[j] for j in perm[i : i + 32])
        for i in range(0, 2000, 32)
    )
    assert padded < 0.8 * random_padded


def test_no_long_to_short_sweep_within_the_epoch() -> None:
    # HF's LengthGroupedSampler yields each mega-batch's batches longest first; a 1-epoch
    # run then ends every mega-batch on its shortest texts, which cost SST-2 accuracy.
    lengths = np.random.default_rng(3).integers(5, 120, size=4000).tolist()
    maxima = [max(lengths[i] for i in b) for b in _batches(lengths, 32)[1:]]
    rises = sum(b > a for a, b in itertools.pairwise(maxima))
    # sorted mega-batches would give a rise only at mega-batch boundaries (under 20 of 124)
    assert rises > len(maxima) // 3


def test_another_seed_gives_another_order() -> None:
    lengths = list(range(10, 330))
    assert _batches(lengths, 16, seed=0) != _batches(lengths, 16, seed=1)
