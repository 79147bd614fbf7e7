"""The style and architecture rules hold: ruff is clean and imports only go downward."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "bench"],
        ["ruff", "format", "--check", "src", "tests", "bench"],
        ["lint-imports"],
    ],
    ids=["ruff-check", "ruff-format", "import-layers"],
)
def test_tool_is_clean(command: list[str]):
    exe = BIN / command[0]
    if not exe.exists() and shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (pip install 'textclf[dev]')")
    result = subprocess.run(
        [str(exe if exe.exists() else command[0]), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
