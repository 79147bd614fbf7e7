"""Data builders shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import pandas as pd


def binary_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Disjoint train/validation/test frames of a separable two-class problem."""
    words = {"alpha": "apple apricot avocado almond", "beta": "banana blueberry barley basil"}

    def make(start: int, n: int) -> pd.DataFrame:
        rows = []
        for i in range(start, start + n):
            for lab, vocab in words.items():
                w = vocab.split()
                rows.append({"text": f"{w[i % 4]} with {w[(i + 1) % 4]} item {i}", "label": lab})
        return pd.DataFrame(rows)

    return make(0, 12), make(100, 6), make(200, 6)
