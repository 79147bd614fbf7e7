"""The device names ``--device`` takes, checked without importing torch.

The ONNX path checks the name too (and never imports torch), so a typo fails the same way
whichever backend runs; :func:`textclf.inference.torch_backend.choose_device` then picks
the device itself.
"""

from __future__ import annotations

from textclf.errors import ConfigError, did_you_mean

#: The device names ``--device`` takes (``cuda:N`` picks one of several GPUs).
DEVICES = ("auto", "cpu", "cuda", "mps")


def check_device(device: str) -> str:
    """``device``'s kind (``auto``, ``cpu``, ``cuda`` or ``mps``).

    Raises:
        ConfigError: for a name that is not a device, with the nearest valid one.
    """
    kind, colon, index = device.partition(":")
    if kind not in DEVICES or (colon and not (kind == "cuda" and index.isdigit())):
        raise ConfigError(
            f"--device {device}: unknown device{did_you_mean(device, DEVICES)} "
            f"(use {', '.join(DEVICES)} or cuda:N)."
        )
    return kind
