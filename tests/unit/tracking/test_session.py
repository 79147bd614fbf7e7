"""TrackingSession: what run_experiment records, experiment names, and the on/off switches."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from textclf.config import DataConfig, ExperimentConfig, apply_overrides
from textclf.tracking.base import DatasetRecord, NullTracker
from textclf.tracking.session import (
    TrackingSession,
    default_experiment_name,
    evaluation_metrics,
)


@pytest.mark.parametrize(
    ("train", "name"),
    [
        ("corpora/banking77.csv", "banking77"),
        ("corpora/banking77/train.csv", "banking77"),
        ("corpora/goemotions/train.tsv", "goemotions"),
        ("SetFit/sst2", "SetFit-sst2"),
        (None, "textclf"),
    ],
)
def test_default_experiment_name(train: str | None, name: str) -> None:
    assert default_experiment_name(DataConfig(train=train)) == name


def test_evaluation_metrics_known_answer() -> None:
    doc = {
        "split": "test",
        "n_examples": 40,
        "metrics": {
            "f1_macro": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9},
            "roc_auc": {"value": None, "ci_low": None, "ci_high": None},
        },
        "per_label": {"HER2+": {"f1": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}, "support": 7}},
        "at_default_threshold": {
            "metrics": {"f1_macro": {"value": 0.75, "ci_low": 0.6, "ci_high": 0.85}}
        },
        "baselines": {
            "tfidf_lr": {"metrics": {"f1_macro": {"value": 0.6, "ci_low": 0.5, "ci_high": 0.7}}}
        },
        "comparison": {
            "baseline": "tfidf_lr",
            "metric": "f1_macro",
            "difference": {"value": 0.2, "ci_low": 0.1, "ci_high": 0.3},
            "p_value": 0.01,
            "mcnemar_p_value": 0.02,
        },
        "thresholds": {"decision_rule": {"temperature": 1.5, "validation_ece_after": 0.03}},
    }
    assert evaluation_metrics(doc) == {
        "test_f1_macro": 0.8,
        "test_f1_macro_lower": 0.7,
        "test_f1_macro_upper": 0.9,
        "test_f1/HER2_": 0.5,
        "test_f1/HER2__lower": 0.4,
        "test_f1/HER2__upper": 0.6,
        "test_support/HER2_": 7.0,
        "test_at_0.5_f1_macro": 0.75,
        "test_at_0.5_f1_macro_lower": 0.6,
        "test_at_0.5_f1_macro_upper": 0.85,
        "baseline_tfidf_lr_f1_macro": 0.6,
        "baseline_tfidf_lr_f1_macro_lower": 0.5,
        "baseline_tfidf_lr_f1_macro_upper": 0.7,
        "test_vs_tfidf_lr_f1_macro_difference": 0.2,
        "test_vs_tfidf_lr_f1_macro_difference_lower": 0.1,
        "test_vs_tfidf_lr_f1_macro_difference_upper": 0.3,
        "test_vs_tfidf_lr_f1_macro_p_value": 0.01,
        "test_vs_tfidf_lr_f1_macro_mcnemar_p_value": 0.02,
        "decision_temperature": 1.5,
        "validation_ece_after": 0.03,
        "test_n_examples": 40.0,
    }


def test_evaluation_metrics_per_label_precision_and_recall_have_bounds() -> None:
    doc = {
        "per_label": {
            "a": {k: {"value": 1.0, "ci_low": 0.9, "ci_high": 1.0} for k in ("precision", "recall")}
        }
    }
    got = evaluation_metrics(doc)
    assert got["test_precision/a_lower"] == 0.9 and got["test_recall/a_upper"] == 1.0


def _config(tmp_path: Path, *overrides: str) -> ExperimentConfig:
    return apply_overrides(
        ExperimentConfig(),
        [f"output_dir={tmp_path / 'run'}", f"data.train={tmp_path / 'reports.csv'}", *overrides],
    )


def test_switched_off_by_config_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    off = TrackingSession(_config(tmp_path, "tracking.enabled=false"))
    assert off.check() is None and isinstance(off.tracker, NullTracker) and not off.active
    monkeypatch.setenv("TEXTCLF_TRACKING", "off")
    env_off = TrackingSession(_config(tmp_path))
    assert env_off.check() is None and not env_off.active
    assert env_off.summary() == {}


def test_server_down_at_the_start_records_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    cfg = _config(tmp_path, "tracking.uri=http://127.0.0.1:9", "tracking.log_model=false")
    session = TrackingSession(cfg)
    with caplog.at_level(logging.WARNING):
        report = session.check()
    assert report is not None and report.problem == "refused"
    assert any("Training goes on" in r.getMessage() for r in caplog.records)
    output = tmp_path / "run"
    (output / "eval").mkdir(parents=True)
    (output / "eval" / "metrics.json").write_text("{}")
    dataset = DatasetRecord("train", "train", "sha256:00", "reports.csv", 10)
    session.begin(output, resume=False, task="binary", labels=["no", "yes"], datasets=[dataset])
    doc = {"split": "test", "metrics": {"accuracy": {"value": 0.9, "ci_low": 0.8, "ci_high": 0.95}}}
    summary = session.complete(output, doc, task="binary")
    assert summary["run_id"] is None
    assert summary["experiment"] == "reports"
    assert (
        summary["sync_command"]
        == f"textclf tracking sync {output} --tracking-uri http://127.0.0.1:9"
    )
    records = [
        json.loads(line)
        for line in (Path(summary["fallback"]) / "journal.jsonl").read_text().splitlines()
    ]
    ops = [r["op"] for r in records]
    assert ops == ["start", "params", "dataset", "metrics", "artifacts", "end"]
    params = records[1]["params"]
    assert params["data.resolved_task"] == "binary" and params["data.size.train"] == "10"
    assert params["tracking.uri"] == "http://127.0.0.1:9"
    assert records[3]["metrics"]["test_accuracy_lower"] == 0.8
    assert records[0]["tags"]["textclf.task"] == "binary"
    assert records[-1]["status"] == "FINISHED"
    run_file = json.loads((output / "tracking" / "run.json").read_text())
    assert run_file == {"backend": "mlflow", "key": records[0]["journal_id"]}


def test_failure_ends_the_run_as_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    session = TrackingSession(_config(tmp_path, "tracking.uri=http://127.0.0.1:9"))
    session.check()
    session.begin(tmp_path / "run", resume=False, task="binary", labels=["a", "b"], datasets=[])
    session.fail(KeyboardInterrupt())
    journal = Path(session.summary()["fallback"]) / "journal.jsonl"
    assert json.loads(journal.read_text().splitlines()[-1])["status"] == "KILLED"
    session.fail(ValueError("twice"))  # a second call is a no-op
    assert json.loads(journal.read_text().splitlines()[-1])["status"] == "KILLED"


def test_texts_stay_on_the_machine_unless_log_texts_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Security review: predictions.jsonl, errors.csv, label_issues.csv and report.html (all
    with the data's texts) and the report's explain_texts went to the tracking server."""
    pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")
    monkeypatch.delenv("TEXTCLF_TRACKING", raising=False)
    output = tmp_path / "run"
    (output / "eval" / "figures").mkdir(parents=True)
    for name in ("metrics.json", "predictions.jsonl", "errors.csv", "report.html"):
        (output / "eval" / name).write_text("{}")
    (output / "eval" / "figures" / "roc_pr.png").write_bytes(b"png")
    uploaded: dict[bool, list[str]] = {}
    for log_texts in (False, True):
        cfg = _config(
            tmp_path,
            "tracking.uri=http://127.0.0.1:9",
            "tracking.log_model=false",
            f"tracking.log_texts={str(log_texts).lower()}",
            "diagnostics.explain_texts=['Jane Doe MRN 4471: ER+']",
        )
        session = TrackingSession(cfg)
        session.check()
        session.begin(output, resume=False, task="binary", labels=["a", "b"], datasets=[])
        summary = session.complete(output, {}, task="binary")
        journal = (Path(summary["fallback"]) / "journal.jsonl").read_text()
        records = [json.loads(line) for line in journal.splitlines()]
        uploaded[log_texts] = sorted(
            r["path"] for r in records if r["op"] == "artifacts" and "eval" in r["path"]
        )
        assert ("Jane Doe" in journal) is log_texts
    assert uploaded[False] == ["eval/figures", "eval/metrics.json"]
    assert uploaded[True] == ["eval"]
