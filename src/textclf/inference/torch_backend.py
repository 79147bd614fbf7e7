"""The PyTorch backend: a model's forward pass for :class:`textclf.inference.engine.Engine`.

Precision is chosen per device (``precision="auto"``):

* **CPU: fp32**, so results equal the reference implementation. bf16 is an opt-in
  (``precision="bf16"``): on the 2-core AVX512-BF16 EPYC of ``bench/inference_speed.py``
  it ran the Banking77 MiniLM 2.0× faster than fp32 but changed 0.9 % of its labels (a
  weak 1-epoch model with small margins); CPUs with neither AVX512-BF16 nor AMX emulate
  bf16 and run it slower than fp32.
* **CUDA: timed once per process and device** on a batch of the engine's token budget,
  and bf16 kept when it is at least 15 % faster. bf16 runs on a bf16 *copy* of the model:
  autocast re-casts every weight on every forward pass, which is how bf16 measured
  slower than fp32 in issue 13; the copy casts once. The fp32 model stays what
  ``Predictor.model`` is (gradients for attributions need it). On a GPU throughput is the
  point and bf16 its usual inference precision; ``precision="fp32"`` turns it off.

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

from textclf.errors import ConfigError
from textclf.inference.devices import check_device

logger = logging.getLogger(__name__)

# (device name, token budget) → chosen precision: timed once per process.
_CHOSEN: dict[tuple[str, int], str] = {}
# bf16 must beat fp32 by this factor to be kept: a tie is not worth the rounding.
_BF16_MARGIN = 1.15


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (x86 AVX512-BF16 or AMX-BF16).

    Read from ``/proc/cpuinfo``: torch exposes no public check (its
    ``mkldnn._is_mkldnn_bf16_supported`` is true for any AVX-512 CPU, where bf16 is
    emulated). Elsewhere (macOS, Windows, ARM) ``False``: fp32, the safe choice.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively: an Ampere-or-later GPU, or a CPU with
    :func:`cpu_has_native_bf16`. Where it does, bf16 autocast roughly halves the time of a
    forward pass (measured on the 2-core AVX512-BF16 EPYC: 400 pathology reports embedded
    in 4.5 s instead of 11.1 s); elsewhere bf16 is emulated and slower than fp32.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return kind == "cpu" and cpu_has_native_bf16()


def _cuda_works(index: int = 0) -> tuple[bool, str]:
    """Whether CUDA runs a kernel on GPU ``index`` here, and its name or why it does not."""
    if not torch.cuda.is_available():
        return False, "no CUDA device is visible"
    if index >= torch.cuda.device_count():
        return False, f"there is no GPU {index} ({torch.cuda.device_count()} visible)"
    try:
        torch.zeros(1, device=f"cuda:{index}").add_(1)
        torch.cuda.synchronize(index)
    except Exception as e:  # a broken driver or a busy GPU raises many different types
        return False, f"CUDA is present but unusable ({type(e).__name__}: {e})"
    return True, torch.cuda.get_device_name(index)


def _mps_works() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(device: str = "auto") -> tuple[torch.device, str]:
    """The one device choice of training and inference, with a plain-words note.

    ``auto``: a CUDA GPU that runs a kernel, else Apple's MPS, else the CPU. A GPU asked
    for by name but not usable falls back to the CPU with a warning, rather than failing
    at the first forward pass.

    Raises:
        ConfigError: for a name that is not a device, with the nearest valid one.
    """
    kind = check_device(device)
    if kind in ("auto", "cuda"):
        ok, detail = _cuda_works(int(device.partition(":")[2] or 0))
        if ok:
            return torch.device(device if kind == "cuda" else "cuda"), f"GPU: {detail}"
        if kind == "cuda":
            logger.warning("A GPU was requested but %s; running on the CPU instead.", detail)
            return torch.device("cpu"), f"a GPU was requested but {detail}; CPU instead"
    if kind in ("auto", "mps") and _mps_works():
        return torch.device("mps"), "Apple GPU (MPS)"
    if kind == "mps":
        logger.warning("MPS was requested but is not available; running on the CPU instead.")
    return torch.device("cpu"), f"CPU ({torch.get_num_threads()} threads)"


def _timed(device: torch.device) -> bool:
    """Whether ``precision="auto"`` times fp32 against bf16 on this device (see above)."""
    return device.type == "cuda"


class TorchBackend:
    """A sequence-classification model on a device, as an engine ``forward``.

    Args:
        model: The model (moved to ``device`` and put in eval mode).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
        precision: ``auto`` (see the module docstring), ``fp32`` or ``bf16``.

    Raises:
        ConfigError: for an unknown precision.
    """

    def __init__(self, model: Any, *, device: str = "auto", precision: str = "auto") -> None:
        if precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(
                f"--precision {precision}: unknown precision; use auto, fp32 or bf16."
            )
        self.device, _ = choose_device(device)
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
        if self.requested != "auto" or not _timed(self.device):
            return  # fp32 (see the module docstring)
        budget = int(next(iter(sample.values())).size)
        name = (
            torch.cuda.get_device_name(self.device)
            if self.device.type == "cuda"
            else self.device.type
        )
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
