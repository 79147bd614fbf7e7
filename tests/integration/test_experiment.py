"""run_experiment end to end on the tiny model: evaluation outputs and the validation-only rule."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests_support import tiny_run_overrides
from textclf.config import EvalConfig, ExperimentConfig, apply_overrides, load_config
from textclf.experiment import run_experiment

pytestmark = pytest.mark.slow


def _config(
    tiny_model_dir: Path, out: Path, train: Path, val: Path, test: Path
) -> ExperimentConfig:
    return apply_overrides(
        ExperimentConfig(), tiny_run_overrides(tiny_model_dir, out, train, val, test)
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_thresholds_never_see_test_data(tmp_path: Path, tiny_model_dir: Path):
    from tests_support import binary_frames

    train, val, test = binary_frames()
    paths = {
        k: _write(f, tmp_path / f"{k}.csv")
        for k, f in (("train", train), ("val", val), ("test", test))
    }
    flipped = test.assign(label=test["label"].map({"alpha": "beta", "beta": "alpha"}))
    flipped_path = _write(flipped, tmp_path / "test_flipped.csv")

    a = run_experiment(
        _config(tiny_model_dir, tmp_path / "a", paths["train"], paths["val"], paths["test"])
    )
    b = run_experiment(
        _config(tiny_model_dir, tmp_path / "b", paths["train"], paths["val"], flipped_path)
    )
    info_a = json.loads((a.output_dir / "textclf.json").read_text())
    info_b = json.loads((b.output_dir / "textclf.json").read_text())
    # Same training and validation data, opposite test labels: the decision rule is identical...
    assert info_a["decision_rule"] == info_b["decision_rule"]
    # ...while the test metrics see the flip.
    assert a.metrics["accuracy"] != b.metrics["accuracy"]


def test_metrics_json_contract(
    tmp_path: Path, tiny_model_dir: Path, task: str, task_frame: pd.DataFrame
):
    path = _write(task_frame, tmp_path / "all.csv")
    cfg = _config(tiny_model_dir, tmp_path / "run", path, path, path)
    if task == "multilabel":
        cfg = apply_overrides(cfg, ["data.label_separator=|"])
    result = run_experiment(cfg)
    doc = json.loads((result.output_dir / "eval" / "metrics.json").read_text())
    assert doc["task"] == task
    assert doc["n_examples"] == len(task_frame)
    assert doc["labels"] == list(result.space.labels)
    for name in ("f1_macro", "f1_micro"):
        iv = doc["metrics"][name]
        # "fallback" only where the interval is not the plain one, and then says why.
        assert set(iv) - {"fallback"} == {"value", "ci_low", "ci_high"}
        assert iv["ci_low"] <= iv["value"] <= iv["ci_high"]
        assert iv.get("fallback", "why") != ""
    assert doc["metrics"].get("ece", {}).get("ci_low") is None  # ECE has no interval
    for label in doc["labels"]:
        entry = doc["per_label"][label]
        assert set(entry) == {"precision", "recall", "f1", "support"}
        assert isinstance(entry["support"], int)
    assert set(doc["baselines"]) == {"tfidf_lr", "tfidf_cnb", "embed_lr", "majority"}
    assert doc["comparison"]["baseline"] in {"tfidf_lr", "tfidf_cnb", "embed_lr"}
    assert {"difference", "p_value"} <= set(doc["comparison"])
    md = (result.output_dir / "eval" / "metrics.md").read_text()
    assert "confidence intervals" in md and "TF-IDF + logistic regression" in md
    preds = (result.output_dir / "eval" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == len(task_frame)
    card = (result.output_dir / "README.md").read_text()
    assert "## Evaluation" in card


def test_the_api_fits_the_same_decision_rule_as_train(tmp_path: Path, tiny_model_dir: Path):
    """``TextClassifier.fit(X, y, X_val=, y_val=)`` and ``textclf train``: one rule."""
    from tests_support import binary_frames
    from textclf import TextClassifier

    train, val, test = binary_frames()
    paths = {
        k: _write(f, tmp_path / f"{k}.csv")
        for k, f in (("train", train), ("val", val), ("test", test))
    }
    run = run_experiment(
        _config(tiny_model_dir, tmp_path / "cli", paths["train"], paths["val"], paths["test"])
    )
    info = json.loads((run.output_dir / "textclf.json").read_text())
    clf = TextClassifier(
        str(tiny_model_dir),
        max_length=32,
        random_state=ExperimentConfig().seed,
        max_steps=40,
        batch_size=8,
        learning_rate=3e-3,
        train_options={"early_stopping_patience": None},
    )
    clf.fit(
        list(train["text"]), list(train["label"]), X_val=list(val["text"]), y_val=list(val["label"])
    )
    assert clf.rule_.to_dict() == info["decision_rule"]
    assert list(clf.classes_) == info["labels"]
    # The Python API records the same backbone as train: where it came from, its weights.
    assert clf.info().backbone == info["backbone"]
    assert info["backbone"]["source"].startswith("local folder") and info["backbone"]["sha256"]
    # The folder gives back the arguments it was trained with (from its config.yaml), so
    # a scikit-learn clone trains the same way: 40 steps at 3e-3, not the defaults.
    loaded = TextClassifier.from_pretrained(run.output_dir).get_params()
    assert (
        loaded
        == TextClassifier.from_config(load_config(run.output_dir / "config.yaml")).get_params()
    )
    assert loaded["train_options"]["max_steps"] == 40
    assert loaded["train_options"]["learning_rate"] == 3e-3 and loaded["max_length"] == 32


def test_int_labels_come_back_as_ints_and_one_string_is_refused(
    tmp_path: Path, tiny_model_dir: Path
):
    import numpy as np

    from textclf.estimator import TextClassifier

    words = ["goal match team", "stock market bank", "pasta pizza food"]
    X = [f"{words[i % 3]} {i}" for i in range(60)]
    y = [i % 3 for i in range(60)]
    clf = TextClassifier(str(tiny_model_dir), max_steps=30, batch_size=8, learning_rate=3e-3)
    clf.fit(X, y)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.classes_.dtype.kind == "i"
    pred = clf.predict(X)
    assert all(type(p) is int for p in pred)
    assert (np.asarray(pred) == np.asarray(y)).mean() > 0.9  # comparable with y as given
    with pytest.raises(TypeError, match="wrap it in a list"):
        clf.predict("goal match team")
    clf.save_pretrained(tmp_path / "model")
    again = TextClassifier.from_pretrained(tmp_path / "model")
    assert again.classes_.tolist() == [0, 1, 2]
    assert again.predict(X[:6]) == pred[:6]
    # The folder gives back the constructor arguments, so a clone trains the same way.
    assert again.get_params() == clf.get_params()
    assert again.get_params()["max_steps"] == 30 and again.get_params()["batch_size"] == 8
    # scikit-learn's model selection takes it as any classifier (score: accuracy)
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    assert clf.score(X, y) == (np.asarray(pred) == np.asarray(y)).mean()
    scores = cross_val_score(clone(clf), X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.5).all()


def test_classes_are_sorted_for_sklearn_scorers_and_bools_come_back_as_bools(
    tiny_model_dir: Path,
):
    """scikit-learn's roc_auc / neg_log_loss scorers read predict_proba's columns in
    np.unique order; the model's own order is a natural sort (-1 after 1, c10 after c2)."""
    import numpy as np
    from sklearn.metrics import get_scorer, roc_auc_score

    from textclf.estimator import TextClassifier

    X = [f"{'good fine' if i % 2 else 'bad awful'} {i}" for i in range(40)]
    y = np.array([1 if i % 2 else -1 for i in range(40)])
    clf = TextClassifier(str(tiny_model_dir), max_steps=20, batch_size=8, learning_rate=3e-3)
    clf.fit(X, y)
    assert clf.classes_.tolist() == [-1, 1] and clf.labels_ == ["1", "-1"]
    proba = clf.predict_proba(X)
    assert clf.classes_[proba.argmax(1)].tolist() == clf.predict(X)
    assert get_scorer("roc_auc")(clf, X, y) == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert roc_auc_score(y, proba[:, 1]) > 0.9

    flags = (y == 1).tolist()
    clf.fit(X, flags)
    assert clf.classes_.tolist() == [False, True]
    pred = clf.predict(X[:4])
    assert all(type(p) is bool for p in pred)
    assert clf.score(X, flags) > 0.9  # predictions compare with y as given


