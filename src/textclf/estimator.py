"""``TextClassifier``: fine-tune a transformer with a scikit-learn contract; the one owner of its state.

``fit`` returns ``self`` and, given validation data, also learns the decision rule
(temperature and thresholds) on it, as scikit-learn's ``TunedThresholdClassifierCV``
learns its threshold inside ``fit``; learned state ends in ``_`` (``labels_``,
``classes_``, ``rule_``); ``predict_proba`` columns follow ``classes_``; randomness comes
from ``random_state``. Constructor arguments are stored unchanged (validated in ``fit``),
so ``get_params``, ``set_params`` and ``sklearn.base.clone`` work. ``textclf train`` is this
``fit`` plus evaluation and the model folder, so the Python API and the command line give
the same model and the same rule.

Example:
    >>> clf = TextClassifier(epochs=3, random_state=0)  # doctest: +SKIP
    >>> clf.fit(texts, labels, X_val=val_texts, y_val=val_labels)  # doctest: +SKIP
    >>> clf.predict(["HER2 3+, ER negative"])  # doctest: +SKIP
    >>> clf.save_pretrained("model/")  # doctest: +SKIP
    >>> TextClassifier.from_pretrained("model/").predict_proba(["..."]).shape  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from textclf.config import EvalConfig, ExperimentConfig, ModelConfig, TrainConfig, load_config
from textclf.data.cells import scalar_name
from textclf.data.io import Split, split_from_lists
from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError, DataError, did_you_mean
from textclf.evaluation.decision import DecisionRule, fit_configured_rule
from textclf.inference.engine import texts_list
from textclf.inference.pipeline import Predictor
from textclf.persistence import ModelInfo, load_model_folder, save_model_folder

logger = logging.getLogger(__name__)

# Training options with their own constructor argument (the common ones); any other
# TrainConfig field goes through ``train_options``. ``None`` means "the config default".
_TRAIN_KEYS = ("epochs", "max_steps", "batch_size", "learning_rate", "class_weighting")


def _label_type(y: Any) -> str | None:
    """``"int"`` or ``"bool"`` when every label in ``y`` (or in its lists) is one, else None.

    textclf names labels by strings (bools become "0" and "1"); this records what ``fit``
    was given, so that ``predict`` and ``classes_`` return it (scikit-learn's contract).
    """
    if y is None:
        return None
    flat = [v for item in y for v in (item if isinstance(item, list | tuple) else [item])]
    if not flat:
        return None
    if all(isinstance(v, bool | np.bool_) for v in flat):
        return "bool"
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in flat):
        return "int"
    return None


def indicator_columns_of(y: Any, task: str) -> list[Any] | None:
    """The columns of ``y`` when it is a 0/1 indicator matrix, else ``None``.

    Recognised as scikit-learn recognises one (``type_of_target``): a 2-D array, sparse
    matrix or DataFrame of 0/1, as ``MultiLabelBinarizer`` makes. Columns are the
    DataFrame's names, else ``0..k-1``.

    Raises:
        InvalidParameterError: an indicator matrix with a single-label ``task``.
    """
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        return None
    try:
        kind = type_of_target(y)
    except ValueError:  # label lists of names: not a matrix
        return None
    if kind != "multilabel-indicator":
        return None
    if task not in ("auto", "multilabel"):
        raise InvalidParameterError(
            f"TextClassifier: y is a 0/1 indicator matrix, which is multi-label data, but "
            f"task={task!r}; use task='multilabel' or 'auto'."
        )
    names = getattr(y, "columns", None)
    if names is not None:
        return [v.item() if isinstance(v, np.generic) else v for v in names]
    return list(range(np.shape(y)[1]))


def indicator_label_lists(y: Any, columns: Sequence[Any], name: str) -> list[list[Any]]:
    """A 0/1 indicator matrix as one list of column names per row (what ``fit`` reads).

    Raises:
        DataError: ``y`` is not an indicator matrix with ``len(columns)`` columns.
    """
    matrix = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
    if matrix.ndim != 2 or matrix.shape[1] != len(columns):
        raise DataError(
            f"{name}: expected a 0/1 indicator matrix with {len(columns)} columns, as y was; "
            f"got shape {matrix.shape}."
        )
    if not np.isin(matrix, (0, 1)).all():
        raise DataError(f"{name}: an indicator matrix holds only 0 and 1; found other values.")
    return [[columns[int(j)] for j in np.flatnonzero(row)] for row in matrix]


def _from_name(name: str, label_type: str | None) -> Any:
    """A label name back as the kind ``fit`` was given (see :func:`_label_type`)."""
    if label_type == "int":
        return int(name)
    if label_type == "bool":
        return name in ("1", "True", "true")
    return name


class InvalidParameterError(ConfigError, ValueError):
    """A bad constructor argument or option: a textclf error (one line, CLI exit 2) that is
    also the ``ValueError`` scikit-learn's tools expect (as its own
    ``InvalidParameterError``)."""


def _validated(
    config: type[Any], options: dict[str, Any], argument: str, own: Sequence[str]
) -> Any:
    """``config(**options)``, or an :class:`InvalidParameterError` naming the argument the
    user wrote (``epochs=``, ``train_options['warmup_ratio']``) and the nearest valid key.
    """
    from pydantic import ValidationError

    from textclf.config.overrides import format_validation_error

    try:
        return config(**options)
    except ValidationError as e:
        flags = {k: k if k in own else f"{argument}[{k!r}]" for k in options}
        if "model" in own:
            flags["name"] = "model"  # ModelConfig.name is the ``model`` argument
        message = format_validation_error(
            e,
            f"TextClassifier({argument}=…)",
            flags,
            known=list(config.model_fields),
            listed_in=f"textclf.config.{config.__name__}",
        )
        raise InvalidParameterError(message) from e


def _params_record(params: dict[str, Any]) -> dict[str, Any]:
    """``{"estimator_params": params}`` for ``textclf.json``, or ``{}`` when a parameter is
    not JSON (then :meth:`TextClassifier.from_pretrained` falls back to the folder's facts)."""
    import json

    plain = {k: dict(v) if isinstance(v, Mapping) else v for k, v in params.items()}
    try:
        return {"estimator_params": json.loads(json.dumps(plain))}
    except (TypeError, ValueError):
        logger.debug("Constructor arguments are not JSON; the folder will not record them.")
        return {}


def _saved_params(folder: Path, info: ModelInfo) -> dict[str, Any] | None:
    """The constructor arguments a saved model was trained with, or ``None`` if unknown."""
    saved = info.training.get("estimator_params")
    if isinstance(saved, dict):
        return saved
    if (folder / "config.yaml").is_file():  # written by textclf train
        try:
            return TextClassifier.from_config(load_config(folder / "config.yaml")).get_params()
        except ConfigError as e:  # an older config schema: the folder still loads
            logger.info("%s/config.yaml does not restore the training arguments: %s", folder, e)
    return None


class NotFittedModelError(ConfigError, NotFittedError):
    """Prediction before ``fit``: a textclf error (one line, CLI exit 2) that scikit-learn's
    ``check_is_fitted`` callers recognise as its ``NotFittedError``."""


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A fine-tuned transformer text classifier (binary, multi-class or multi-label).

    Args:
        model: ``"default"`` (bundled all-MiniLM-L6-v2), a local folder, or a hub name.
        task: ``auto`` (detected from the labels), ``binary``, ``multiclass`` or ``multilabel``.
        max_length: Texts are truncated to this many tokens.
        random_state: Seed for initialisation, sampling and dropout.
        pooling: ``cls`` or ``mean`` (see :class:`textclf.config.ModelConfig`); ``None``
            takes the config default.
        epochs, max_steps, batch_size, learning_rate, class_weighting: Training options;
            ``None`` takes the default of :class:`textclf.config.TrainConfig`.
        train_options: Any other :class:`~textclf.config.TrainConfig` field, e.g.
            ``{"head_init": "probe", "warmup_ratio": 0.1}``.
        model_options: Any other :class:`~textclf.config.ModelConfig` field, e.g.
            ``{"revision": "main", "attention_dropout": 0.1}``.
        eval_options: :class:`~textclf.config.EvalConfig` fields for the decision rule
            fitted on validation data, e.g. ``{"calibrate": False}``.
    """

    def __init__(
        self,
        model: str = "default",
        *,
        task: str = "auto",
        max_length: int = 128,
        random_state: int = 42,
        pooling: str | None = None,
        epochs: float | None = None,
        max_steps: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        class_weighting: str | None = None,
        train_options: Mapping[str, Any] | None = None,
        eval_options: Mapping[str, Any] | None = None,
        model_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.task = task
        self.max_length = max_length
        self.random_state = random_state
        self.pooling = pooling
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weighting = class_weighting
        self.train_options = train_options
        self.eval_options = eval_options
        self.model_options = model_options

    # -- scikit-learn parameters ------------------------------------------------------

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments, as scikit-learn's ``BaseEstimator.get_params``."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> TextClassifier:
        """Set constructor arguments; returns ``self``.

        Raises:
            InvalidParameterError: for a name that is not a constructor argument (a
                ``ValueError``, as scikit-learn's ``set_params`` raises).
        """
        valid = set(self._get_param_names())
        for key, value in params.items():
            if key not in valid:
                hint = did_you_mean(key, sorted(valid)) or f"; valid: {', '.join(sorted(valid))}."
                raise InvalidParameterError(f"TextClassifier has no parameter '{key}'{hint}")
            setattr(self, key, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """Tags for scikit-learn's tools: the input is a 1-D sequence of strings, as for its
        text vectorizers, not a numeric 2-D array."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def __repr__(self) -> str:
        set_ = {k: v for k, v in self.get_params().items() if v is not None}
        return f"TextClassifier({', '.join(f'{k}={v!r}' for k, v in set_.items())})"

    def _configs(self) -> tuple[TrainConfig, EvalConfig, ModelConfig]:
        seed = self.random_state
        if (
            isinstance(seed, bool)
            or not isinstance(seed, int | np.integer)
            or not 0 <= seed < 2**31
        ):
            raise InvalidParameterError(
                f"TextClassifier: random_state={seed!r} must be an int from 0 to 2**31-1 (as "
                "ExperimentConfig.seed)."
            )
        tasks = ("auto", "binary", "multiclass", "multilabel")
        if self.task not in tasks:
            hint = did_you_mean(str(self.task), tasks) or "."
            raise InvalidParameterError(
                f"TextClassifier: task={self.task!r} is not one of {', '.join(tasks)}{hint}"
            )
        options = dict(self.train_options or {})
        options.update({k: getattr(self, k) for k in _TRAIN_KEYS if getattr(self, k) is not None})
        model = {
            **dict(self.model_options or {}),
            "name": self.model,
            "max_length": self.max_length,
            **({"pooling": self.pooling} if self.pooling else {}),
        }
        return (
            _validated(TrainConfig, options, "train_options", _TRAIN_KEYS),
            _validated(EvalConfig, dict(self.eval_options or {}), "eval_options", ()),
            _validated(ModelConfig, model, "model_options", ("model", "max_length", "pooling")),
        )

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> TextClassifier:
        """Build from an experiment config (its ``model``, ``train`` and ``eval`` sections)."""
        return cls(
            config.model.name,
            task=config.data.task,
            max_length=config.model.max_length,
            random_state=config.seed,
            pooling=config.model.pooling,
            train_options=config.train.model_dump(),
            eval_options=config.eval.model_dump(exclude={"baselines"}),
            model_options=config.model.model_dump(exclude={"name", "max_length", "pooling"}),
        )

    # -- fitting ----------------------------------------------------------------------

    def fit(
        self,
        X: Sequence[str] | Split,
        y: Sequence[Any] | None = None,
        *,
        X_val: Sequence[str] | Split | None = None,
        y_val: Sequence[Any] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        label_space: LabelSpace | None = None,
        callbacks: Sequence[Any] = (),
    ) -> TextClassifier:
        """Fine-tune on texts and labels; with validation data, also fit the decision rule.

        Args:
            X: Texts, or a canonical :class:`~textclf.data.io.Split`.
            y: One label per text (a name or id; a list of names for multi-label).
                Not used when ``X`` is a ``Split``.
            X_val: Validation texts (or split): early stopping, the best checkpoint, and
                the decision rule (temperature, thresholds) are chosen on them.
            y_val: Their labels.
            output_dir: Where checkpoints go (``DIR/checkpoints``); a temporary folder
                if ``None``, deleted after training.
            resume: Continue from the last complete checkpoint in ``output_dir``, or reuse
                its finished training.
            label_space: A fixed task and label order (otherwise inferred from ``y``).
            callbacks: Extra ``transformers.TrainerCallback`` objects.

        Returns:
            ``self``, with ``labels_``, ``classes_``, ``task_``, ``rule_`` and ``history_``.
        """
        from transformers import set_seed

        from textclf.modeling import describe_backbone, load_tokenizer
        from textclf.training.fit import TrainingJob, train_network
        from textclf.training.trainer import tokenize

        train_cfg, eval_cfg, model_cfg = self._configs()
        columns = None if isinstance(X, Split) else indicator_columns_of(y, self.task)
        if columns is not None:  # a 0/1 indicator matrix: its columns are the labels
            y = indicator_label_lists(y, columns, "y")
            if y_val is not None and not isinstance(X_val, Split):
                y_val = indicator_label_lists(y_val, columns, "y_val")
        train = X if isinstance(X, Split) else split_from_lists(X, y, name="train")
        val: Split | None = None
        if (X_val is None) != (y_val is None) and not isinstance(X_val, Split):
            raise ConfigError(
                "give X_val and y_val together (validation texts and their labels), or neither."
            )
        if X_val is not None:
            val = (
                X_val
                if isinstance(X_val, Split)
                else split_from_lists(X_val, y_val, name="validation")
            )
        space = label_space or LabelSpace.infer(
            train.dataset["labels"],
            task="multilabel" if columns is not None else self.task,
            order=None if columns is None else [scalar_name(c) for c in columns],
        )
        tokenizer = load_tokenizer(self.model, revision=model_cfg.revision)
        train_ds = tokenize(
            train.dataset, tokenizer, space, max_length=self.max_length, desc="Tokenizing train"
        )
        val_ds = (
            tokenize(
                val.dataset,
                tokenizer,
                space,
                max_length=self.max_length,
                desc="Tokenizing validation",
            )
            if val is not None and len(val) > 0
            else None
        )
        # The new head's initial weights come from torch's global generator: seed it here, or
        # the same config gives a different model in every process (and whatever imported
        # before — a tracker, a plotting library — changes the result).
        set_seed(self.random_state)
        net, result = train_network(
            TrainingJob(
                backbone=self.model,
                seed=self.random_state,
                space=space,
                tokenizer=tokenizer,
                train=train_ds,
                validation=val_ds,
                train_config=train_cfg,
                model_config=model_cfg,
            ),
            output_dir=output_dir,
            resume=resume,
            callbacks=callbacks,
            splits={"train": train, "validation": val},
        )
        self.model_ = net.to("cpu").eval()
        self.tokenizer_ = tokenizer
        self.labels_ = list(space.labels)
        self.task_: str = space.task
        self.history_ = result
        self.info_ = ModelInfo(
            task=space.task,
            labels=list(space.labels),
            max_length=self.max_length,
            backbone=describe_backbone(
                self.model,
                revision=model_cfg.revision,
                commit=getattr(net.config, "_commit_hash", None),
            ),
            training=_params_record(self.get_params()),
        )
        label_type = None if isinstance(X, Split) else _label_type(y)
        if columns is not None:
            # predict returns a 0/1 matrix with these columns, as it was given one.
            self.info_.data = {
                **self.info_.data,
                "label_type": "indicator",
                "indicator_columns": list(columns),
            }
        elif label_type is not None:
            # sklearn's contract: predict returns labels of the kind fit was given.
            self.info_.data = {**self.info_.data, "label_type": label_type}
        self._set_classes()
        self.rule_ = DecisionRule(task=space.task)
        self._predictor: Predictor | None = None
        if val is not None and len(val) > 0:
            self.fit_rule(val, eval_options=eval_cfg, fitted_on="validation split")
        else:
            self.rule_ = DecisionRule(
                task=space.task, at_least_one=eval_cfg.at_least_one_label and space.multilabel
            )
            self.rule_.notes.append("no validation data: the plain rule (argmax / 0.5)")
        return self

    def fit_rule(
        self,
        X: Sequence[str] | Split,
        y: Sequence[Any] | None = None,
        *,
        eval_options: EvalConfig | Mapping[str, Any] | None = None,
        fitted_on: str = "validation data",
    ) -> DecisionRule:
        """(Re)fit the decision rule on labelled validation data, never the test data.

        Args:
            X: Validation texts, or a canonical split.
            y: Their labels (not used for a split).
            eval_options: Calibration and threshold settings (default: this model's).
            fitted_on: Recorded in the rule (a file name, "validation split").

        Returns:
            The new rule, also stored as ``rule_``.
        """
        self._check_fitted()
        if eval_options is None:
            cfg = self._configs()[1]
        elif isinstance(eval_options, EvalConfig):
            cfg = eval_options
        else:
            cfg = EvalConfig(**dict(eval_options))
        split = X if isinstance(X, Split) else split_from_lists(X, y, name="validation")
        space = LabelSpace(self.task_, tuple(self.labels_))  # type: ignore[arg-type]
        logits = self.predictor().logits(split.dataset["text"], progress=True)
        self.rule_ = fit_configured_rule(
            space.task,
            space.labels,
            logits,
            space.encode(split.dataset["labels"]),
            cfg,
            fitted_on=fitted_on,
            seed=self.random_state,
        )
        for note in self.rule_.notes:
            logger.info("Decision rule: %s.", note)
        return self.rule_

    # -- predicting -------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedModelError(
                "this TextClassifier is not fitted yet; call fit() or from_pretrained()."
            )

    @property
    def thresholds_(self) -> float | list[float] | None:
        """The rule's thresholds (read-only view of ``rule_``)."""
        return self.rule_.thresholds

    @property
    def temperature_(self) -> float:
        """The rule's temperature (read-only view of ``rule_``)."""
        return self.rule_.temperature

    def info(self) -> ModelInfo:
        """The model's ``textclf.json`` contents as they stand (with the current rule)."""
        self._check_fitted()
        return dataclasses.replace(self.info_, rule=self.rule_)

    def predictor(self, *, batch_size: int = 64, device: str = "auto") -> Predictor:
        """The batched inference engine for this model (its decision rule applied)."""
        self._check_fitted()
        p = self._predictor
        if p is None or p.batch_size != batch_size:
            p = Predictor(
                self.model_, self.tokenizer_, self.info(), device=device, batch_size=batch_size
            )
            self._predictor = p
        p.info = self.info()
        return p

    def predict_proba(self, X: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(n, len(classes_))``; softmax rows or per-label sigmoids, calibrated.

        Columns follow ``classes_`` (sorted, as scikit-learn's scorers assume), not the
        model's own label order ``labels_``.
        """
        proba = self.predictor(batch_size=batch_size).predict_proba(texts_list(X))
        return proba[:, self._order]

    def predict(self, X: Sequence[str], *, batch_size: int = 64) -> Any:
        """Labels per text under the decision rule (a list of them for multi-label).

        Label names, or ints when ``fit`` was given int labels (as scikit-learn returns);
        a ``(n, k)`` 0/1 array, columns as ``classes_``, when it was given an indicator
        matrix.
        """
        predictor = self.predictor(batch_size=batch_size)
        kind = self.info_.data.get("label_type")
        if kind == "indicator":  # the rule's 0/1 decisions, columns in labels_ = classes_ order
            decided = predictor.decide(predictor.predict_proba(texts_list(X)))
            return np.asarray(decided, dtype=np.int64)
        pred = predictor.predict(texts_list(X))
        if kind is None:
            return pred
        if self.task_ == "multilabel":
            return [[_from_name(name, kind) for name in row] for row in pred]
        return [None if name is None else _from_name(name, kind) for name in pred]

    def score(self, X: Sequence[str], y: Sequence[Any], sample_weight: Any = None) -> float:
        """Accuracy on ``(X, y)`` (multi-label: the share of texts with every label right).

        scikit-learn's default scorer, so ``cross_val_score(clf, X, y)`` works without a
        ``scoring`` argument.
        """
        from sklearn.metrics import accuracy_score

        pred = self.predict(X)
        if isinstance(pred, np.ndarray):  # fitted on an indicator matrix: y is one too
            expected = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
            return float(accuracy_score(expected, pred, sample_weight=sample_weight))
        if self.task_ == "multilabel":
            from sklearn.preprocessing import MultiLabelBinarizer

            binarizer = MultiLabelBinarizer(classes=list(self.classes_)).fit([])
            return float(
                accuracy_score(
                    binarizer.transform(y), binarizer.transform(pred), sample_weight=sample_weight
                )
            )
        return float(accuracy_score(list(y), pred, sample_weight=sample_weight))

    def _set_classes(self) -> None:
        """``classes_``: the labels sorted as ``np.unique`` sorts them, of the kind ``predict``
        returns; ``predict_proba``'s columns follow it.

        scikit-learn's scorers (``roc_auc``, ``neg_log_loss``) take ``predict_proba``'s
        columns to be in sorted order; the model's own order (``labels_``) is a natural
        sort, which differs for labels such as -1/1 or c2/c10.
        """
        kind = self.info_.data.get("label_type")
        if kind == "indicator":  # the matrix's own column order, as given
            columns = self.info_.data["indicator_columns"]
            self._order = np.arange(len(columns), dtype=np.int64)
            ints = _label_type(columns) == "int"
            self.classes_ = np.asarray(columns, dtype=None if ints else object)
            return
        values = [_from_name(name, kind) for name in self.labels_]
        order = sorted(range(len(values)), key=lambda i: values[i])
        self._order = np.asarray(order, dtype=np.int64)
        # Names stay Python strings (dtype object), ints and bools numpy's own dtypes.
        self.classes_ = np.asarray([values[i] for i in order], dtype=None if kind else object)

    # -- persistence ------------------------------------------------------------------

    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        *,
        info: ModelInfo | None = None,
        config_yaml: str | None = None,
        model_card: str | None = None,
    ) -> Path:
        """Save the model folder (loadable by ``transformers.pipeline`` and :meth:`from_pretrained`)."""
        self._check_fitted()
        return save_model_folder(
            directory,
            self.model_,
            self.tokenizer_,
            info or self.info(),
            config_yaml=config_yaml,
            model_card=model_card,
        )

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> TextClassifier:
        """Load a folder written by :meth:`save_pretrained` or ``textclf train``.

        The constructor arguments it was trained with come back too (``get_params``), so
        ``sklearn.base.clone`` of the loaded model trains the same way again: from
        ``textclf.json`` for a model fitted in Python, from ``config.yaml`` for one from
        ``textclf train``.
        """
        model, tokenizer, info = load_model_folder(directory)
        params = _saved_params(Path(directory), info)
        if params is None:  # a folder from elsewhere: what textclf.json says
            name = str(info.backbone.get("given") or info.backbone.get("name") or directory)
            params = {"model": name, "task": info.task, "max_length": info.max_length}
        clf = cls(**params)
        clf.model_ = model
        clf.tokenizer_ = tokenizer
        clf.labels_ = list(info.labels)
        clf.task_ = info.task
        clf.info_ = info
        clf._set_classes()
        clf.rule_ = info.rule
        clf._predictor = None
        return clf
