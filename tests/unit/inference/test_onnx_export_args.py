"""export_onnx refuses bad arguments before it loads anything."""

from __future__ import annotations

import pytest

from textclf.errors import ConfigError
from textclf.inference.onnx_export import OPSETS, export_onnx


@pytest.mark.parametrize("opset", [5, OPSETS[0] - 1, OPSETS[1] + 1, 99])
def test_an_opset_outside_the_exported_range_is_one_line(opset: int) -> None:
    with pytest.raises(ConfigError, match=rf"^--opset {opset}: textclf exports opsets 14 to 20"):
        export_onnx("/nonexistent/model", opset=opset)


def test_an_unknown_quantization_is_refused() -> None:
    with pytest.raises(ConfigError, match="--quantize int4: only int8"):
        export_onnx("/nonexistent/model", quantize="int4")
