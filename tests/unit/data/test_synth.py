"""Tests for the synthetic pathology-report generator (textclf.data.synth, with its
latent facts and labels in synth_latent and its wording in synth_render)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from textclf.data.synth import (
    BINARY_LABELS,
    FINDINGS,
    SUBTYPES,
    TASKS,
    make_reports,
    write_reports,
)
from textclf.data.synth_latent import Latent, findings_of, node_status_of, subtype_of
from textclf.data.synth_render import render

N_LARGE = 2000


@pytest.fixture(scope="module")
def large() -> dict[str, pd.DataFrame]:
    # One large frame per task, shared by the balance, text and learnability checks.
    return {task: make_reports(task, N_LARGE, seed=0) for task in TASKS}


def _latent(**overrides: object) -> Latent:
    values: dict[str, object] = {
        "er_pct": 90,
        "pr_pct": 60,
        "her2_ihc": 1,
        "her2_ratio": None,
        "ki67": 10,
    }
    values.update(overrides)
    return Latent(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- shape


def test_public_constants() -> None:
    assert SUBTYPES == ("Luminal A", "Luminal B", "HER2-enriched", "Triple-negative")
    assert FINDINGS == (
        "ER+",
        "PR+",
        "HER2+",
        "Lymph node metastasis",
        "Lymphovascular invasion",
    )
    assert BINARY_LABELS == ("node-negative", "node-positive")
    assert TASKS == ("binary", "multiclass", "multilabel")


@pytest.mark.parametrize("task", TASKS)
def test_size_columns_and_ids(task: str) -> None:
    frame = make_reports(task, 12, seed=5)
    assert list(frame.columns) == ["id", "text", "label"]
    assert len(frame) == 12
    assert frame["id"].tolist() == [f"S{i:05d}" for i in range(1, 13)]
    assert all(isinstance(text, str) and text for text in frame["text"])


def test_single_report() -> None:
    assert len(make_reports("binary", 1)) == 1


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_output(task: str) -> None:
    pd.testing.assert_frame_equal(make_reports(task, 40, seed=3), make_reports(task, 40, seed=3))


@pytest.mark.parametrize("task", TASKS)
def test_different_seeds_differ(task: str) -> None:
    a = make_reports(task, 40, seed=1)
    b = make_reports(task, 40, seed=2)
    assert (a["text"] != b["text"]).sum() >= 35


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "regression", "n": 5}, "task 'regression': unknown task; use one of binary"),
        ({"task": "binary", "n": 0}, "n 0: must be a whole number >= 1"),
        ({"task": "binary", "n": -3}, "n -3: must be a whole number >= 1"),
        ({"task": "binary", "n": 2.5}, "n 2.5: must be a whole number >= 1"),
        ({"task": "binary", "n": True}, "n True: must be a whole number >= 1"),
        ({"task": "binary", "n": 5, "seed": -1}, "seed -1: must be a whole number >= 0"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=re.escape(match)):
        make_reports(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- labels


def test_label_sets_per_task(large: dict[str, pd.DataFrame]) -> None:
    assert set(large["binary"]["label"]) == set(BINARY_LABELS)
    assert set(large["multiclass"]["label"]) == set(SUBTYPES)
    order = {name: i for i, name in enumerate(FINDINGS)}
    for labels in large["multilabel"]["label"]:
        assert isinstance(labels, list)
        assert set(labels) <= set(FINDINGS)
        assert len(set(labels)) == len(labels)
        assert [order[name] for name in labels] == sorted(order[name] for name in labels)
    assert any(labels == [] for labels in large["multilabel"]["label"])


def test_class_balance(large: dict[str, pd.DataFrame]) -> None:
    shares = large["multiclass"]["label"].value_counts(normalize=True)
    for subtype in SUBTYPES:
        assert 0.20 <= shares[subtype] <= 0.35, (subtype, shares[subtype])
    positive = (large["binary"]["label"] == "node-positive").mean()
    assert 0.40 <= positive <= 0.60
    labels = large["multilabel"]["label"]
    prevalence = {name: np.mean([name in row for row in labels]) for name in FINDINGS}
    assert 0.60 <= prevalence["ER+"] <= 0.80
    assert 0.45 <= prevalence["PR+"] <= 0.70
    assert 0.10 <= prevalence["HER2+"] <= 0.25
    assert 0.28 <= prevalence["Lymph node metastasis"] <= 0.42
    assert 0.18 <= prevalence["Lymphovascular invasion"] <= 0.32


@pytest.mark.parametrize(
    ("latent", "expected"),
    [
        (_latent(er_pct=95, pr_pct=80, her2_ihc=1, ki67=10), "Luminal A"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=0, ki67=19), "Luminal A"),
        # ASCO/CAP: 1-10% staining is (low) positive.
        (_latent(er_pct=3, pr_pct=5, her2_ihc=0, ki67=5), "Luminal A"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=1, ki67=30), "Luminal B"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=1, ki67=20), "Luminal B"),
        (_latent(er_pct=95, pr_pct=0, her2_ihc=1, ki67=10), "Luminal B"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=3, ki67=10), "Luminal B"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=2, her2_ratio=2.0, ki67=10), "Luminal B"),
        (_latent(er_pct=95, pr_pct=80, her2_ihc=2, her2_ratio=1.9, ki67=10), "Luminal A"),
        (_latent(er_pct=0, pr_pct=0, her2_ihc=2, her2_ratio=2.6, ki67=40), "HER2-enriched"),
        (_latent(er_pct=0, pr_pct=0, her2_ihc=3, ki67=40), "HER2-enriched"),
        (_latent(er_pct=0, pr_pct=0, her2_ihc=2, her2_ratio=1.3, ki67=40), "Triple-negative"),
        (_latent(er_pct=0, pr_pct=0, her2_ihc=0, ki67=80), "Triple-negative"),
        # ER-/PR+ is never generated; documented as hormone-receptor positive -> Luminal B.
        (_latent(er_pct=0, pr_pct=40, her2_ihc=0, ki67=5), "Luminal B"),
    ],
)
def test_subtype_rules(latent: Latent, expected: str) -> None:
    assert subtype_of(latent) == expected


def test_findings_and_node_status() -> None:
    latent = _latent(
        er_pct=5, pr_pct=0, her2_ihc=2, her2_ratio=2.2, nodes_examined=3, nodes_positive=1, lvi=True
    )
    expected = ["ER+", "HER2+", "Lymph node metastasis", "Lymphovascular invasion"]
    assert findings_of(latent) == expected
    assert findings_of(_latent(er_pct=0, pr_pct=0, her2_ihc=0)) == []
    micromet = _latent(nodes_examined=2, nodes_positive=1, micromet=True)
    assert node_status_of(micromet) == "node-positive"
    itc = _latent(nodes_examined=2, nodes_positive=0, itc=True)  # pN0(i+) is node-negative
    assert node_status_of(itc) == "node-negative"
    assert node_status_of(_latent(nodes_examined=14, nodes_positive=0)) == "node-negative"


def test_inconsistent_latent_rejected() -> None:
    with pytest.raises(ValueError, match="her2_ratio"):
        _latent(her2_ihc=2)
    with pytest.raises(ValueError, match="itc"):
        _latent(nodes_examined=3, nodes_positive=1, itc=True)


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("seed", range(25))
def test_render_states_the_deciding_facts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    her2_equivocal = _latent(er_pct=0, pr_pct=0, her2_ihc=2, her2_ratio=2.6, ki67=35)
    text = render(her2_equivocal, rng)
    # IHC 2+ is only settled by ISH: the report must say so.
    assert "2+" in text
    assert re.search(r"2\.6|amplified|ISH positive", text, re.IGNORECASE)
    assert "35" in text

    low_er = _latent(er_pct=4, pr_pct=70, ki67=17, nodes_examined=5, nodes_positive=2, lvi=True)
    text = render(low_er, rng)
    # Low-positive ER is always quantified; strongly positive PR may be given as "PR+".
    assert "4%" in text and "17" in text
    assert re.search(r"70%|\bP(?:g)?R\+", text, re.IGNORECASE)
    assert re.search(r"lvi|lymph-?o?vascular|angiolymphatic", text, re.IGNORECASE)


def test_render_length_and_characters(large: dict[str, pd.DataFrame]) -> None:
    for frame in large.values():
        words = frame["text"].str.split().str.len()
        assert words.min() >= 50 and words.max() <= 140
        assert not frame["text"].str.contains(r"[\t\r\n\"]").any()
        # The label names themselves must never leak into the text.
        for leak in ("luminal", "triple-negative", "her2-enriched", "node-positive"):
            assert not frame["text"].str.lower().str.contains(leak, regex=False).any()


def test_labels_match_text_for_known_phrases(large: dict[str, pd.DataFrame]) -> None:
    binary = large["binary"]
    checked = 0
    for text, label in zip(binary["text"], binary["label"], strict=True):
        counts = re.search(r"(\d+)/\d+ positive for metastatic carcinoma", text, re.IGNORECASE)
        if counts:
            assert (int(counts.group(1)) > 0) == (label == "node-positive"), text
            checked += 1
        if re.search(r"\bpN[123]", text, re.IGNORECASE):
            assert label == "node-positive", text
        if re.search(r"\bpN0", text, re.IGNORECASE):
            assert label == "node-negative", text
        if re.search(r"isolated tumor cells|ITCs only", text, re.IGNORECASE):
            assert label == "node-negative", text
    assert checked > 50

    multilabel = large["multilabel"]
    for text, labels in zip(multilabel["text"], multilabel["label"], strict=True):
        if re.search(r"lymphovascular invasion: present|LVI present", text, re.IGNORECASE):
            assert "Lymphovascular invasion" in labels, text
        if re.search(r"LVI not identified|no lymphovascular invasion", text, re.IGNORECASE):
            assert "Lymphovascular invasion" not in labels, text
        if re.search(r"\(IHC\): 3\+ positive|IHC 3\+", text, re.IGNORECASE):
            assert "HER2+" in labels, text
        ratio = re.search(r"HER2/CEP17 (?:ratio )?(\d+\.\d)", text, re.IGNORECASE)
        if ratio:
            assert (float(ratio.group(1)) >= 2.0) == ("HER2+" in labels), text
        if re.search(r"\bER: NEGATIVE|\bER 0%|\bER neg\b", text, re.IGNORECASE):
            assert "ER+" not in labels, text
        if re.search(r"\bER weakly positive|\bER: low positive", text, re.IGNORECASE):
            assert "ER+" in labels, text

    multiclass = large["multiclass"]
    for text, label in zip(multiclass["text"], multiclass["label"], strict=True):
        ki67 = re.search(r"(?:Ki-?67|MIB-1)[^;.%]*?(\d+)\s*(?:%|percent)", text, re.IGNORECASE)
        if label == "Luminal A":
            assert ki67 and int(ki67.group(1)) < 20, text
        if label in ("HER2-enriched", "Triple-negative"):
            assert not re.search(r"\bER\+|\bER: positive|\bPR\+", text, re.IGNORECASE), text


# --------------------------------------------------------------------------- writing


def _read_back(path: Path, task: str) -> pd.DataFrame:
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        frame = pd.read_csv(
            path,
            sep="," if suffix == ".csv" else "\t",
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_MINIMAL if suffix == ".csv" else csv.QUOTE_NONE,
        )
        if task == "multilabel":
            frame["label"] = [json.loads(value) for value in frame["label"]]
        return frame
    if suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return pd.DataFrame([json.loads(line) for line in lines])
    frame = pd.read_parquet(path)
    if task == "multilabel":
        frame["label"] = [list(value) for value in frame["label"]]
    return frame


@pytest.mark.parametrize("extension", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("task", TASKS)
def test_write_reports_round_trip(tmp_path: Path, extension: str, task: str) -> None:
    target = tmp_path / "nested" / f"reports{extension}"
    returned = write_reports(target, task, 30, seed=4)
    assert returned == target
    expected = make_reports(task, 30, seed=4)
    back = _read_back(target, task)
    assert back["id"].tolist() == expected["id"].tolist()
    assert back["text"].tolist() == expected["text"].tolist()
    assert back["label"].tolist() == expected["label"].tolist()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left


@pytest.mark.parametrize("extension", [".csv", ".tsv"])
def test_delimited_files_write_multilabel_as_json_lists(tmp_path: Path, extension: str) -> None:
    target = write_reports(tmp_path / f"ml{extension}", "multilabel", 40, seed=0)
    sep = "," if extension == ".csv" else "\t"
    raw = pd.read_csv(target, sep=sep, dtype=str, keep_default_na=False)["label"]
    expected = make_reports("multilabel", 40, seed=0)["label"]
    assert raw.tolist() == [json.dumps(labels) for labels in expected]
    # No empty cell: a report without findings is written as the empty list.
    assert "" not in raw.tolist()
    assert "[]" in raw.tolist()


def test_jsonl_label_is_a_list(tmp_path: Path) -> None:
    target = write_reports(tmp_path / "ml.jsonl", "multilabel", 10, seed=0)
    first = json.loads(target.read_text(encoding="utf-8").splitlines()[0])
    assert isinstance(first["label"], list)


@pytest.mark.parametrize("name", ["reports.xlsx", "reports", "reports.json"])
def test_unknown_extension_raises(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    with pytest.raises(ValueError, match=r"\.csv, \.tsv, \.jsonl, \.parquet") as info:
        write_reports(target, "binary", 5)
    assert name in str(info.value)
    assert not target.exists()


def test_failed_write_keeps_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "reports.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(ValueError):
        write_reports(target, "nonsense", 5)
    assert target.read_text(encoding="utf-8") == "old\n"
    write_reports(target, "binary", 5)
    assert target.read_text(encoding="utf-8").startswith("id,text,label")


# --------------------------------------------------------------------------- learnability


def test_bag_of_words_learns_but_does_not_solve(large: dict[str, pd.DataFrame]) -> None:
    feature_extraction = pytest.importorskip("sklearn.feature_extraction.text")
    linear_model = pytest.importorskip("sklearn.linear_model")
    metrics = pytest.importorskip("sklearn.metrics")

    threadpoolctl = pytest.importorskip("threadpoolctl")

    frame = large["multiclass"]
    train, test = frame.iloc[:1500], frame.iloc[1500:]
    vectorizer = feature_extraction.TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train["text"])
    model = linear_model.LogisticRegression(max_iter=2000, C=10.0)
    # One BLAS thread: on a busy machine, oversubscribed threads make this fit 30x slower.
    with threadpoolctl.threadpool_limits(limits=1):
        model.fit(features, train["label"])
    predicted = model.predict(vectorizer.transform(test["text"]))
    macro_f1 = metrics.f1_score(test["label"], predicted, average="macro")
    # Chance is 0.25; the ceiling shows that negation, thresholds and ISH ratios matter.
    assert 0.4 < macro_f1 < 0.97
