"""``textclf predict`` (and ``export``) through the real CLI: formats, records, streaming, crashes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests_support import run_python
from textclf.cli import app
from textclf.inference.files import predict_file
from textclf.inference.pipeline import Predictor
from textclf.inference.reader import InputColumns
from textclf.inference.records import prediction_records

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("restore_cli_state")]

TEXTS = [
    "apple and apricot with avocado number 1",
    "banana and blueberry with barley number 2",
    "grape and guava with ginger number 3",
    "the quick brown fox",
    "unknown words appear here",
    "garlic grape",
]


@pytest.fixture(scope="module")
def model(trained_run) -> Path:
    return trained_run("multiclass")


def _cli(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _expected(model: Path, texts: list[str], rows: list[int]) -> list[dict]:
    predictor = Predictor.from_folder(model, backend="torch", device="cpu")
    proba = predictor.predict_proba(texts)
    return prediction_records(
        proba, predictor.decide(proba), predictor.space, texts=texts, rows=rows
    )


def _same_records(got: list[dict], want: list[dict]) -> None:
    assert [{k: v for k, v in r.items() if k != "scores"} for r in got] == [
        {k: v for k, v in r.items() if k != "scores"} for r in want
    ]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(
            list(g["scores"].values()), list(w["scores"].values()), atol=2e-6
        )


def test_csv_in_jsonl_out_carries_row_text_label_and_scores(model: Path, tmp_path: Path):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(
            [[t, "ignored"] for t in TEXTS[:3]] + [["  ", "x"]] + [[t, "y"] for t in TEXTS[3:]]
        )
    out = tmp_path / "out.jsonl"
    result = _cli("predict", "--model", model, "--input", src, "--output", out)
    assert result.exit_code == 0, result.stderr
    assert "Wrote 6 predictions" in result.stdout and "1 empty row(s) skipped" in result.stdout
    got = _jsonl(out)
    _same_records(got, _expected(model, TEXTS, [1, 2, 3, 5, 6, 7]))
    assert got[0]["text"] == TEXTS[0] and set(got[0]["scores"]) == {"alpha", "beta", "gamma"}


def test_jsonl_in_csv_out(model: Path, tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": f"T{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS))
    )
    out = tmp_path / "out.csv"
    result = _cli("predict", "-m", model, "-i", src, "-o", out, "--id-column", "id", "--top-k", "2")
    assert result.exit_code == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    want = _expected(model, TEXTS, list(range(1, 7)))
    assert [r["id"] for r in table] == [f"T{i}" for i in range(6)]
    assert [r["label"] for r in table] == [r["label"] for r in want]
    assert [r["text"] for r in table] == TEXTS
    assert {"score_alpha", "score_beta", "score_gamma", "top_k"} <= set(table[0])


def test_headless_tsv_with_column_names(model: Path, tmp_path: Path):
    src = tmp_path / "in.tsv"
    src.write_text("".join(f"{t}\tc{i}\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _cli(
        "predict", "-m", model, "-i", src, "-o", out,
        "--column-names", "body,cid", "--text-column", "body", "--id-column", "cid",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    got = _jsonl(out)
    assert [r["id"] for r in got] == [f"c{i}" for i in range(6)]
    _same_records(
        [{k: v for k, v in r.items() if k != "id"} for r in got],
        _expected(model, TEXTS, list(range(1, 7))),
    )


def test_texts_on_the_command_line_go_to_standard_output(model: Path):
    result = CliRunner().invoke(app, ["predict", "-m", str(model), *TEXTS[:3]])
    assert result.exit_code == 0, result.stderr
    _same_records(
        [json.loads(x) for x in result.stdout.splitlines()], _expected(model, TEXTS[:3], [1, 2, 3])
    )
    assert "Wrote 3 predictions to standard output" in result.stderr


def test_standard_input_one_text_per_line_rows_are_line_numbers(model: Path, tmp_path: Path):
    out = tmp_path / "out.jsonl"
    lines = "\r\n".join([TEXTS[0], "", TEXTS[1], TEXTS[2]]) + "\n"
    result = CliRunner().invoke(
        app, ["predict", "-m", str(model), "-i", "-", "-o", str(out)], input=lines
    )
    assert result.exit_code == 0, result.stderr
    _same_records(_jsonl(out), _expected(model, TEXTS[:3], [1, 3, 4]))
    assert "1 empty row(s) skipped (rows [2])" in result.stdout
    assert "textclf-input-" not in result.output  # the temporary copy is never named


def test_standard_input_of_a_format_with_its_columns(model: Path):
    table = "cid,body\n" + "".join(f"c{i},{t}\n" for i, t in enumerate(TEXTS[:3]))
    args = ["predict", "-m", str(model), "-i", "-", "--format", "csv", "--text-column", "body"]
    result = CliRunner().invoke(app, [*args, "--id-column", "cid"], input=table)
    assert result.exit_code == 0, result.stderr
    got = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["id"] for r in got] == ["c0", "c1", "c2"]
    _same_records(
        [{k: v for k, v in r.items() if k != "id"} for r in got],
        _expected(model, TEXTS[:3], [1, 2, 3]),
    )


def test_a_bad_row_on_standard_input_is_named_so_and_nothing_is_written(model: Path):
    table = "text\n" + "".join(f"{t}\n" for t in TEXTS) + '"never closed\n'
    result = CliRunner().invoke(
        app, ["predict", "-m", str(model), "-i", "-", "--format", "csv"], input=table
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: standard input line 8:"), result.stderr
    assert result.stdout == ""  # no record reaches a pipe before every row is read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to predict: give texts, --input FILE, or --input -"),
        (["hello", "-i", "x.csv"], "give texts or --input, not both"),
        (["-i", "-", "--text-column", "body"], "give --format csv, tsv, jsonl, json or parquet"),
        (["hello", "--id-column", "cid"], "texts given on the command line have none"),
    ],
)
def test_what_to_predict_is_checked_in_one_line(model: Path, args: list[str], message: str):
    result = CliRunner().invoke(app, ["predict", "-m", str(model), *args], input="")
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_closed_pipe_ends_predict_quietly(model: Path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-m", "textclf", "-q", "predict", "-m", str(model), "-i", "-"]
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(("\n".join(TEXTS * 2000) + "\n").encode())
    proc.stdin.close()
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=300) == 1
    assert first["row"] == 1 and "error" not in proc.stderr.read().decode()


def test_threshold_on_multiclass_abstains_below_it(model: Path, tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    scores = [max(r["scores"].values()) for r in _expected(model, TEXTS, list(range(1, 7)))]
    cut = float(np.median(scores))  # some texts above it, some below
    result = _cli("predict", "-m", model, "-i", src, "-o", out, "--threshold", cut)
    assert result.exit_code == 0, result.stderr
    got = _jsonl(out)
    assert any(r["label"] is None for r in got) and any(r["label"] is not None for r in got)
    for r in got:
        assert (r["label"] is None) == (max(r["scores"].values()) < cut)
    n_none = sum(r["label"] is None for r in got)
    assert f"; {n_none} given no label (no score reached --threshold)." in result.stdout
    bad = _cli("predict", "-m", model, "-i", src, "-o", out, "--threshold", "1.5")
    assert bad.exit_code == 2 and "between 0 and 1" in bad.stderr


def test_streaming_writes_the_same_records_as_one_chunk(model: Path, tmp_path: Path):
    src = tmp_path / "in.jsonl"
    texts = [f"{TEXTS[i % 6]} {i}" for i in range(40)]
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    predictor = Predictor.from_folder(model, device="cpu")
    one = predict_file(
        predictor, str(src), tmp_path / "one.jsonl", chunk_rows=10_000, progress=False
    )
    many = predict_file(predictor, str(src), tmp_path / "many.jsonl", chunk_rows=3, progress=True)
    assert one.n_written == many.n_written == 40
    # Chunks batch (and so pad) differently: scores may differ in the last printed digit.
    _same_records(_jsonl(tmp_path / "many.jsonl"), _jsonl(tmp_path / "one.jsonl"))
    _same_records(_jsonl(tmp_path / "many.jsonl"), _expected(model, texts, list(range(1, 41))))
    # The fallback reader (read_split) gives the same file for a format it alone reads.
    import pandas as pd

    pd.DataFrame({"text": texts}).to_parquet(tmp_path / "in.parquet")
    predict_file(
        predictor, str(tmp_path / "in.parquet"), tmp_path / "pq.jsonl", chunk_rows=7, progress=False
    )
    _same_records(_jsonl(tmp_path / "pq.jsonl"), _jsonl(tmp_path / "one.jsonl"))


def test_json_output_is_one_array_and_the_input_file_is_never_the_output(
    model: Path, tmp_path: Path
):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "".join(f'"{TEXTS[i % 6]} {i}"\n' for i in range(9)))
    predictor = Predictor.from_folder(model, device="cpu")
    predict_file(predictor, str(src), tmp_path / "p.jsonl", chunk_rows=4, progress=False)
    predict_file(predictor, str(src), tmp_path / "p.json", chunk_rows=4, progress=False)
    array = json.loads((tmp_path / "p.json").read_text())
    assert isinstance(array, list) and len(array) == 9
    _same_records(array, _jsonl(tmp_path / "p.jsonl"))
    before = src.read_bytes()
    same = _cli("predict", "-m", model, "-i", src, "-o", tmp_path / "." / "in.csv")
    assert same.exit_code == 2 and "is the input file" in same.stderr
    assert src.read_bytes() == before


def test_format_reads_a_file_whose_extension_does_not_say_it(model: Path, tmp_path: Path):
    src = tmp_path / "export.dat"
    src.write_text("text,label\n" + "".join(f'"{TEXTS[i % 6]}",x\n' for i in range(6)))
    out = tmp_path / "p.jsonl"
    refused = _cli("predict", "-m", model, "-i", src, "-o", out)
    assert (
        refused.exit_code == 2 and "or pass --format csv|tsv|jsonl|json|parquet" in refused.stderr
    )
    done = _cli("predict", "-m", model, "-i", src, "-o", out, "--format", "csv")
    assert done.exit_code == 0, done.stderr
    assert [r["text"] for r in _jsonl(out)] == [TEXTS[i % 6] for i in range(6)]
    bad = _cli("evaluate", "-m", model, "--data", src, "--format", "xls")
    assert bad.exit_code == 2 and "--format xls: unknown format; use one of csv" in bad.stderr


def test_a_bad_row_half_way_leaves_no_output_and_the_old_one_intact(model: Path, tmp_path: Path):
    src = tmp_path / "in.csv"
    good = "".join(f'"{TEXTS[i % 6]}"\n' for i in range(20))
    src.write_text("text\n" + good + '"an unclosed quote\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old predictions\n")
    predictor = Predictor.from_folder(model, device="cpu")
    from textclf.errors import DataError

    with pytest.raises(DataError, match=r"in\.csv line 22.*never closed"):
        predict_file(predictor, str(src), out, chunk_rows=5, progress=False, spec=InputColumns())
    assert out.read_text() == "old predictions\n"
    assert not list(tmp_path.glob(".out.jsonl.*"))  # the temporary file is removed


def test_a_killed_predict_leaves_no_half_written_file(model: Path, tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "\n".join(TEXTS * 3) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old predictions\n")
    env = {**os.environ, "TEXTCLF_FAIL_AT": "predict_chunk", "HF_HUB_OFFLINE": "1"}
    args = ["-m", "textclf", "predict", "-m", str(model), "-i", str(src), "-o", str(out)]
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == -9, done.stderr  # SIGKILL after the first chunk was written
    assert out.read_text() == "old predictions\n"
    fresh = tmp_path / "fresh.jsonl"
    args[-1] = str(fresh)
    subprocess.run([sys.executable, *args], capture_output=True, env=env, timeout=300)
    assert not fresh.exists()


def test_predict_imports_no_fitting_library(model: Path, tmp_path: Path):
    """Applying a saved rule needs no scikit-learn, which with pandas costs 0.9 s of start-up.

    (transformers itself imports scipy.optimize when it loads a model; the ONNX path, which
    imports neither, is checked for it in test_onnx.py.)
    """
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from textclf.cli import main\n"
        f"sys.argv = ['textclf', 'predict', '-m', {str(model)!r}, '-i', {str(src)!r},"
        f" '-o', {str(tmp_path / 'o.jsonl')!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    heavy = [m for m in ('sklearn', 'pandas') if m in sys.modules]\n"
        "    print('heavy', heavy)\n"
    )
    done = run_python(code)
    assert "heavy []" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "o.jsonl").read_text().count("\n") == 1


def test_backend_onnx_without_an_export_is_one_error_line(model: Path, tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n", encoding="utf-8")
    result = _cli(
        "predict", "-m", model, "-i", src, "-o", tmp_path / "o.jsonl", "--backend", "onnx"
    )
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "textclf export" in errors[0] and str(model) in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()
    unknown = _cli("predict", "-m", model, "-i", src, "-o", tmp_path / "o.jsonl", "--backend", "tf")
    assert unknown.exit_code == 2 and "auto, torch or onnx" in unknown.stderr


def test_export_then_predict_runs_onnx_with_the_same_labels(model: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    result = _cli("export", "--model", folder)
    assert result.exit_code == 0, result.stderr
    assert "model.onnx" in result.stdout and "labels agree 100.00%" in result.stdout
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _cli("predict", "-m", folder, "-i", src, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "(onnx)" in result.stdout
    _same_records_labels = [r["label"] for r in _jsonl(out)]
    assert _same_records_labels == [r["label"] for r in _expected(model, TEXTS, list(range(1, 7)))]
