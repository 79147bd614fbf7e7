"""Fail points: named places where a test can make the process die on purpose.

The chaos test (``tests/integration/test_chaos.py``) proves that ``--resume`` recovers from
a crash at every stage of a run. Killing a process "at the right moment" by timing is a
race; instead the run itself dies at a named point when the environment asks it to, the
way FoundationDB's and TiKV's fail points work. Unset (always, outside tests), a fail
point is one dictionary lookup.

``TEXTCLF_FAIL_AT=<point>[:<n>[:<signal>]]`` kills the process with SIGKILL (or the named
signal: ``TERM``, ``INT``) the ``n``-th time (default the first) that :func:`fail_point` is
reached with that name. The points are listed in :data:`POINTS`.

Example:
    >>> fail_point("train_step")  # a no-op unless TEXTCLF_FAIL_AT names it
"""

from __future__ import annotations

import os
import signal

ENV = "TEXTCLF_FAIL_AT"

POINTS = (
    "train_step",  # after an optimizer step, between checkpoints
    "checkpoint_save",  # inside a checkpoint save: weights written, optimizer/state not yet
    "evaluation",  # inside an evaluation during training
    "final_save",  # inside the model-folder save: weights in place, textclf.json not yet
    "assess",  # during the final evaluation, after training
    "report",  # while eval/report.html and the figures are written
)

_counts: dict[str, int] = {}


def fail_point(name: str) -> None:
    """Die with SIGKILL here if ``TEXTCLF_FAIL_AT`` names this point (see the module doc)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, rest = spec.partition(":")
    if point != name:
        return
    nth, _, sig = rest.partition(":")
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):  # a handled signal reaches it once, not at every pass
        os.kill(os.getpid(), getattr(signal, f"SIG{sig or 'KILL'}"))
