"""``textclf export``: an ONNX copy of a model folder (optionally int8), checked against torch."""

from __future__ import annotations

from typing import Annotated

import typer

from textclf.cli._common import TrainedModel, run


def export(
    model: TrainedModel,
    quantize: Annotated[
        str | None,
        typer.Option("--quantize", help="Also write an int8 model (dynamic quantisation): int8."),
    ] = None,
    opset: Annotated[
        int | None, typer.Option("--opset", help="ONNX opset, 14 to 20 (default: 17).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Texts (with labels, for the metric) to check parity on (default: the "
            "model's saved test predictions, eval/predictions.jsonl).",
        ),
    ] = None,
) -> None:
    """Export a model to ONNX in MODEL/onnx/ and report its parity with the torch model.

    'textclf predict' then runs it without torch (--backend auto picks it up).
    """

    def body() -> None:
        from textclf.inference.onnx_export import export_onnx, parity_lines

        result = export_onnx(model, quantize=quantize, opset=opset, data=data, progress=True)
        print(f"Wrote {', '.join(f.name for f in result.files)} to {result.folder}.")
        for line in parity_lines(result.parity):
            print(line)

    run(body)
