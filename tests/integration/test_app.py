"""Every flow of the Streamlit app through ``streamlit.testing.v1.AppTest``, on real (tiny)
trained model folders: prediction, thresholds, why, batch files good and bad, history,
feedback stored and exported, the model page, the model picker, and login."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit", reason="the app needs the 'app' extra (streamlit)")
from streamlit.testing.v1 import AppTest

import textclf.app
from textclf.auth import hash_password
from textclf.data.io import ColumnSpec, read_split
from textclf.feedback import FeedbackRecord, FeedbackStore, model_fingerprint

MAIN = Path(textclf.app.__file__).with_name("main.py")
TEXT = "apple and apricot with avocado number 1"


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., AppTest]:
    """``start(*models, **env)`` → an AppTest of the app, already run once."""
    for key in list(os.environ):
        if key.startswith("TEXTCLF_APP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TEXTCLF_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))

    def start(*models: Path, **env: str) -> AppTest:
        monkeypatch.setenv("TEXTCLF_APP_MODELS", os.pathsep.join(str(m) for m in models))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        at = AppTest.from_file(str(MAIN), default_timeout=120)
        at.run()
        return at

    return start


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def html_of(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.html)


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def predict(at: AppTest, text: str = TEXT) -> AppTest:
    at.text_area(key="predict-text").set_value(text)
    button(at, "Predict").click()
    return at.run()


def test_single_prediction_shows_labels_bars_top_k_and_latency(trained_run, app_env):
    at = app_env(trained_run("multiclass"))
    no_failure(at)
    assert at.text_area(key="predict-text").label == "Text to classify"
    predict(at)
    no_failure(at)
    [pred] = at.session_state["history"]
    assert pred.text == TEXT and len(pred.predicted) == 1
    html = html_of(at)
    assert f'<span class="tc-chip">{pred.predicted[0]}</span>' in html
    assert html.count('class="tc-bar-label"') == 3  # one bar per label (top k = 3 of 3)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Latency"].endswith(" ms") and metrics["Confidence"].endswith("%")
    at.number_input(key="predict-top-k").set_value(2).run()
    assert html_of(at).count('class="tc-bar-label"') == 2
    bars = html_of(at).split('class="tc-bar-label"')[1:]
    assert bars[0].startswith(f' title="{pred.predicted[0]}"')  # best first
    assert at.session_state["model_runs"] == 1


def test_the_example_button_shows_test_texts_only_when_asked_for(trained_run, app_env):
    """Security review: every app user could draw held-out texts of the data (pathology
    reports) with the Example button; it is now opt-in (textclf app --examples)."""
    run = trained_run("multiclass")
    at = app_env(run)
    no_failure(at)
    assert "Example" not in [b.label for b in at.button]
    at = app_env(run, TEXTCLF_APP_EXAMPLES="1")
    button(at, "Example").click()
    at.run()
    no_failure(at)
    tests = (run / "eval" / "predictions.jsonl").read_text()
    assert at.text_area(key="predict-text").value in tests


def test_empty_text_asks_for_one(trained_run, app_env):
    at = app_env(trained_run("multiclass"))
    button(at, "Predict").click()
    at.run()
    assert "Type or paste a text first." in [w.value for w in at.warning]
    assert at.session_state["history"] == []


def test_multilabel_sliders_redecide_without_running_the_model(trained_run, app_env):
    run = trained_run("multilabel")
    at = predict(app_env(run))
    no_failure(at)
    pred = at.session_state["history"][0]
    sliders = {s.label: s for s in at.slider}
    assert set(sliders) == {"alpha", "beta", "gamma"}
    saved = {s.label: s.value for s in at.slider}
    # Lower every threshold to 0: every label is predicted; raise to 1: none is.
    for s in at.slider:
        s.set_value(0.0)
    at.run()
    no_failure(at)
    assert at.session_state["history"][0].predicted == ["alpha", "beta", "gamma"]
    assert html_of(at).count("tc-bar tc-on") == 3
    for s in at.slider:
        s.set_value(1.0)
    at.run()
    assert at.session_state["history"][0].predicted == []
    assert "no label" in html_of(at)
    assert at.session_state["model_runs"] == 1  # the model ran once, for the Predict click
    assert "(adjusted)" in at.expander[0].label
    button(at, "Reset to saved thresholds").click()
    at.run()
    assert {s.label: s.value for s in at.slider} == saved
    assert at.session_state["history"][0].predicted == pred.predicted


def test_binary_slider_moves_the_positive_label_threshold(trained_run, app_env):
    at = predict(app_env(trained_run("binary")))
    no_failure(at)
    [slider] = at.slider
    assert slider.label == "beta"  # the positive (second) label
    slider.set_value(0.0).run()
    assert at.session_state["history"][0].predicted == ["beta"]
    at.slider[0].set_value(1.0).run()
    assert at.session_state["history"][0].predicted == ["alpha"]


def test_why_tab_highlights_the_words_on_demand(trained_run, app_env):
    at = predict(app_env(trained_run("multiclass")))
    assert "Integrated gradients" not in html_of(at)  # nothing computed before asked
    button(at, "Explain").click()
    at.run()
    no_failure(at)
    html = html_of(at)
    assert "Integrated gradients" in html and "apricot" in html
    assert "background:rgba(" in html
    # Attention rollout is the other method.
    at.selectbox(key=f"why-{at.session_state['history'][0].id}-method").set_value(
        "attention_rollout"
    )
    button(at, "Explain").click()
    at.run()
    assert "Attention rollout" in html_of(at)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_batch_upload_predicts_filters_and_offers_downloads(trained_run, app_env):
    at = app_env(trained_run("multiclass"))
    at.switch_page("views/batch.py").run()
    no_failure(at)
    frame = pd.DataFrame(
        {
            "id": ["1", "2", "3", "4"],
            "body": [TEXT, "banana and blueberry with barley number 2", "", "grape and guava"],
        }
    )
    at.file_uploader[0].set_value(("reviews.csv", _csv(frame), "text/csv")).run()
    no_failure(at)
    assert at.selectbox[0].label == "Text column" and at.selectbox[0].value == "body"
    button(at, "Predict 4 texts").click()
    at.run()
    no_failure(at)
    [run] = at.session_state["batch_runs"]
    assert run.rows == [1, 2, 4] and run.n_skipped == 1 and run.proba.shape == (3, 3)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Texts predicted"] == "3" and metrics["Empty rows skipped"] == "1"
    table = at.dataframe[-1].value
    assert len(table) == 3
    label = run.frame(None)["predicted"][0][0]
    at.multiselect(key="batch-filter-labels").set_value([label]).run()
    filtered = at.dataframe[-1].value
    assert 1 <= len(filtered) <= 3 and all(p == label for p in filtered["prediction"])
    at.text_input(key="batch-filter-query").set_value("BANANA").run()
    assert len(at.dataframe[-1].value) <= 1
    assert {d.label for d in at.get("download_button")} >= {"Download CSV", "Download JSONL"}
    # Feedback on a row of the file.
    at.multiselect(key="batch-filter-labels").set_value([])
    at.text_input(key="batch-filter-query").set_value("").run()
    at.selectbox(key="batch-feedback-row").set_value(2).run()
    button(at, "Prediction is correct").click()
    at.run()
    no_failure(at)
    [rec] = FeedbackStore(Path(os.environ["TEXTCLF_FEEDBACK_DB"])).records()
    assert rec.text == "banana and blueberry with barley number 2"
    assert rec.source == "reviews.csv row 2" and rec.verdict == "correct"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "utf16.csv",
            "text\nhello there\n".encode("utf-16"),
            "UTF-16-encoded; re-save it as UTF-8",
        ),
        ("latin1.csv", "text\ncrème brûlée\n".encode("latin-1"), "line 2: byte 0xe8 is not UTF-8"),
        ("numbers.csv", b"id,score\n1,0.5\n2,0.7\n", "no column holds text"),
        ("big.csv", b"text\n" + b"a fairly long line of text\n" * 60_000, "above the app's limit"),
        ("broken.jsonl", b'{"text": "ok"}\n{"text": oops}\n', "line 2: broken JSON"),
    ],
)
def test_bad_batch_files_show_a_message_not_a_traceback(trained_run, app_env, name, data, message):
    at = app_env(trained_run("multiclass"), TEXTCLF_APP_MAX_UPLOAD_MB="1")
    at.switch_page("views/batch.py").run()
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith(name), errors
    assert "Traceback" not in errors[0]
    assert not [b for b in at.button if b.label.startswith("Predict ")]


def test_history_keeps_searches_and_downloads_every_prediction(trained_run, app_env):
    at = app_env(trained_run("multiclass"))
    predict(at, TEXT)
    predict(at, "grape and guava with ginger number 2")
    at.switch_page("views/batch.py").run()
    at.file_uploader[0].set_value(("more.csv", b"text\nbanana split\nbasil\n", "text/csv")).run()
    button(at, "Predict 2 texts").click()
    at.run()
    at.switch_page("views/history.py").run()
    no_failure(at)
    table = at.dataframe[0].value
    assert len(table) == 4
    assert set(table["source"]) == {"text", "more.csv"}
    at.text_input(key="history-query").set_value("GUAVA").run()
    assert at.dataframe[0].value["text"].tolist() == ["grape and guava with ginger number 2"]
    at.text_input(key="history-query").set_value("").run()
    at.multiselect(key="history-sources").set_value(["more.csv"]).run()
    assert at.dataframe[0].value["text"].tolist() == ["banana split", "basil"]
    assert {d.label for d in at.get("download_button")} >= {"Download CSV", "Download JSONL"}
    # Feedback on a typed text from the history; the table then shows it.
    first = at.session_state["history"][0]
    at.selectbox(key="history-feedback-pick").set_value(first.id).run()
    button(at, "Prediction is correct").click()
    at.run()
    no_failure(at)
    [rec] = FeedbackStore(Path(os.environ["TEXTCLF_FEEDBACK_DB"])).records()
    assert rec.text == TEXT
    at.multiselect(key="history-sources").set_value([])
    at.toggle(key="history-feedback").set_value(True).run()
    assert at.dataframe[0].value["feedback"].tolist() == ["correct"]


def test_feedback_is_stored_shown_and_exported(trained_run, app_env, tmp_path: Path):
    model = trained_run("multiclass")
    at = predict(app_env(model))
    pred = at.session_state["history"][0]
    button(at, "Prediction is correct").click()
    at.run()
    no_failure(at)
    assert any("marked this prediction correct" in s.value for s in at.success)
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    [first] = store.records()
    assert (first.text, first.verdict, first.labels) == (TEXT, "correct", pred.predicted)
    assert first.model_fingerprint == model_fingerprint(model)
    assert first.user is None and set(first.scores) == {"alpha", "beta", "gamma"}
    # A correction with a comment, on the same prediction.
    right = next(lab for lab in ("alpha", "beta", "gamma") if lab not in pred.predicted)
    key = f"fb-{pred.id}"
    at.selectbox(key=f"{key}-label").set_value(right)
    at.text_input(key=f"{key}-comment").set_value("it is about apples")
    next(b for b in at.button if b.label == "Send correction").click()
    at.run()
    no_failure(at)
    second = store.records()[-1]
    assert (second.verdict, second.labels, second.comment) == (
        "corrected",
        [right],
        "it is about apples",
    )
    # The feedback page counts them and names the corrected labels.
    at.switch_page("views/feedback.py").run()
    no_failure(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Verdicts"], metrics["Confirmed"], metrics["Corrected"]) == ("2", "1", "1")
    corrected = at.dataframe[0].value
    assert set(corrected["label"]) == {right, pred.predicted[0]}
    assert {d.label for d in at.get("download_button")} >= {"Training file (CSV)"}
    # The export is a training file: the newest verdict (the correction) wins.
    result = store.export(tmp_path / "fb.csv")
    split = read_split(tmp_path / "fb.csv", ColumnSpec(), name="train")
    assert result.n_rows == 1 and split.dataset["labels"] == [[right]]


def test_model_page_reads_the_folder(trained_run, app_env):
    model = trained_run("multiclass")
    at = app_env(model)
    at.switch_page("views/model.py").run()
    no_failure(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Task"] == "multiclass" and metrics["Labels"] == "3"
    headline = at.dataframe[0].value
    assert "metric" in headline.columns and "accuracy" in set(headline["metric"])
    assert any("[" in str(v) for v in headline["model"])  # values with intervals
    per_label = at.dataframe[1].value
    assert list(per_label["label"]) == ["alpha", "beta", "gamma"]
    figures = sorted((model / "eval" / "figures").glob("*.png"))
    assert len(at.image) == len(figures)
    if not figures:
        assert any("No figures" in i.value for i in at.info)
    if (model / "eval" / "report.html").is_file():
        at.toggle(key="model-show-report").set_value(True).run()
        no_failure(at)
        labels = {d.label for d in at.get("download_button")}
        assert "Download the evaluation report (HTML)" in labels


def test_model_picker_switches_models(trained_run, app_env, tmp_path: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(trained_run("multiclass"), runs / "fruit-multiclass")
    shutil.copytree(trained_run("multilabel"), runs / "fruit-multilabel")
    at = app_env(runs)  # a folder of model folders
    no_failure(at)
    picker = at.sidebar.selectbox[0]
    assert picker.label == "Model" and len(picker.options) == 2
    assert "fruit-multiclass" in html_of(at)
    picker.set_value(runs.resolve() / "fruit-multilabel").run()
    no_failure(at)
    assert "fruit-multilabel" in html_of(at) and "multilabel" in html_of(at)
    predict(at)
    assert {s.label for s in at.slider} == {"alpha", "beta", "gamma"}


def test_login_is_required_when_users_are_configured(trained_run, app_env, tmp_path: Path):
    users = tmp_path / "users.toml"
    users.write_text(f'[users]\nann = "{hash_password("wonderland", n=16)}"\n')
    at = app_env(trained_run("multiclass"), TEXTCLF_APP_AUTH_FILE=str(users))
    assert not at.text_area  # nothing but the login form
    at.text_input(key="login-user").set_value("ann")
    at.text_input(key="login-password").set_value("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert not at.text_area
    at.text_input(key="login-user").set_value("ann")
    at.text_input(key="login-password").set_value("wonderland")
    at.button[0].click().run()
    no_failure(at)
    assert at.session_state["user"] == "ann"
    predict(at)
    button(at, "Prediction is correct").click()
    at.run()
    [rec] = FeedbackStore(tmp_path / "feedback.sqlite3").records()
    assert rec.user == "ann"
    button(at, "Log out").click()
    at.run()
    assert not at.text_area and "user" not in at.session_state


def test_a_user_sees_their_own_feedback_and_a_reviewer_everyones(
    trained_run, app_env, tmp_path: Path
):
    model = trained_run("multiclass")
    users = tmp_path / "users.toml"
    users.write_text(
        f'[users]\nann = "{hash_password("a", n=16)}"\n\n'
        f'[users.bob]\npassword_hash = "{hash_password("b", n=16)}"\nrole = "reviewer"\n'
    )
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    labels = ["alpha", "beta", "gamma"]
    for who in ("ann", "bob"):
        store.add(
            FeedbackRecord(
                text=f"{who}'s private text",
                task="multiclass",
                model_labels=labels,
                predicted=["alpha"],
                scores={"alpha": 0.8, "beta": 0.1, "gamma": 0.1},
                labels=["beta"],
                model_fingerprint=model_fingerprint(model),
                user=who,
            )
        )
    seen = {}
    for who, password in (("ann", "a"), ("bob", "b")):
        at = app_env(model, TEXTCLF_APP_AUTH_FILE=str(users))
        at.text_input(key="login-user").set_value(who)
        at.text_input(key="login-password").set_value(password)
        at.button[0].click().run()
        at.switch_page("views/feedback.py").run()
        no_failure(at)
        latest = at.dataframe[-1].value  # "Latest verdicts"
        seen[who] = (set(latest["text"]), {m.label: m.value for m in at.metric}["Verdicts"])
    assert seen["ann"] == ({"ann's private text"}, "1")
    assert seen["bob"] == ({"ann's private text", "bob's private text"}, "2")


def test_repeated_failed_logins_lock_the_name(trained_run, app_env, tmp_path: Path):
    users = tmp_path / "users.toml"
    users.write_text(f'[users]\neve = "{hash_password("right", n=16)}"\n')
    at = app_env(trained_run("multiclass"), TEXTCLF_APP_AUTH_FILE=str(users))
    for _ in range(5):
        at.text_input(key="login-user").set_value("eve")
        at.text_input(key="login-password").set_value("wrong")
        at.button[0].click().run()
    at.text_input(key="login-user").set_value("eve")
    at.text_input(key="login-password").set_value("right")  # even the right one waits
    at.button[0].click().run()
    assert "Too many failed logins" in at.error[0].value
    assert "user" not in at.session_state


def test_missing_model_is_a_message(app_env, tmp_path: Path):
    at = app_env(tmp_path / "nowhere")
    assert not at.exception
    assert "model folder not found" in at.error[0].value


def test_page_errors_are_one_line(trained_run, app_env, tmp_path: Path):
    # A feedback database that is not a database: the Feedback page says so in one line.
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 200)
    at = app_env(trained_run("multiclass"), TEXTCLF_FEEDBACK_DB=str(bad))
    at.switch_page("views/feedback.py").run()
    assert not at.exception
    assert "not a SQLite database" in at.error[0].value
