"""ONNX export and the ONNX Runtime backend: same logits as torch, int8 agrees, torch never imported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from tests_support import run_python
from textclf.errors import ModelLoadError
from textclf.inference.onnx import (
    FP32_FILE,
    INT8_FILE,
    INT8_MIN_TEXTS,
    ONNX_DIR,
    PARITY_FILE,
    BackendChoice,
    choose_backend,
    int8_acceptable,
    int8_shortfall,
)
from textclf.inference.onnx_export import export_onnx
from textclf.inference.pipeline import Predictor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the multi-class run, exported with int8 (once for the module)."""
    folder = tmp_path_factory.mktemp("onnx") / "model"
    shutil.copytree(trained_run("multiclass"), folder)
    export_onnx(folder, quantize="int8")
    return folder


def _texts(folder: Path) -> list[str]:
    lines = (folder / "eval" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines] + ["an unseen text", "x" * 400]


def test_export_writes_the_files_and_a_parity_report(exported: Path):
    onnx = exported / ONNX_DIR
    assert {p.name for p in onnx.iterdir()} == {FP32_FILE, INT8_FILE, PARITY_FILE}
    parity = json.loads((onnx / PARITY_FILE).read_text())
    assert parity["data"] == "eval/predictions.jsonl" and parity["n_texts"] > 0
    assert parity["opset"] == 17  # what the file holds (the default), not null
    assert parity["fp32"]["label_agreement"] == 1.0
    assert parity["fp32"]["max_abs_proba_diff"] < 1e-4
    assert parity["torch"]["accuracy"] is not None and parity["int8"]["accuracy"] is not None
    assert parity["source"]["sha256"]
    assert not list(exported.glob(".onnx-*"))  # no temporary folders left


def test_onnx_logits_match_torch(exported: Path):
    texts = _texts(exported)
    reference = Predictor.from_folder(exported, backend="torch", device="cpu").logits(texts)
    onnx = Predictor.from_folder(exported, backend="onnx", device="cpu")
    assert onnx.backend in ("onnx", "onnx-int8")
    fp32 = Predictor.from_onnx(exported, exported / ONNX_DIR / FP32_FILE, device="cpu")
    np.testing.assert_allclose(fp32.logits(texts), reference, atol=1e-4)


