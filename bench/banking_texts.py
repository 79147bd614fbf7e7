"""Texts for the benchmarks: BANKING77 from ../shared/data when present, else synthetic ones.

The synthetic sentences draw from a small banking vocabulary, so that a benchmark runs
(with similar text lengths) on a machine without the shared data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "test.csv"
WORDS = [
    "card",
    "transfer",
    "payment",
    "refund",
    "cash",
    "atm",
    "fee",
    "pin",
    "app",
    "account",
    "top",
    "up",
    "exchange",
    "rate",
]


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences of 4 to 15 banking words, the same for the same seed."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 16, size=n)
    picks = rng.integers(0, len(WORDS), size=int(lengths.sum()))
    out, at = [], 0
    for k in lengths:
        out.append(" ".join(WORDS[j] for j in picks[at : at + k]))
        at += k
    return out


def main() -> None:
    """Print some of the texts the benchmarks would use, one per line."""
    import argparse

    import pandas as pd

    parser = argparse.ArgumentParser(
        description="Helper module of the speed benchmarks: prints the texts they would use "
        f"(BANKING77's test split from {BANKING77} when present, else synthetic banking "
        "sentences)."
    )
    parser.add_argument("--n", type=int, default=5, help="how many texts to print (default 5)")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="print synthetic texts even when BANKING77 is present",
    )
    args = parser.parse_args()
    if args.n < 1:
        parser.error(f"--n must be at least 1, not {args.n}")
    if BANKING77.is_file() and not args.synthetic:
        texts = pd.read_csv(BANKING77)["text"].astype(str).head(args.n).tolist()
    else:
        texts = synthetic_texts(args.n)
    print("\n".join(texts))


if __name__ == "__main__":
    main()
