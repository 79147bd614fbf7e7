"""The one device choice of training and inference (``choose_device``)."""

from __future__ import annotations

import pytest
import torch

from textclf.errors import ConfigError
from textclf.inference import torch_backend
from textclf.inference.torch_backend import choose_device
from textclf.training.resources import select_resources


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        torch_backend, "_cuda_works", lambda index=0: (False, "no CUDA device is visible")
    )
    monkeypatch.setattr(torch_backend, "_mps_works", lambda: False)


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("cdua", "did you mean 'cuda'"),
        ("gpu", "use auto, cpu, cuda, mps"),
        ("cpu:1", "cuda:N"),
        ("cuda:", "cuda:N"),
        ("cuda:x", "cuda:N"),
    ],
)
def test_an_unknown_device_is_refused_naming_the_flag_and_the_nearest_name(typed: str, hint: str):
    with pytest.raises(ConfigError, match=rf"^--device {typed}: unknown device") as info:
        choose_device(typed)
    assert hint in str(info.value)


def test_training_and_inference_refuse_the_same_names():
    with pytest.raises(ConfigError, match="--device cdua"):
        select_resources("cdua", "auto")
    with pytest.raises(ConfigError, match="--device cdua"):
        torch_backend.TorchBackend(torch.nn.Linear(2, 2), device="cdua")


@pytest.mark.usefixtures("no_gpu")
def test_auto_without_a_gpu_is_the_cpu_and_says_so():
    device, note = choose_device("auto")
    assert device == torch.device("cpu")
    assert note.startswith("CPU (")


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.parametrize("asked", ["cuda", "cuda:1", "mps"])
def test_an_unusable_gpu_falls_back_to_the_cpu_with_a_warning(
    asked: str, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level("WARNING", logger="textclf.inference.torch_backend"):
        device, _ = choose_device(asked)
    assert device == torch.device("cpu")
    assert "running on the CPU instead" in caplog.text
    assert select_resources(asked, "fp32").device == "cpu"


def test_the_gpu_asked_for_by_index_is_the_one_checked(monkeypatch: pytest.MonkeyPatch):
    checked: list[int] = []

    def works(index: int = 0) -> tuple[bool, str]:
        checked.append(index)
        return (True, f"Test GPU {index}") if index < 2 else (False, f"there is no GPU {index}")

    monkeypatch.setattr(torch_backend, "_cuda_works", works)
    monkeypatch.setattr(torch_backend, "_mps_works", lambda: False)
    assert choose_device("cuda:1") == (torch.device("cuda:1"), "GPU: Test GPU 1")
    assert choose_device("auto") == (torch.device("cuda"), "GPU: Test GPU 0")
    assert choose_device("cuda:5")[0] == torch.device("cpu")
    assert checked == [1, 0, 5]