def test_int8_parity_report_is_what_int8_predicts(exported: Path):
    # What int8 may do to a model is the parity bar's business (auto uses int8 only within
    # it, next test); here: the recorded agreement is the one int8 really has.
    parity = json.loads((exported / ONNX_DIR / PARITY_FILE).read_text())
    lines = (exported / "eval" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    assert parity["n_texts"] == len(texts)
    torch_pred = Predictor.from_folder(exported, backend="torch", device="cpu")
    int8 = Predictor.from_onnx(exported, exported / ONNX_DIR / INT8_FILE, device="cpu")
    got, expected = int8.predict(texts), torch_pred.predict(texts)
    agreement = np.mean([g == e for g, e in zip(got, expected, strict=True)])
    alone = parity["int8"]["alone"]  # int8 without re-checking its closest calls
    assert alone["label_agreement"] == pytest.approx(agreement, abs=1e-6)
    diff = np.abs(int8.predict_proba(texts) - torch_pred.predict_proba(texts)).max()
    assert alone["max_abs_proba_diff"] == pytest.approx(diff, abs=1e-4)
    assert 0 < diff < 1  # quantised, so not bit-identical, and still a probability
    # Re-checking only ever moves int8 towards fp32.
    assert parity["int8"]["label_agreement"] >= alone["label_agreement"]
    assert 0 <= parity["int8"]["rechecked"] <= 1 and parity["int8"]["recheck_below"] >= 0


def test_guarded_int8_rechecks_below_the_saved_margin(exported: Path, tmp_path: Path):
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    parity_file = folder / ONNX_DIR / PARITY_FILE
    parity = json.loads(parity_file.read_text())
    texts = _texts(folder)
    fp32 = Predictor.from_onnx(folder, folder / ONNX_DIR / FP32_FILE, device="cpu").logits(texts)
    alone = Predictor.from_onnx(folder, folder / ONNX_DIR / INT8_FILE, device="cpu").logits(texts)
    int8_choice = BackendChoice("onnx-int8", folder / ONNX_DIR / INT8_FILE, "test")
    # A margin above any possible one (margins are probability gaps, at most 1): every row
    # is re-checked, so the output is fp32's.
    parity["int8"]["recheck_below"] = 1.5
    parity_file.write_text(json.dumps(parity))
    everything = Predictor.from_onnx(folder, int8_choice, device="cpu")
    np.testing.assert_array_equal(everything.logits(texts), fp32)
    assert everything._onnx.rechecked == everything._onnx.seen == len(texts)
    # Margin 0: nothing is re-checked and no fp32 graph is loaded.
    parity["int8"]["recheck_below"] = 0.0
    parity_file.write_text(json.dumps(parity))
    nothing = Predictor.from_onnx(folder, int8_choice, device="cpu")
    np.testing.assert_array_equal(nothing.logits(texts), alone)
    assert nothing._onnx.rechecked == 0 and nothing._onnx._fallback is None


def test_auto_prefers_int8_within_the_bar_and_fp32_otherwise(exported: Path, tmp_path: Path):
    parity = json.loads((exported / ONNX_DIR / PARITY_FILE).read_text())
    choice = choose_backend(exported, "auto", device="cpu")
    assert choice.name == ("onnx-int8" if int8_acceptable(parity) else "onnx")
    assert choose_backend(exported, "torch").name == "torch"
    bad = {**parity, "int8": {**parity["int8"], "label_agreement": 0.99}}
    assert not int8_acceptable(bad)
    dropped = {**parity, "int8": {**parity["int8"], "label_agreement": 1.0, "accuracy_drop": 0.01}}
    assert not int8_acceptable(dropped)
    # Agreement on a handful of texts is no evidence: the bar needs INT8_MIN_TEXTS of them.
    perfect = {**parity["int8"], "label_agreement": 1.0, "accuracy_drop": 0.0}
    assert int8_acceptable({**parity, "n_texts": INT8_MIN_TEXTS, "int8": perfect})
    few = {**parity, "n_texts": 20, "int8": perfect}
    assert not int8_acceptable(few)
    assert f"checked on 20 texts, fewer than the {INT8_MIN_TEXTS}" in int8_shortfall(few)
    from textclf.inference.onnx_export import parity_lines

    assert "int8 is not used by --backend auto (checked on 20 texts" in parity_lines(few)[-1]


def test_evaluate_measures_the_backend_it_is_given_and_records_it(exported: Path, trained_run):
    from textclf.assess_files import evaluate_files
    from textclf.config import EvalConfig

    data = str(trained_run("multiclass").parent / "test.csv")
    small = EvalConfig(n_resamples=100)
    measured = {
        backend: evaluate_files(exported, data, backend=backend, eval_config=small).document
        for backend in ("auto", "torch", "onnx")
    }
    assert measured["auto"]["backend"] == choose_backend(exported, "auto", device="cpu").name
    assert measured["torch"]["backend"] == "torch"
    assert measured["onnx"]["backend"] in ("onnx", "onnx-int8")


def test_parity_data_with_unknown_labels_says_why_accuracy_is_missing(
    exported: Path, tmp_path: Path
):
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    data = tmp_path / "other.csv"
    data.write_text("text,label\nfirst text,no-such-label\nsecond one,no-such-label\n")
    parity = export_onnx(folder, data=str(data)).parity
    assert parity["torch"]["accuracy"] is None and parity["fp32"]["label_agreement"] == 1.0
    assert parity["note"] == "accuracy not measured: labels the model does not know (no-such-label)"


def test_onnx_backend_without_an_export_is_one_clear_error(trained_run):
    with pytest.raises(ModelLoadError, match=r"no ONNX export.*textclf export"):
        choose_backend(trained_run("multiclass"), "onnx")
    assert choose_backend(trained_run("multiclass"), "auto").name == "torch"


def test_a_torch_precision_is_refused_on_onnx_and_warned_about_under_auto(
    exported: Path, caplog: pytest.LogCaptureFixture
):
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--precision bf16: the precision is the torch"):
        Predictor.from_folder(exported, backend="onnx", precision="bf16")
    with caplog.at_level("WARNING"):
        chosen = Predictor.from_folder(exported, backend="auto", precision="bf16")
    assert chosen.backend.startswith("onnx")
    assert "--precision bf16 applies to the torch backend only" in caplog.text


def test_an_export_of_older_weights_is_not_used(exported: Path, tmp_path: Path):
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")  # other weights, same file name
    assert choose_backend(folder, "auto").name == "torch"
    with pytest.raises(ModelLoadError, match="older weights"):
        choose_backend(folder, "onnx")
    (folder / ONNX_DIR / PARITY_FILE).unlink()  # an unfinished export
    with pytest.raises(ModelLoadError, match="unfinished"):
        choose_backend(folder, "onnx")


def test_a_copied_folder_keeps_its_export(exported: Path, tmp_path: Path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder, copy_function=shutil.copy)  # new modification times
    assert choose_backend(folder, "onnx").name in ("onnx", "onnx-int8")


def test_the_onnx_path_never_imports_torch(exported: Path):
    code = (
        "import sys\n"
        "from textclf.inference.pipeline import Predictor\n"
        f"p = Predictor.from_folder({str(exported)!r}, backend='onnx', device='cpu')\n"
        "print(p.predict(['apple and apricot', 'banana']))\n"
        "heavy = ('torch', 'transformers', 'datasets', 'sklearn', 'scipy.optimize', 'pandas')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr


def test_the_onnx_predictor_loads_torch_only_when_asked(exported: Path):
    p = Predictor.from_folder(exported, backend="onnx", device="cpu")
    assert p._model is None
    assert p.model.config.num_labels == len(p.info.labels)  # loaded on first use
    assert p.device.type == "cpu" and p.tokenizer.is_fast


def test_export_refuses_an_unknown_quantisation(exported: Path):
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match="int8"):
        export_onnx(exported, quantize="int4")


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_server_answers_on_the_backend_it_is_given(exported: Path, backend: str):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from textclf.serving.app import create_app, load_predictor
    from textclf.serving.settings import ServeSettings

    settings = ServeSettings(backend=backend, device="cpu", max_wait_ms=0)
    texts = _texts(exported)[:8]
    expected = Predictor.from_folder(exported, backend="torch", device="cpu").predict(texts)
    predictor = load_predictor(exported, settings)
    app = create_app(predictor, settings, model_dir=exported)
    with TestClient(app) as client:
        info = client.get("/info").json()
        assert info["backend"].startswith(backend)  # onnx or onnx-int8
        assert info["device"] == "cpu" and info["precision"] in ("fp32", "int8")
        answer = client.post("/v1/predict", json={"texts": texts})
    assert answer.status_code == 200, answer.text
    if backend == "onnx":  # the server never loaded the torch model beside the session
        assert predictor._torch is None
    labels = [record["label"] for record in answer.json()["predictions"]]
    if backend == "torch":
        assert labels == expected
    else:  # ONNX fp32 or int8: the export's parity bar, not bit-identity
        same = np.mean([a == b for a, b in zip(labels, expected, strict=True)])
        assert same >= 0.75, (labels, expected)


def test_the_session_takes_its_threads_from_omp_num_threads(exported: Path, monkeypatch):
    # `textclf serve --threads N` sets OMP_NUM_THREADS; ONNX Runtime must follow it as torch does.
    from textclf.inference.onnx import OnnxBackend

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    backend = OnnxBackend(exported / ONNX_DIR / FP32_FILE, device="cpu")
    assert backend.session.get_session_options().intra_op_num_threads == 1
    explicit = OnnxBackend(exported / ONNX_DIR / FP32_FILE, device="cpu", threads=2)
    assert explicit.session.get_session_options().intra_op_num_threads == 2