def test_an_indicator_matrix_trains_multilabel_and_predicts_one(
    tmp_path: Path, tiny_model_dir: Path
):
    """What MultiLabelBinarizer gives: fit takes it, predict returns one, and scikit-learn's
    multi-label model selection (f1_micro scoring, cross-validation) runs on it."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    from textclf.estimator import TextClassifier

    words = ["goal match team", "stock market bank", "pasta pizza food"]
    X = [f"{words[i % 3]} {words[(i // 3) % 3]} {i}" for i in range(60)]
    Y = pd.DataFrame(
        [[int(i % 3 == j or (i // 3) % 3 == j) for j in range(3)] for i in range(60)],
        columns=["sport", "money", "food"],
    )
    clf = TextClassifier(str(tiny_model_dir), max_steps=40, batch_size=8, learning_rate=3e-3)
    clf.fit(X, Y)
    assert clf.task_ == "multilabel" and clf.classes_.tolist() == ["sport", "money", "food"]
    pred = clf.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == (60, 3)
    assert set(np.unique(pred)) <= {0, 1}
    assert clf.predict_proba(X).shape == (60, 3)
    assert clf.score(X, Y) == (pred == Y.to_numpy()).all(axis=1).mean()
    clf.save_pretrained(tmp_path / "model")
    again = TextClassifier.from_pretrained(tmp_path / "model")
    assert again.classes_.tolist() == ["sport", "money", "food"]
    np.testing.assert_array_equal(again.predict(X[:6]), pred[:6])
    scores = cross_val_score(clone(clf), X, Y.to_numpy(), cv=2, scoring="f1_micro")
    assert scores.shape == (2,) and (scores > 0.5).all()
    from textclf.assess import assess

    measured = assess(again, (X, Y), eval_config=EvalConfig(n_resamples=100))
    np.testing.assert_array_equal(measured.y_true, Y.to_numpy())
    # Validation labels as a matrix too: the decision rule is fitted on them.
    clf.fit(X[:40], Y[:40], X_val=X[40:], y_val=Y[40:])
    assert clf.rule_.task == "multilabel" and clf.rule_.notes


def test_resume_with_overwrite_retrains_a_finished_run_from_an_empty_folder(
    trained_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """--resume --overwrite continues an unfinished run and retrains a finished one: the
    old model must be gone, or a retraining that stops midway leaves it to be served."""
    import shutil

    import textclf.experiment

    run = tmp_path / "run"
    shutil.copytree(trained_run("binary"), run)
    config = load_config(run / "config.yaml")
    config.output_dir = str(run)

    def stops(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the retraining is stopped before it saves anything

    monkeypatch.setattr(textclf.experiment, "_train_and_save", stops)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, resume=True, overwrite=True)
    assert not (run / "textclf.json").exists() and not (run / "model.safetensors").exists()


def test_resume_refuses_other_settings_or_data_and_reuses_its_own(
    tmp_path: Path, tiny_model_dir: Path
):
    """Crash review D2/D6: fit(output_dir, resume=True) reused checkpoints/trained whatever
    it was given now, returning a model trained with other settings on other data."""
    import numpy as np

    from textclf.errors import ConfigError
    from textclf.estimator import TextClassifier

    X = [f"{'good fine' if i % 2 else 'bad awful'} {i}" for i in range(40)]
    y = ["pos" if i % 2 else "neg" for i in range(40)]
    out = tmp_path / "run"
    params = dict(max_steps=10, batch_size=8, learning_rate=3e-3, random_state=0)
    first = TextClassifier(str(tiny_model_dir), **params).fit(X, y, output_dir=out)
    assert (out / "checkpoints" / "trained").is_dir()
    recorded = json.loads((out / "checkpoints" / "run-inputs.json").read_text())
    assert recorded["train"]["learning_rate"] == 3e-3 and recorded["seed"] == 0

    faster = TextClassifier(str(tiny_model_dir), **{**params, "learning_rate": 1e-2})
    with pytest.raises(ConfigError, match=r"train\.learning_rate 0\.003 → 0\.01"):
        faster.fit(X, y, output_dir=out, resume=True)
    flipped = ["neg" if lab == "pos" else "pos" for lab in y]
    with pytest.raises(ConfigError, match="other texts or labels in the training examples"):
        TextClassifier(str(tiny_model_dir), **params).fit(X, flipped, output_dir=out, resume=True)

    # Its own settings (and another device setting, which changes nothing learned): the
    # finished training is reused, not repeated.
    again = TextClassifier(str(tiny_model_dir), **params, train_options={"device": "cpu"})
    again.fit(X, y, output_dir=out, resume=True)
    np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
    assert json.loads((out / "checkpoints" / "run-inputs.json").read_text()) == recorded


def test_resume_with_another_seed_is_refused_before_the_splits_are_recarved(
    tmp_path: Path, tiny_model_dir: Path
):
    """Crash review D2: another --seed re-carves validation and test from train, so most of
    the resumed run's "test" rows had been trained on."""
    from tests_support import binary_frames
    from textclf.errors import ConfigError
    from textclf.run_folder import RunFolder

    train, _, _ = binary_frames()
    data = _write(train, tmp_path / "train.csv")
    out = tmp_path / "run"
    config = apply_overrides(
        ExperimentConfig(),
        [
            f"output_dir={out}",
            f"data.train={data}",
            f"model.name={tiny_model_dir}",
            "model.max_length=32",
            "train.max_steps=10",
            "train.batch_size=8",
            "train.keep_checkpoints=true",
            "eval.n_resamples=100",
            "diagnostics.enabled=false",
            "tracking.enabled=false",
        ],
    )
    run_experiment(config)
    original = (out / "checkpoints" / "run-config.yaml").read_text()
    RunFolder(out).set_state("running")  # as if killed after training, before the save
    reseeded = config.model_copy(update={"seed": config.seed + 1})
    with pytest.raises(ConfigError, match=r"seed 42 → 43.*other texts or labels"):
        run_experiment(reseeded, resume=True)
    assert (out / "checkpoints" / "run-config.yaml").read_text() == original
    result = run_experiment(config, resume=True)  # its own settings resume
    assert result.n_eval > 0


