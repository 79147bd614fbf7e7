"""TextClassifier follows scikit-learn's estimator conventions (no training here)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from textclf.errors import ConfigError
from textclf.estimator import TextClassifier


def test_get_params_returns_the_constructor_arguments_unchanged():
    clf = TextClassifier("default", epochs=3, train_options={"head_init": "probe"})
    params = clf.get_params()
    assert params["model"] == "default"
    assert params["epochs"] == 3
    assert params["train_options"] == {"head_init": "probe"}
    assert params["learning_rate"] is None  # "use the config default"


def test_set_params_sets_and_refuses_unknown_names():
    clf = TextClassifier().set_params(learning_rate=5e-5, max_length=64)
    assert clf.learning_rate == 5e-5 and clf.max_length == 64
    with pytest.raises(ConfigError, match="no parameter 'learnig_rate'"):
        clf.set_params(learnig_rate=1e-3)


def test_sklearn_clone_gives_an_unfitted_copy_with_equal_params():
    clf = TextClassifier(
        "default", task="binary", random_state=7, eval_options={"calibrate": False}
    )
    twin = clone(clf)
    assert twin is not clf
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "model_")


def test_invalid_options_fail_at_fit_with_the_field_named():
    clf = TextClassifier(train_options={"warmup_ratio": 2.0})
    with pytest.raises(ConfigError, match="warmup_ratio"):
        clf.fit(["a", "b"], ["x", "y"])


def test_unfitted_model_says_how_to_fit():
    with pytest.raises(ConfigError, match="not fitted yet"):
        TextClassifier().predict(["x"])


def test_a_scikit_learn_classifier_that_says_when_it_is_not_fitted():
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError

    clf = TextClassifier()
    assert is_classifier(clf)
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        clf.predict(["a"])
    with pytest.raises(ConfigError, match="not fitted"):  # and a textclf error (CLI exit 2)
        clf.predict_proba(["a"])


def test_validation_texts_without_labels_are_refused_before_training():
    with pytest.raises(ConfigError, match="give X_val and y_val together"):
        TextClassifier().fit(["a", "b"], ["x", "y"], X_val=["c"])


def test_a_seed_outside_what_numpy_takes_is_one_clear_error() -> None:
    from textclf.errors import ConfigError

    for bad in (-1, 2**31, 1.5, True):
        with pytest.raises(
            ConfigError, match=r"random_state=.* must be an int from 0 to 2\*\*31-1"
        ):
            TextClassifier(random_state=bad)._configs()  # type: ignore[arg-type]
    TextClassifier(random_state=np.int64(7))._configs()  # what scikit-learn's search passes


def test_a_mistyped_task_is_refused_with_the_nearest_one():
    with pytest.raises(ConfigError, match=r"task='binry' .*did you mean 'binary'\?"):
        TextClassifier(task="binry")._configs()


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (["a", None, "c"], ["x", "y", "x"], r"train text 1 is a NoneType .*not a string"),
        (["a", float("nan"), "c"], ["x", "y", "x"], r"train text 1 is a float"),
        (np.array([["a"], ["b"]]), ["x", "y"], r"2-D array or table; pass one text per row"),
        # Labels: a missing one (None or NaN, alone or in a list), or not a name at all,
        # named by index; a NaN among names used to fail inside pyarrow about doubles.
        (["a", "b", "c"], ["x", float("nan"), "y"], r"train label 1 \('nan'\) is missing"),
        (["a", "b"], [None, "y"], r"train label 0 \('None'\) is missing"),
        (["a", "b"], [{"k": 1}, "y"], r"train label 0 .* is or holds a dict"),
        (["a", "b"], [["x", {"y"}], ["y"]], r"train label 0 .* is or holds a set"),
    ],
)
def test_fit_refuses_what_predict_would_refuse_before_training(X, y, match):
    from textclf.errors import DataError

    with pytest.raises(DataError, match=match):
        TextClassifier().fit(X, y)


def test_mixed_label_kinds_read_as_names_as_a_file_would():
    from textclf.data.io import split_from_lists

    split = split_from_lists(["a", "b", "c", "d"], ["x", 1, True, np.int64(2)])
    assert split.dataset["labels"] == [["x"], ["1"], ["1"], ["2"]]


def test_bad_parameters_are_one_line_value_errors_with_the_nearest_name():
    cases = [
        (
            {"train_options": {"warmup_ration": 0.1}},
            r"unknown setting 'warmup_ration'; did you mean 'warmup_ratio'\?",
        ),
        (
            {"train_options": {"warmup_ratio": 2.0}},
            r"train_options\['warmup_ratio'\] 2.0 is invalid",
        ),
        ({"eval_options": {"calibrat": False}}, r"did you mean 'calibrate'\?"),
        (
            {"class_weighting": "sqr"},
            r"class_weighting 'sqr' is not one of .*did you mean 'sqrt'\?",
        ),
        ({"epochs": -1}, r"epochs -1 is invalid"),
    ]
    for params, match in cases:
        with pytest.raises(ValueError, match=match) as caught:
            TextClassifier(**params)._configs()
        assert isinstance(caught.value, ConfigError)  # and the CLI's one-line error
        assert "\n" not in str(caught.value) and "pydantic" not in str(caught.value)
    with pytest.raises(
        ValueError, match="no parameter 'learnig_rate'; did you mean 'learning_rate'"
    ):
        TextClassifier().set_params(learnig_rate=1e-3)


def test_sklearn_tags_say_the_input_is_text():
    from sklearn.utils import get_tags

    tags = get_tags(TextClassifier())
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier"


def test_an_indicator_matrix_is_recognised_as_scikit_learn_recognises_one():
    import pandas as pd
    from scipy import sparse

    from textclf.estimator import indicator_columns_of, indicator_label_lists

    Y = np.array([[1, 0, 1], [0, 1, 0]])
    assert indicator_columns_of(Y, "auto") == [0, 1, 2]
    assert indicator_columns_of(sparse.csr_matrix(Y), "multilabel") == [0, 1, 2]
    assert indicator_columns_of(pd.DataFrame(Y, columns=["er", "pr", "her2"]), "auto") == [
        "er",
        "pr",
        "her2",
    ]
    assert indicator_label_lists(Y, ["er", "pr", "her2"], "y") == [["er", "her2"], ["pr"]]
    for not_a_matrix in (["a", "b"], [["a"], ["a", "b"]], [0, 1, 1], None):
        assert indicator_columns_of(not_a_matrix, "auto") is None
    with pytest.raises(
        ValueError, match=r"indicator matrix, which is multi-label data, but task='multiclass'"
    ):
        indicator_columns_of(Y, "multiclass")
    from textclf.errors import DataError

    with pytest.raises(DataError, match=r"y_val: expected a 0/1 indicator matrix with 3 columns"):
        indicator_label_lists(np.ones((2, 2)), [0, 1, 2], "y_val")
