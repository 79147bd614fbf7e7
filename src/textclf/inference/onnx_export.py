"""Export a model folder to ONNX and check the copy against the torch model.

``textclf export --model DIR [--quantize int8]`` writes ``DIR/onnx/`` (see
:mod:`textclf.inference.onnx`, which runs it). ``parity.json`` holds label agreement and
the largest probability difference against the torch model, and the accuracy and headline
metric before and after, on the model's saved test predictions (``eval/predictions.jsonl``)
or a given data file; for int8, also the share of texts the guard re-checks in fp32.

Example:
    >>> report = export_onnx("runs/demo", quantize="int8")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from textclf.errors import ConfigError, ModelLoadError, missing_extra
from textclf.inference.onnx import (
    FP32_FILE,
    INT8_FILE,
    INT8_GUARD_TARGET,
    ONNX_DIR,
    PARITY_FILE,
    PARITY_MAX_TEXTS,
    int8_shortfall,
    load_onnxruntime,
    weights_fingerprint,
)

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """What ``export_onnx`` wrote and measured."""

    folder: Path
    files: list[Path]
    parity: dict[str, Any]


def _parity_data(
    folder: Path, data: str | None, space: Any
) -> tuple[list[str], np.ndarray | None, str, str]:
    """Texts (and encoded true labels when known) for the parity check, their source, and
    why labels that were there are not used (``""`` otherwise)."""
    if data is not None:
        from textclf.data.io import ColumnSpec, read_split

        split = read_split(data, ColumnSpec(), name="test", require_labels=False)
        texts = list(split.dataset["text"][:PARITY_MAX_TEXTS])
        y = None
        if split.labelled:
            labels = split.dataset["labels"][: len(texts)]
            unknown = space.unknown(labels)
            if unknown:
                why = f"labels the model does not know ({', '.join(sorted(unknown)[:5])})"
                logger.warning("%s: %s; parity shows agreement only.", data, why)
                return texts, None, str(data), why
            y = space.encode(labels)
        return texts, y, str(data), ""
    saved = folder / "eval" / "predictions.jsonl"
    if not saved.is_file():
        return [], None, "", ""
    texts, true = [], []
    with open(saved, encoding="utf-8") as f:
        for line in f:
            if len(texts) >= PARITY_MAX_TEXTS:
                break
            if line.strip():
                rec = json.loads(line)
                if isinstance(rec.get("text"), str):
                    texts.append(rec["text"])
                    true.append(rec.get("true"))
    if not texts:
        return [], None, "", ""
    y = None
    if all(t is not None for t in true):
        lists = [t if isinstance(t, list) else [t] for t in true]
        if not space.unknown(lists):
            y = space.encode(lists)
    return texts, y, str(saved.relative_to(folder)), ""


def _summary(
    rule: Any, task: str, proba: np.ndarray, y: np.ndarray | None
) -> dict[str, float | None]:
    from textclf.evaluation.metrics import classification_metrics, headline_metric

    if y is None:
        return {"accuracy": None, "headline": None}
    pred = rule.decide(proba)
    if task == "multilabel":
        accuracy = float(np.mean(np.all(pred == y, axis=1)))
    else:
        accuracy = float(np.mean(pred == y))
    metrics = classification_metrics(task, y, proba, threshold=rule.thresholds)
    value = metrics.get(headline_metric(task))
    return {"accuracy": accuracy, "headline": None if value is None else float(value)}


def _compare(
    rule: Any, reference: np.ndarray, candidate: np.ndarray, y: np.ndarray | None, task: str
) -> dict[str, Any]:
    ref_pred, cand_pred = rule.decide(reference), rule.decide(candidate)
    same = ref_pred == cand_pred
    agreement = float(np.mean(same if same.ndim == 1 else np.all(same, axis=1)))
    before, after = _summary(rule, task, reference, y), _summary(rule, task, candidate, y)
    drop = (
        None
        if before["accuracy"] is None or after["accuracy"] is None
        else round(before["accuracy"] - after["accuracy"], 6)
    )
    return {
        "label_agreement": round(agreement, 6),
        "max_abs_proba_diff": float(np.max(np.abs(reference - candidate)))
        if len(reference)
        else 0.0,
        "accuracy": after["accuracy"],
        "accuracy_drop": drop,
        "headline": after["headline"],
    }


def _guard_margin(margins: np.ndarray, wrong: np.ndarray) -> float:
    """The smallest margin below which re-checking reaches ``INT8_GUARD_TARGET`` agreement.

    Re-checked rows take fp32's decision, so the disagreements with the smallest margins
    are the ones fixed; ``0.0`` when int8 alone reaches the target.
    """
    allowed = int(np.floor((1 - INT8_GUARD_TARGET) * len(margins)))
    missed = np.sort(margins[wrong])
    need = len(missed) - allowed
    return 0.0 if need <= 0 else float(np.nextafter(missed[need - 1], np.inf))


def _guarded(
    rule: Any, reference: np.ndarray, fp32: np.ndarray, int8: np.ndarray, *, seed: int = 0
) -> tuple[np.ndarray, float, float]:
    """int8 with its closest calls re-checked in fp32, cross-fitted on two halves.

    Each half is guarded with the margin fitted on the other half, so the agreement it
    shows is what the margin does on texts it was not fitted on.

    Returns:
        The cross-fitted guarded probabilities, the share of rows re-checked, and the
        margin fitted on all rows (the one saved for prediction).
    """
    margins = rule.margins(int8)
    same = rule.decide(int8) == rule.decide(reference)
    wrong = ~(same if same.ndim == 1 else np.all(same, axis=1))
    halves = np.random.default_rng(seed).permutation(len(int8)) % 2
    recheck = np.zeros(len(int8), dtype=bool)
    for half in (0, 1):
        fit, held = halves != half, halves == half
        below = _guard_margin(margins[fit], wrong[fit])
        recheck[held] = margins[held] < below
    guarded = np.where(recheck[:, None], fp32, int8)
    return guarded, float(recheck.mean()) if len(recheck) else 0.0, _guard_margin(margins, wrong)


#: The opsets ``--opset`` accepts. Below 14 torch's TorchScript exporter cannot write
#: scaled-dot-product attention and the dynamo fallback silently writes opset 18 instead;
#: above 20 that exporter stops (torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET).
OPSETS = (14, 20)


def _export_graph(model: Any, tokenizer: Any, path: Path, opset: int | None) -> None:
    """``torch.onnx.export`` with dynamic batch and sequence axes.

    The TorchScript exporter first: onnxruntime's CPU graph fusions were written for the
    graphs it emits. On the Banking77 model (2 cores, 3,080 texts) its graph ran in 8.5 s
    against 12.4 s for the dynamo exporter's, whose LayerNorm fusions made it slower than
    with no fusions at all (9.9 s); labels agreed on every text, max |dp| 2e-5. torch
    deprecates that exporter, so a model it cannot trace, or a torch without it, falls
    back to the dynamo exporter.
    """
    import torch

    names = [
        n
        for n in ("input_ids", "attention_mask", "token_type_ids")
        if n in tokenizer.model_input_names
    ]
    # Two texts of different lengths: neither axis is 1, so neither is specialised away.
    sample = tokenizer(
        ["an example text", "a second, somewhat longer example text for the export"],
        padding=True,
        return_tensors="pt",
    )
    kwargs = {n: sample[n] for n in names}
    with torch.inference_mode(False), torch.no_grad():
        try:
            _export_torchscript(model, kwargs, names, path, opset)
            return
        except Exception as e:  # any failure falls back to the other exporter
            logger.info("TorchScript ONNX export failed (%s); using the dynamo exporter.", e)
        from torch.export import Dim

        batch, seq = Dim("batch"), Dim("sequence")
        program = torch.onnx.export(
            model,
            (),
            kwargs=kwargs,
            input_names=names,
            output_names=["logits"],
            dynamic_shapes={n: {0: batch, 1: seq} for n in names},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    if program is None:  # the dynamo exporter always returns one; keep mypy honest
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(path), external_data=False)


def _logits_only(model: Any, names: list[str]) -> Any:
    """The classifier as a module of positional inputs that returns the logits (for tracing)."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).logits

    return LogitsOnly()


