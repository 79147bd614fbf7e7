"""Progress bars that ``-q`` silences everywhere.

Every long loop in textclf draws its bar through :func:`progress_bar`, so one switch —
``TEXTCLF_QUIET=1``, which ``textclf -q`` sets — hides them all, while Python users keep
bars by default (as with the Hugging Face libraries).

Example:
    >>> with progress_bar(total=3, desc="Working", enabled=False) as bar:
    ...     bar.update(3)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

QUIET_ENV = "TEXTCLF_QUIET"


def quiet() -> bool:
    """True when progress output is switched off (``textclf -q`` or ``TEXTCLF_QUIET=1``)."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    **kwargs: Any,
) -> Any:
    """A ``tqdm`` bar, disabled when ``enabled`` is false or textclf is quiet."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled or quiet(),
        dynamic_ncols=True,
        **kwargs,
    )
