"""The diagnostics report from a real (tiny) training run, per task, and the report/explain CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from textclf.cli import app
from textclf.persistence import ModelInfo

pytestmark = pytest.mark.slow

SECTIONS = [
    "metrics",
    "data",
    "curves",
    "confusion",
    "confidence",
    "per-label",
    "embeddings",
    "attributions",
    "errors",
]


def _mismatches(run: Path) -> int:
    rows = [
        json.loads(line) for line in (run / "eval" / "predictions.jsonl").read_text().splitlines()
    ]
    return sum(1 for r in rows if r["true"] != r.get("label", r.get("labels")))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_train_writes_a_self_contained_report(trained_run, task: str):
    run = trained_run(task)
    report = run / "eval" / "report.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    # Self-contained: nothing fetched from anywhere, no scripts.
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    # Figures are inlined as base64 data URIs, whose letters can spell "http" by chance.
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", html)
    assert "data:image/png;base64," in html and "http" not in text
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    figures = {p.stem for p in (run / "eval" / "figures").glob("*.png")}
    expected = {"learning_curves", "confidence_histogram", "reliability", "per_label_f1", "roc_pr"}
    expected |= {"label_distribution", "text_lengths", "embeddings_pca", "embeddings_tsne"}
    if task == "multilabel":
        expected |= {"multilabel_confusion", "label_cooccurrence", "score_distributions"}
    else:
        expected |= {"confusion_matrix", "confusion_matrix_normalized"}
    assert expected <= figures
    # Every embedded image is one of the PNGs.
    assert html.count("data:image/png;base64,") == len(figures)
    # errors.csv holds exactly the misclassified examples of predictions.jsonl.
    errors = pd.read_csv(run / "eval" / "errors.csv", keep_default_na=False)
    assert len(errors) == _mismatches(run)
    assert {"text", "true", "predicted", "error_type", "confidence", "margin"} <= set(
        errors.columns
    )
    # Attributions were rendered for the chosen examples.
    assert "integrated_gradients" in html or "Integrated Gradients" in html


def test_report_command_on_a_saved_model(trained_run, tmp_path: Path):
    run = trained_run("multiclass")
    model = tmp_path / "model"
    shutil.copytree(run, model)
    test_csv = run.parent / "test.csv"
    out = tmp_path / "rep"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--model",
            str(model),
            "--data",
            str(test_csv),
            "--output",
            str(out),
            "--projections",
            "pca",
            "--explain",
            "apple and banana",
            "--n-resamples",
            "200",
        ],
    )
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Your text" in html and "banana" in html
    assert (out / "figures" / "embeddings_pca.png").is_file()
    assert not (out / "figures" / "embeddings_tsne.png").exists()
    assert (out / "metrics.json").is_file() and (out / "errors.csv").is_file()
    assert "Report:" in result.output


def test_report_command_bad_projection(trained_run, tmp_path: Path):
    run = trained_run("multiclass")
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--model",
            str(run),
            "--data",
            str(run.parent / "test.csv"),
            "--projections",
            "lda",
            "--output",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2
    assert "--projections" in result.output and "Traceback" not in result.output
    args = ["report", "--model", str(run), "--data", str(run.parent / "test.csv")]
    blank = CliRunner().invoke(app, [*args, "--explain", "ok text", "--explain", "  "])
    assert blank.exit_code == 2
    assert "--explain 2 is empty or only whitespace" in blank.output


def test_explain_command_prints_tokens_and_writes_html(trained_run, tmp_path: Path):
    run = trained_run("multiclass")
    out = tmp_path / "explain.html"
    result = CliRunner().invoke(
        app,
        [
            "explain",
            "--model",
            str(run),
            "apple and apricot with avocado",
            "--method",
            "both",
            "--html",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "integrated_gradients" in result.output and "attention_rollout" in result.output
    assert "for:" in result.output
    html = out.read_text(encoding="utf-8")
    assert "avocado" in html and "<script" not in html


def test_explain_command_unknown_label(trained_run):
    run = trained_run("multiclass")
    result = CliRunner().invoke(
        app, ["explain", "--model", str(run), "some text", "--label", "qqqq"]
    )
    assert result.exit_code == 2
    assert "--label qqqq: not one of the model's labels (" in result.output
    labels = ModelInfo.from_dict(json.loads((run / "textclf.json").read_text())).labels
    near = CliRunner().invoke(
        app, ["explain", "--model", str(run), "x", "--label", labels[0] + "s"]
    )
    assert f"not one of the model's labels; did you mean '{labels[0]}'?" in near.output


def test_report_data_checks_are_those_of_the_reported_file(
    trained_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import pandas as pd

    import textclf.assess_files

    reads: list[str] = []
    read_split = textclf.assess_files.read_split

    def counted(path, *args, **kwargs):
        reads.append(Path(str(path)).name)
        return read_split(path, *args, **kwargs)

    monkeypatch.setattr(textclf.assess_files, "read_split", counted)

    run = trained_run("multiclass")
    test = pd.read_csv(run.parent / "test.csv")
    label_col = next(c for c in test.columns if c != "text")
    dropped = sorted(test[label_col].astype(str).unique())[-1]
    part = tmp_path / "part.csv"
    test[test[label_col].astype(str) != dropped].to_csv(part, index=False)
    out = tmp_path / "rep"
    args = ["report", "--model", str(run), "--data", str(part), "--output", str(out)]
    result = CliRunner().invoke(app, [*args, "--projections", "pca", "--n-resamples", "100"])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"{part}: label(s) [&#x27;{dropped}&#x27;] have no test example" in html
    assert reads == ["part.csv"]  # read once, for the metrics and the checks alike


def test_explain_says_when_the_explained_label_is_not_the_prediction(trained_run):
    from textclf.inference.pipeline import Predictor

    run = trained_run("multiclass")
    text = "apple and apricot with avocado"
    predicted = Predictor.from_folder(run).predict([text])[0]
    other = next(
        lab
        for lab in ModelInfo.from_dict(json.loads((run / "textclf.json").read_text())).labels
        if lab != predicted
    )
    args = ["explain", "--model", str(run), text, "--method", "integrated_gradients"]
    own = CliRunner().invoke(app, args)
    assert own.exit_code == 0 and "not predicted" not in own.output
    asked = CliRunner().invoke(app, [*args, "--label", other])
    assert asked.exit_code == 0, asked.output
    assert f"→ {other} (p = " in asked.output
    assert f"; not predicted (predicted: {predicted})" in asked.output


def test_a_report_that_meets_a_full_disk_is_one_line_not_a_traceback(
    trained_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """Crash review: the report logged a whole traceback for a full disk, a user's fix."""
    import errno

    import textclf.diagnostics.report
    from textclf.experiment import report_files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "rep" / "x.png"))

    monkeypatch.setattr(textclf.diagnostics.report, "write_report", full)
    run = trained_run("binary")
    with caplog.at_level("WARNING"):
        _, notes = report_files(run, str(run.parent / "test.csv"), tmp_path / "rep")
    assert any("the disk is full" in n and "the model and metrics are saved" in n for n in notes)
    failed = [r for r in caplog.records if "report failed" in r.getMessage()]
    assert failed and all(r.exc_info is None for r in failed)