def _export_torchscript(
    model: Any, kwargs: dict[str, Any], names: list[str], path: Path, opset: int | None
) -> None:
    import torch

    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            _logits_only(model, names),
            tuple(kwargs[n] for n in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset or 17,
            dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (onnxruntime.quantization).

    Per-channel weight scales: on the Banking77 model they halved the labels that change
    against fp32 (6.5 % → 2.9 % on a weak 1-epoch model) at the same speed; excluding the
    feed-forward layers gained little more and cost a third of the speed-up.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a line per node through the root logger, and a suggestion to
    # pre-process that we measured no gain from: keep the terminal to textclf's lines.
    with _quiet({"": logging.ERROR}):
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


@contextlib.contextmanager
def _quiet(levels: dict[str, int]) -> Iterator[None]:
    """Raise the given loggers' levels inside the block (``""`` is the root logger)."""
    saved = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logger_ = logging.getLogger(name)
        logger_.setLevel(max(logger_.getEffectiveLevel(), level))
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def export_onnx(
    model_dir: str | os.PathLike[str],
    *,
    quantize: str | None = None,
    opset: int | None = None,
    data: str | None = None,
    progress: bool = False,
) -> ExportResult:
    """Export a model folder to ``DIR/onnx`` and check it against the torch model.

    Args:
        model_dir: A folder from ``textclf train`` (or ``save_pretrained``).
        quantize: ``int8`` to also write ``model.int8.onnx``.
        opset: ONNX opset, 14 to 20 (default: 17).
        data: A data file to check parity on (default: ``eval/predictions.jsonl``).
        progress: Show progress bars while checking.

    Returns:
        The files written and the parity document (also in ``onnx/parity.json``).

    Raises:
        ConfigError: an unknown ``quantize``.
        ModelLoadError: a folder that is not a model, or no ``tokenizer.json``.
        MissingExtraError: without onnx, onnxruntime or onnxscript.
        DataError: an unreadable ``data`` file.
    """
    if quantize not in (None, "int8"):
        raise ConfigError(f"--quantize {quantize}: only int8 is supported.")
    if opset is not None and not OPSETS[0] <= opset <= OPSETS[1]:
        raise ConfigError(
            f"--opset {opset}: textclf exports opsets {OPSETS[0]} to {OPSETS[1]}; choose one of "
            "them, or leave --opset out for 17."
        )
    load_onnxruntime()
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError as e:
            raise missing_extra(package, "onnx") from e
    from textclf.atomic import make_temp_dir
    from textclf.inference.pipeline import Predictor
    from textclf.persistence import load_model_folder

    folder = Path(model_dir)
    model, tokenizer, info = load_model_folder(folder)
    if not (folder / "tokenizer.json").is_file():
        raise ModelLoadError(
            f"{folder}: no tokenizer.json; the ONNX backend needs a fast tokenizer, so save "
            "the model with a fast tokenizer (AutoTokenizer.from_pretrained(...).save_pretrained)."
        )
    texts, y, source, unused = _parity_data(folder, data, info.space)
    started = datetime.now(UTC)
    tmp = make_temp_dir(folder, ".onnx-")
    try:
        fp32 = tmp / FP32_FILE
        logger.info("Exporting %s to ONNX …", folder)
        try:
            # The exporter and onnxscript's optimiser log every rewrite at INFO, and torch
            # warns about torchvision ops a text model never has.
            with (
                _quiet({"onnxscript": logging.WARNING, "torch.onnx": logging.ERROR}),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", UserWarning)
                _export_graph(model.eval(), tokenizer, fp32, opset)
        except Exception as e:
            raise ModelLoadError(
                f"{folder}: torch.onnx could not export this model ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}); use --backend torch for it."
            ) from e
        files = [fp32]
        if quantize == "int8":
            logger.info("Quantising to int8 …")
            _quantize(fp32, tmp / INT8_FILE)
            files.append(tmp / INT8_FILE)
        parity: dict[str, Any] = {
            "created": started.isoformat(timespec="seconds"),
            "source": weights_fingerprint(folder),
            "opset": _written_opset(fp32),
            "data": source or None,
            "n_texts": len(texts),
            "task": info.task,
        }
        if unused:
            parity["note"] = f"accuracy not measured: {unused}"
        if texts:
            logger.info("Checking parity on %d texts from %s …", len(texts), source)
            torch_pred = Predictor(model, tokenizer, info, device="cpu")
            rule = info.rule
            reference = rule.probabilities(torch_pred.logits(texts, progress=progress))
            parity["torch"] = _summary(rule, info.task, reference, y)
            probas: dict[str, np.ndarray] = {}
            for name, file in (("fp32", fp32), ("int8", tmp / INT8_FILE)):
                if not file.is_file():
                    continue
                onnx_pred = Predictor.from_onnx(folder, file, info=info, device="cpu")
                probas[name] = rule.probabilities(onnx_pred.logits(texts, progress=progress))
                parity[name] = _compare(rule, reference, probas[name], y, info.task)
            if "int8" in probas:
                guarded, share, below = _guarded(rule, reference, probas["fp32"], probas["int8"])
                parity["int8"] = {
                    **_compare(rule, reference, guarded, y, info.task),
                    "recheck_below": below,
                    "rechecked": round(share, 6),
                    "alone": parity["int8"],
                }
        else:
            parity["note"] = (
                "no eval/predictions.jsonl and no --data: parity not measured, so int8 is not "
                "used automatically"
            )
        (tmp / PARITY_FILE).write_text(json.dumps(parity, indent=2) + "\n", encoding="utf-8")
        target = folder / ONNX_DIR
        if target.exists():
            old = make_temp_dir(folder, ".onnx-old-")
            os.replace(target, old / ONNX_DIR)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(folder=target, files=[target / f.name for f in files], parity=parity)


def _written_opset(path: Path) -> int | None:
    """The default-domain opset the exporter wrote (the dynamo fallback may pick its own)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # a record of the export, never a reason to fail it
        return None
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def parity_lines(parity: dict[str, Any]) -> list[str]:
    """The parity document as a few lines for the terminal."""
    lines = []
    base = parity.get("torch") or {}

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}%"

    if parity.get("n_texts"):
        lines.append(
            f"Parity on {parity['n_texts']} texts from {parity.get('data')}: torch accuracy "
            f"{pct(base.get('accuracy'))}, headline {_num(base.get('headline'))}"
        )
    for name in ("fp32", "int8"):
        check = parity.get(name)
        if isinstance(check, dict):
            alone = check.get("alone")
            how = ""
            if isinstance(alone, dict):
                how = (
                    f" (with the {pct(check.get('rechecked'))} closest calls re-checked in fp32; "
                    f"int8 alone {pct(alone.get('label_agreement'))})"
                )
            lines.append(
                f"  onnx {name}: labels agree {pct(check['label_agreement'])}{how}, max |Δp| "
                f"{check['max_abs_proba_diff']:.2e}, accuracy {pct(check.get('accuracy'))}, "
                f"headline {_num(check.get('headline'))}"
            )
    if "int8" in parity:
        why = int8_shortfall(parity)
        lines.append(
            "  int8 is used by --backend auto"
            if why is None
            else f"  int8 is not used by --backend auto ({why}): auto uses fp32"
        )
    if parity.get("note"):
        lines.append(f"  note: {parity['note']}")
    return lines


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{v:.4f}"


__all__ = ["ExportResult", "export_onnx", "parity_lines"]