def test_every_file_of_a_saved_model_has_the_mode_the_umask_gives(
    tmp_path: Path, tiny_model_dir: Path
):
    """Crash review: model.safetensors came out 0600 (transformers writes it through a private
    temporary file), so another account or a serving container could not load the model."""
    import os
    import stat

    from textclf.estimator import TextClassifier

    X = [f"{'good' if i % 2 else 'bad'} {i}" for i in range(16)]
    y = ["pos" if i % 2 else "neg" for i in range(16)]
    clf = TextClassifier(str(tiny_model_dir), max_steps=2, batch_size=8).fit(X, y)
    old = os.umask(0o022)
    try:
        folder = clf.save_pretrained(tmp_path / "model")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in Path(folder).iterdir()}
    assert "model.safetensors" in modes
    assert set(modes.values()) == {0o644}, modes


def test_a_best_checkpoint_removed_mid_run_fails_rather_than_passing_off_the_last_step(
    tmp_path: Path, tiny_model_dir: Path
):
    """Crash review D5: with the output folder removed mid-run, the Trainer only warned that
    it could not find the best checkpoint and kept the last step's weights, which the model
    folder then presented as the best step's."""
    import shutil

    from transformers import TrainerCallback

    from textclf.errors import OutputLostError
    from textclf.estimator import TextClassifier

    class RemoveTheBest(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.best_model_checkpoint:
                shutil.rmtree(state.best_model_checkpoint, ignore_errors=True)

    X = [f"{'good fine' if i % 2 else 'bad awful'} {i}" for i in range(40)]
    y = ["pos" if i % 2 else "neg" for i in range(40)]
    clf = TextClassifier(
        str(tiny_model_dir),
        max_steps=20,
        batch_size=8,
        learning_rate=3e-3,
        train_options={"eval_strategy": "steps", "eval_steps": 5},
    )
    with pytest.raises(OutputLostError, match="the best checkpoint disappeared"):
        clf.fit(
            X,
            y,
            X_val=X[:10],
            y_val=y[:10],
            output_dir=tmp_path / "run",
            callbacks=[RemoveTheBest()],
        )
