"""The PyTorch backend: a model's forward pass for :class:`textclf.inference.engine.Engine`.

Precision is chosen per device (``precision="auto"``):

* **CPU: fp32.** Without AMX tile units (most CPUs, including the AVX-512-BF16 EPYC the
  benchmarks ran on) bf16 matrix products are emulated and slower than fp32
  (``bench/inference_speed.py`` measures both); fp32 also keeps results equal to the
  reference. With AMX, both are timed once and the faster is kept.
* **CUDA: timed once per process and device**, on a batch of the engine's token budget,
  and bf16 kept when it is at least 15 % faster. bf16 runs on a bf16 *copy* of the model:
  autocast re-casts every weight on every forward pass, which is how bf16 measured
  slower than fp32 in issue 13; the copy casts once. The fp32 model stays what
  ``Predictor.model`` is (gradients for attributions need it). bf16 changes
  probabilities by about 1e-3 — float noise next to a model's errors, not a change of
  method — and ``precision="fp32"`` turns it off.

Example:
    >>> backend = TorchBackend(model, device="cpu")  # doctest: +SKIP
    >>> backend.precision  # doctest: +SKIP
    'fp32'
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

# (device name, token budget) → chosen precision: timed once per process.
_CHOSEN: dict[tuple[str, int], str] = {}
# bf16 must beat fp32 by this factor to be kept: a tie is not worth the rounding.
_BF16_MARGIN = 1.15


def pick_device(device: str) -> torch.device:
    """``auto`` → CUDA, else MPS, else CPU; any other name as given."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def _has_amx() -> bool:
    check = getattr(getattr(torch._C, "_cpu", None), "_is_amx_tile_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


class TorchBackend:
    """A sequence-classification model on a device, as an engine ``forward``.

    Args:
        model: The model (moved to ``device`` and put in eval mode).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
        precision: ``auto`` (see the module docstring), ``fp32`` or ``bf16``.

    Raises:
        ValueError: for an unknown precision.
    """

    def __init__(self, model: Any, *, device: str = "auto", precision: str = "auto") -> None:
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.requested = precision
        self.precision = "fp32" if precision == "auto" else precision
        self._runner = self.model if self.precision == "fp32" else self._bf16_copy()

    def _bf16_copy(self) -> Any:
        return copy.deepcopy(self.model).to(dtype=torch.bfloat16).eval()

    def choose_precision(self, sample: dict[str, np.ndarray]) -> None:
        """Settle ``precision="auto"``: time fp32 and bf16 on ``sample`` where that can pay.

        Args:
            sample: A padded batch of the size the engine runs (arrays by input name).
        """
        if self.requested != "auto":
            return
        if self.device.type == "cpu" and not _has_amx():
            return  # fp32: see the module docstring
        if self.device.type not in ("cuda", "cpu"):
            return
        budget = int(next(iter(sample.values())).size)
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu-amx"
        key = (name, budget)
        if key not in _CHOSEN:
            bf16 = self._bf16_copy()
            t32 = self._time(self.model, sample)
            t16 = self._time(bf16, sample)
            _CHOSEN[key] = "bf16" if t32 >= _BF16_MARGIN * t16 else "fp32"
            logger.info(
                "%s: fp32 %.1f ms, bf16 %.1f ms per batch of %d tokens; using %s.",
                name,
                1e3 * t32,
                1e3 * t16,
                budget,
                _CHOSEN[key],
            )
            del bf16
        self.precision = _CHOSEN[key]
        self._runner = self.model if self.precision == "fp32" else self._bf16_copy()
        self.requested = self.precision

    def _time(self, model: Any, sample: dict[str, np.ndarray], repeats: int = 3) -> float:
        best = float("inf")
        for i in range(repeats + 1):
            started = time.perf_counter()
            self.forward_with(model, sample)()
            if i:  # the first run warms up kernels and caches
                best = min(best, time.perf_counter() - started)
        return best

    def forward(self, arrays: dict[str, np.ndarray]) -> Callable[[], np.ndarray]:
        """Queue the batch; the returned thunk gives ``(b, k)`` float32 logits."""
        return self.forward_with(self._runner, arrays)

    def forward_with(self, model: Any, arrays: dict[str, np.ndarray]) -> Callable[[], np.ndarray]:
        with torch.inference_mode():
            inputs = {
                k: torch.from_numpy(v).to(self.device, non_blocking=True) for k, v in arrays.items()
            }
            logits = model(**inputs).logits.float()
        if self.device.type == "cpu":
            out = logits.numpy()
            return lambda: out
        # On a GPU the copy back waits for the kernels; the engine calls this only after it
        # has queued the next batch.
        return lambda: logits.cpu().numpy()
