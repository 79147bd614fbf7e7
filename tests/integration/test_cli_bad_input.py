"""Bad input through the real CLI: one "error:" line naming the file, exit code 2, nothing written.

Every malformed file here fails while the data is read or checked, before any model is
loaded or trained, so these tests are fast even though they go through ``textclf train``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from textclf import __version__
from textclf.cli import app

pytestmark = pytest.mark.usefixtures("restore_cli_state")


def _good_csv(path: Path) -> Path:
    rows = "".join(f"good text number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(12))
    path.write_text("text,label\n" + rows, encoding="utf-8")
    return path


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _assert_one_clean_error(result: Result, *, names: str, where: str | None = None) -> str:
    """Exit 2, one "error:" line that names ``names`` (and ``where``), no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert names in line
    if where is not None:
        assert re.search(rf"\b{where}\b", line), line
    assert "Traceback" not in result.stderr + result.stdout
    return line


# name → (file content, what the error line must say about the place)
BAD_FILES: dict[str, tuple[bytes, str | None]] = {
    "broken.jsonl": (
        b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", "label": \n',
        "line 3",
    ),
    "no_label_column.csv": (b"text,category_name\na,x\nb,y\nc,x\n", None),
    "all_empty_texts.csv": (b"text,label\n ,x\n\t,y\n   ,x\n,y\n", None),
    "missing_label.csv": (b"text,label\na,x\nb,y\nc,\nd,x\ne,y\n", "row 3"),
    "single_class.csv": (b"text,label\na,x\nb,x\nc,x\nd,x\n", None),
    "garbage.csv": (bytes(range(256)) * 4 + b"\x00\x00\xff\xfe", None),
    "empty.csv": (b"", None),
    "too_many_fields.csv": (b"text,label\na,x\nb,y\nc,x,surplus\nd,y\n", "line 4"),
    "latin1.csv": ("text,label\nok,x\ncafé crème,y\n".encode("latin-1"), "line 3"),
    "cp1252.csv": ("text,label\n“smart” quotes,x\nplain,y\n".encode("cp1252"), "line 2"),
    "utf16.tsv": ("text\tlabel\nhello\tx\nbye\ty\n".encode("utf-16"), None),
    "image.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(1, 200)), None),
    "workbook.csv": (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml" * 4, None),
    "unclosed_quote.csv": (b'text,label\na,x\n"b,y\nc,x\n', "line 3"),
    "header_only.jsonl": (b"\xef\xbb\xbf\n\n", None),
}
# What each of those must say beyond the file name and the place.
BAD_FILE_SAYS = {
    "latin1.csv": "iconv -f CP1252 -t UTF-8",
    "cp1252.csv": "iconv -f CP1252 -t UTF-8",
    "utf16.tsv": "iconv -f UTF-16 -t UTF-8",
    "image.csv": "this is a PNG image, not a text file",
    "workbook.csv": "save the sheet as 'CSV UTF-8'",
    "garbage.csv": "binary file",
    "unclosed_quote.csv": "never closed",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_train_on_a_bad_file(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, name: str
) -> None:
    content, where = BAD_FILES[name]
    data = tmp_path / name
    data.write_bytes(content)
    out = tmp_path / "out"
    args = ["train", "--train", str(data), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    line = _assert_one_clean_error(result, names=name, where=where)
    assert BAD_FILE_SAYS.get(name, "") in line
    assert "no data rows" not in line or name == "header_only.jsonl"
    assert not out.exists()


def test_train_on_a_path_that_does_not_exist(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(tmp_path / "nowhere.csv"), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    line = _assert_one_clean_error(result, names="nowhere.csv")
    assert "not found" in line
    assert not out.exists()


def test_unknown_config_key(runner: CliRunner, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(_good_csv(tmp_path / "train.csv")), "--output", str(out)]
    args += ["--model", str(tiny_model_dir), "--max-steps", "1", "--set", "train.no_such_key=1"]
    result = runner.invoke(app, args)
    _assert_one_clean_error(result, names="'train.no_such_key'")
    assert not out.exists()


def test_a_misspelt_metric_is_refused_before_anything_is_written(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(_good_csv(tmp_path / "train.csv")), "--output", str(out)]
    args += ["--model", str(tiny_model_dir), "--max-steps", "1"]
    result = runner.invoke(app, [*args, "--set", "train.metric_for_best_model=f1_macr"])
    line = _assert_one_clean_error(result, names="train.metric_for_best_model=f1_macr")
    assert line.endswith("not a metric of a binary model; did you mean 'f1_macro'?")
    assert not out.exists()


def test_unknown_model_folder(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--train", str(_good_csv(tmp_path / "train.csv")), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", "/nonexistent/folder", "--max-steps", "1"])
    line = _assert_one_clean_error(result, names="/nonexistent/folder")
    assert "not found" in line
    assert not out.exists()


def test_real_entry_point_prints_only_the_error_line(tmp_path: Path) -> None:
    # A separate process: the real stderr, logging set up by the CLI, the real exit code.
    exe = Path(sys.executable).parent / "textclf"
    if not exe.is_file():
        pytest.skip(f"console script not installed at {exe}")
    data = tmp_path / "too_many_fields.csv"
    data.write_bytes(BAD_FILES["too_many_fields.csv"][0])
    # Progress bars left on: the readers silence datasets' "Generating train split" bars.
    env = dict(os.environ)
    env.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    env.pop("DATASETS_VERBOSITY", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(exe), "train", "--train", str(data), "--output", str(out), "--max-steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {data} line 4: expected 2 fields, found 3; quote the text field or fix "
        "the commas on that line."
    ]
    assert proc.stdout == ""
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# data validate
# ---------------------------------------------------------------------------------------


def test_data_validate_good_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "validate", str(_good_csv(tmp_path / "train.csv"))])
    assert result.exit_code == 0, result.stderr
    assert "Task: binary; 2 labels: neg, pos" in result.stdout
    assert "0 error(s), 0 warning(s)." in result.stdout
    assert _error_lines(result.stderr) == []


def test_data_validate_fatal_finding(runner: CliRunner, tmp_path: Path) -> None:
    train = _good_csv(tmp_path / "train.csv")
    test = tmp_path / "test.csv"
    test.write_text("text,label\nfresh one,pos\nfresh two,maybe\n", encoding="utf-8")
    json_report = tmp_path / "report.json"
    args = ["data", "validate", str(train), str(test), "--json", str(json_report)]
    result = runner.invoke(app, args)
    _assert_one_clean_error(result, names="test.csv", where="row 2")
    # The report is printed and written before the run stops.
    assert "1 error(s)" in result.stdout
    assert '"unseen_label"' in json_report.read_text(encoding="utf-8")


def test_data_validate_unreadable_file(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "single.csv"
    data.write_bytes(BAD_FILES["single_class.csv"][0])
    result = runner.invoke(app, ["data", "validate", str(data)])
    _assert_one_clean_error(result, names="single.csv")


# ---------------------------------------------------------------------------------------
# --version and --help
# ---------------------------------------------------------------------------------------


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"textclf {__version__}"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ([], "train"),
        (["train"], "--train"),
        (["predict"], "--input"),
        (["data"], "validate"),
        (["data", "validate"], "--label-column"),
        (["data", "synth"], "--task"),
        (["demo"], "--epochs"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_help(runner: CliRunner, command: list[str], option: str) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    assert option in result.stdout


# ---------------------------------------------------------------------------------------
# Files as spreadsheets write them: train reads them (issue 10)
# ---------------------------------------------------------------------------------------


def _spreadsheet_rows(n: int = 24) -> list[tuple[str, str]]:
    """Texts with separators, quotes and newlines, as typed into spreadsheet cells."""
    words = {"pos": "apple and banana", "neg": "grape, guava; ginger"}
    return [
        (f'{words[lab]} "number" {i}' + ("\nsecond line" if i % 3 == 0 else ""), lab)
        for i, lab in enumerate(["pos", "neg"] * (n // 2))
    ]


def _delimited(rows: list[tuple[str, str]], sep: str, newline: str, bom: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=newline)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


SPREADSHEET_FILES: dict[str, Callable[[list[tuple[str, str]]], bytes]] = {
    "excel-utf8.csv": lambda rows: _delimited(rows, ",", "\r\n", True),
    "excel-european.csv": lambda rows: _delimited(rows, ";", "\r\n", True),
    "libreoffice.tsv": lambda rows: _delimited(rows, "\t", "\n", False),
    "bom-blank-lines.jsonl": lambda rows: (
        b"\xef\xbb\xbf"
        + "".join(json.dumps({"text": t, "label": lab}) + "\r\n" for t, lab in rows).encode()
        + b"\r\n\n"
    ),
}


@pytest.mark.parametrize("name", sorted(SPREADSHEET_FILES))
def test_train_reads_spreadsheet_exports(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, name: str
) -> None:
    rows = _spreadsheet_rows()
    data = tmp_path / name
    data.write_bytes(SPREADSHEET_FILES[name](rows))
    out = tmp_path / "out"
    args = ["train", "--train", str(data), "--output", str(out), "--model", str(tiny_model_dir)]
    args += ["--max-steps", "1", "--no-baselines", "--no-report", "--no-track"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert (out / "model.safetensors").is_file()
    report = json.loads((out / "textclf.json").read_text(encoding="utf-8"))
    assert sorted(report["labels"]) == ["neg", "pos"]
    assert "Generating" not in result.stderr  # no datasets progress bars


def test_readme_synth_example_trains(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # `textclf data synth --task multilabel --output reports.csv`, then train on it, no flags.
    data = tmp_path / "reports.csv"
    result = runner.invoke(
        app, ["data", "synth", "--task", "multilabel", "--n", "60", "-o", str(data)]
    )
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out"
    args = ["train", "--train", str(data), "--output", str(out), "--model", str(tiny_model_dir)]
    args += ["--max-steps", "1", "--no-baselines", "--no-report", "--no-track"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    sidecar = json.loads((out / "textclf.json").read_text(encoding="utf-8"))
    assert sidecar["task"] == "multilabel"


# ---------------------------------------------------------------------------------------
# data validate reports what train refuses, with the same message
# ---------------------------------------------------------------------------------------


def _rare_class_csv(path: Path) -> Path:
    rows = "".join(f"common text {i},{'ab'[i % 2]}\n" for i in range(20)) + "rare one,c\n"
    path.write_text("text,label\n" + rows, encoding="utf-8")
    return path


def _fresh_csv(path: Path) -> Path:
    """One new example of each of the rare-class file's labels: a held-out split for it."""
    path.write_text("text,label\nfresh a,a\nfresh b,b\nfresh c,c\n", encoding="utf-8")
    return path


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*")}


@pytest.mark.parametrize("with_test", [False, True], ids=["one-file", "train-test-pair"])
def test_validate_reports_what_train_refuses(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, with_test: bool
) -> None:
    train = _rare_class_csv(tmp_path / "train.csv")
    test = _fresh_csv(tmp_path / "test.csv")
    before = _files(tmp_path)
    validate = ["data", "validate", str(train), *([str(test)] if with_test else [])]
    validate += ["--model", str(tiny_model_dir)]
    v = runner.invoke(app, validate)
    v_line = _assert_one_clean_error(v, names="train.csv")
    assert "1 error(s)" in v.stdout
    assert _files(tmp_path) == before  # validate writes nothing
    out = tmp_path / "out"
    fit = ["train", "--train", str(train), *(["--test", str(test)] if with_test else [])]
    fit += ["--output", str(out), "--model", str(tiny_model_dir), "--max-steps", "1"]
    t_line = _assert_one_clean_error(runner.invoke(app, fit), names="train.csv")
    assert not out.exists()
    assert v_line == t_line
    if with_test:
        assert "too few to split into train and validation (need 3)" in v_line
        assert "test" not in v_line.split("need 3")[0].replace(str(tmp_path), "")
        assert v_line.endswith("or give a --validation file.")
    else:
        assert "too few to split into train, validation and test" in v_line


def test_validate_takes_trains_split_settings(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    train = _rare_class_csv(tmp_path / "train.csv")
    config = tmp_path / "run.yaml"
    config.write_text("split:\n  min_examples_per_class: 1\n", encoding="utf-8")
    ok = runner.invoke(
        app,
        ["data", "validate", "--config", str(config), str(train), "--model", str(tiny_model_dir)],
    )
    assert ok.exit_code == 0, ok.stderr
    assert "0 error(s)" in ok.stdout
    # --set overrides the config file, as in train.
    args = ["data", "validate", "--config", str(config), "--train", str(train)]
    args += ["--set", "split.min_examples_per_class=3", "--model", str(tiny_model_dir)]
    _assert_one_clean_error(runner.invoke(app, args), names="train.csv")


def test_validate_with_validation_and_test_options(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # Both splits given: nothing is carved, so the rare class is fine, as it is for train.
    train = _rare_class_csv(tmp_path / "data.csv")
    other = _fresh_csv(tmp_path / "holdout.csv")
    args = ["data", "validate", str(train), "--validation", str(other), "--test", str(other)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.stderr
    assert "| validation | " in result.stdout and "| test | " in result.stdout


def test_validate_refuses_two_files_for_one_split(runner: CliRunner, tmp_path: Path) -> None:
    train = _good_csv(tmp_path / "train.csv")
    result = runner.invoke(app, ["data", "validate", str(train), "--train", str(train)])
    _assert_one_clean_error(result, names="train.csv")
    assert "a second train file" in result.stderr


@pytest.mark.parametrize("extension", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_validate_reads_every_synthetic_file(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, extension: str, task: str
) -> None:
    data = tmp_path / f"reports{extension}"
    made = runner.invoke(app, ["data", "synth", "--task", task, "--n", "60", "-o", str(data)])
    assert made.exit_code == 0, made.stderr
    json_report = tmp_path / "report.json"
    args = [
        "data",
        "validate",
        str(data),
        "--model",
        str(tiny_model_dir),
        "--json",
        str(json_report),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith(f"Task: {task};")
    doc = json.loads(json_report.read_text(encoding="utf-8"))
    assert doc["n_errors"] == 0
    assert sum(s["n_used"] for s in doc["splits"].values()) == 60
    if task == "multilabel":
        assert sum(s["n_without_labels"] for s in doc["splits"].values()) > 0
        assert "rows without labels" in result.stdout


def test_validate_reports_truncation(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "long.csv"
    rows = "".join(
        f"{'apple banana grape ' * (8 if i < 15 else 1)}{i},{'ab'[i % 2]}\n" for i in range(30)
    )
    data.write_text("text,label\n" + rows, encoding="utf-8")
    json_report = tmp_path / "report.json"
    args = ["data", "validate", str(data), "--model", str(tiny_model_dir), "--max-length", "12"]
    result = runner.invoke(app, [*args, "--json", str(json_report)])
    assert result.exit_code == 0, result.stderr
    truncation = json.loads(json_report.read_text(encoding="utf-8"))["truncation"]
    assert truncation["max_length"] == 12
    assert truncation["n_texts"] == 30
    assert truncation["n_truncated"] == 15
    assert truncation["share"] == 0.5
    assert "50.0% of the texts (15 of 30 in all splits) are longer than max_length 12" in (
        result.stdout
    )
    assert (
        "raise --max-length (this model reads up to 128 tokens)" in result.stdout
    )  # position limit


def test_max_length_beyond_the_backbone_is_refused_up_front(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path, multiclass_csv: Path
) -> None:
    # The tiny model has 128 position embeddings: 1024 would crash at the first long text.
    out = tmp_path / "run"
    args = ["train", "--train", str(multiclass_csv), "--model", str(tiny_model_dir)]
    result = runner.invoke(app, [*args, "--output", str(out), "--max-length", "1024"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --max-length 1024: the backbone '{tiny_model_dir}' reads at most 128 tokens "
        "(its position limit); use --max-length 128 or less."
    ]
    assert not out.exists()


MISSING = "nowhere.csv: file not found"


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["predict", "--input", "{missing}", "--output", "{out}/p.jsonl"], MISSING),
        (["evaluate", "--data", "{missing}"], MISSING),
        (["evaluate", "--data", "{good}", "--train", "{missing}"], MISSING),
        (["calibrate", "--data", "{missing}"], MISSING),
        (["report", "--data", "{missing}", "--output", "{out}/rep"], MISSING),
        (["compare", "{model}", "--data", "{missing}"], MISSING),
        (
            ["predict", "--input", "{good}", "--output", "{out}/p.jsonl", "--top-k", "0"],
            "--top-k 0: must be at least 1",
        ),
        (
            ["predict", "--input", "-", "--output", "{out}/p.jsonl", "--text-column", "t"],
            "give --format csv, tsv, jsonl, json or parquet to read one from standard input",
        ),
        (["predict", "--input", "-"], "standard input: no text to predict"),
        (["predict", " ", "\t"], "the texts given: no text to predict"),
        (["explain", "a text", " "], "text 2 is empty or only whitespace"),
        (["explain", "a text", "--top", "0"], "--top 0: must be at least 1"),
    ],
    ids=[
        "predict",
        "evaluate",
        "evaluate-train",
        "calibrate",
        "report",
        "compare",
        "top-k",
        "stdin-columns",
        "stdin-blank",
        "texts-blank",
        "explain-empty",
        "explain-top",
    ],
)
def test_bad_arguments_are_refused_before_the_model_loads(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    says: str,
) -> None:
    from textclf.estimator import TextClassifier
    from textclf.inference.pipeline import Predictor

    def load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(Predictor, "from_folder", load)
    monkeypatch.setattr(TextClassifier, "from_pretrained", load)
    model = tmp_path / "model"
    model.mkdir()
    names = {
        "missing": str(tmp_path / "nowhere.csv"),
        "good": str(_good_csv(tmp_path / "good.csv")),
        "out": str(tmp_path / "out"),
        "model": str(model),
    }
    args = [part.format(**names) for part in command]
    args += [] if command[0] == "compare" else ["--model", str(model)]
    result = runner.invoke(app, args)
    _assert_one_clean_error(result, names=says)
    assert not (tmp_path / "out").exists()


def test_overwrite_never_empties_a_folder_that_is_not_a_run(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "papers"
    out.mkdir()
    (out / "notes.txt").write_text("important", encoding="utf-8")
    train = _good_csv(out / "train.csv")
    args = ["train", "--train", str(train), "--output", str(out), "--overwrite"]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    line = _assert_one_clean_error(result, names="not a textclf run")
    assert "notes.txt" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "train.csv"]


def test_overwrite_refuses_a_data_file_inside_the_run_it_would_empty(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    from textclf.run_folder import RunFolder

    out = tmp_path / "run"
    out.mkdir()
    RunFolder(out).set_state("finished")  # an earlier run's folder
    train = _good_csv(out / "train.csv")
    args = ["train", "--train", str(train), "--output", str(out), "--overwrite"]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--max-steps", "1"])
    _assert_one_clean_error(result, names="lies inside the output folder")
    assert train.is_file()


def test_resume_with_other_labels_is_refused_and_leaves_the_run_as_it_was(
    runner: CliRunner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    from textclf.run_folder import RunFolder
    from textclf.training.checkpoints import latest_complete_checkpoint, mark_complete

    out = tmp_path / "run"
    checkpoint = out / "checkpoints" / "checkpoint-5"
    checkpoint.mkdir(parents=True)
    RunFolder(out).set_state("running")  # a run killed after its first checkpoint
    config = {"id2label": {"0": "food", "1": "sports", "2": "tech"}}
    config["problem_type"] = "single_label_classification"
    (checkpoint / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name, size in (("model.safetensors", 64), ("optimizer.pt", 32), ("scheduler.pt", 8)):
        (checkpoint / name).write_bytes(b"w" * size)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 5}))
    mark_complete(checkpoint)
    assert latest_complete_checkpoint(out / "checkpoints", move_aside=False) == checkpoint
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    args = ["train", "--train", str(_good_csv(tmp_path / "binary.csv")), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", str(tiny_model_dir), "--resume"])
    line = _assert_one_clean_error(result, names="its checkpoints were trained for 3")
    assert "['food', 'sports', 'tech']" in line and "2 binary labels" in line
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--n", "0"], "--n 0: must be"), (["--task", "foo"], "--task 'foo': unknown task")],
)
def test_data_synth_names_the_flag(
    runner: CliRunner, tmp_path: Path, args: list[str], named: str
) -> None:
    out = tmp_path / "r.csv"
    result = runner.invoke(app, ["data", "synth", "-o", str(out), *args])
    assert result.exit_code == 2 and named in result.stderr, result.output
    assert not out.exists()
