"""``TextClassifier``: fine-tune a transformer with a scikit-learn-style contract.

``fit`` returns ``self``; learned state ends in ``_`` (``labels_``, ``task_``,
``thresholds_``); ``predict_proba`` columns follow ``labels_``; randomness comes from
``random_state``.

Example:
    >>> clf = TextClassifier(epochs=3, random_state=0)  # doctest: +SKIP
    >>> clf.fit(["ER positive ...", "triple negative ..."], ["Luminal A", "Triple-negative"])  # doctest: +SKIP
    >>> clf.predict(["HER2 3+, ER negative"])  # doctest: +SKIP
    >>> clf.save_pretrained("model/")  # doctest: +SKIP
    >>> TextClassifier.from_pretrained("model/").predict_proba(["..."]).shape  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textclf.config import ExperimentConfig, ModelConfig, TrainConfig
from textclf.data.io import Split, split_from_lists
from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError
from textclf.inference.pipeline import Predictor
from textclf.persistence import ModelInfo, load_model_folder, save_model_folder

logger = logging.getLogger(__name__)


class TextClassifier:
    """A fine-tuned transformer text classifier (binary, multi-class or multi-label).

    Args:
        model: ``"default"`` (bundled all-MiniLM-L6-v2), a local folder, or a hub name.
        task: ``auto`` (detected from the labels), ``binary``, ``multiclass`` or ``multilabel``.
        max_length: Texts are truncated to this many tokens.
        random_state: Seed for initialisation, sampling and dropout.
        **train_options: Any field of :class:`textclf.config.TrainConfig`, e.g.
            ``epochs=3``, ``learning_rate=5e-5``, ``class_weighting="balanced"``.

    Raises:
        ConfigError: for an unknown or invalid training option.
    """

    def __init__(
        self,
        model: str = "default",
        *,
        task: str = "auto",
        max_length: int = 128,
        random_state: int = 42,
        **train_options: Any,
    ) -> None:
        self.model = model
        self.task = task
        self.max_length = max_length
        self.random_state = random_state
        self.train_options = dict(train_options)
        self._loaded_info: ModelInfo | None = None
        try:
            self._train_config = TrainConfig(**train_options)
            self._model_config = ModelConfig(name=model, max_length=max_length)
        except ValueError as e:
            raise ConfigError(f"TextClassifier: invalid option ({e}); see TrainConfig.") from e

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> TextClassifier:
        """Build from an experiment config (its ``model`` and ``train`` sections)."""
        return cls(
            config.model.name,
            task=config.data.task,
            max_length=config.model.max_length,
            random_state=config.seed,
            **config.train.model_dump(exclude_unset=False),
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
        """Fine-tune on texts and labels.

        Args:
            X: Texts, or a canonical :class:`~textclf.data.io.Split`.
            y: One label per text (a name or id; a list of names for multi-label).
                Not used when ``X`` is a ``Split``.
            X_val: Validation texts (or split) for early stopping and best-model selection.
            y_val: Their labels.
            output_dir: Where checkpoints go (``DIR/checkpoints``); a temporary folder
                if ``None``, deleted after training.
            resume: Continue from the last checkpoint in ``output_dir``.
            label_space: A fixed task and label order (otherwise inferred from ``y``).
            callbacks: Extra ``transformers.TrainerCallback`` objects.

        Returns:
            ``self``, with ``labels_``, ``task_``, ``thresholds_``, ``history_``.
        """
        from textclf.modeling import build_model, load_classifier, load_tokenizer
        from textclf.training.checkpoints import read_train_record, save_trained, trained_snapshot
        from textclf.training.trainer import TrainResult, tokenize, train_model

        train = X if isinstance(X, Split) else split_from_lists(X, y, name="train")
        val: Split | None
        if X_val is None:
            val = None
        else:
            val = (
                X_val
                if isinstance(X_val, Split)
                else split_from_lists(X_val, y_val, name="validation")
            )
        space = label_space or LabelSpace.infer(train.dataset["labels"], task=self.task)
        tokenizer = load_tokenizer(self.model, revision=self._model_config.revision)
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
        from transformers import set_seed

        set_seed(self.random_state)
        tmp = None
        if output_dir is None:
            tmp = tempfile.mkdtemp(prefix="textclf-")
            ckpt_dir = Path(tmp)
        else:
            ckpt_dir = Path(output_dir) / "checkpoints"
        snapshot = trained_snapshot(ckpt_dir) if resume and output_dir is not None else None
        try:
            if snapshot is not None:
                # Training had finished before the interruption: reuse it, do not train again.
                logger.info("Training had finished before the run stopped; using %s.", snapshot)
                net = load_classifier(snapshot)
                result = TrainResult.from_dict(read_train_record(snapshot))
            else:
                net = build_model(self.model, space, revision=self._model_config.revision)
                result = train_model(
                    net,
                    tokenizer,
                    space,
                    train_ds,
                    val_ds,
                    self._train_config,
                    output_dir=ckpt_dir,
                    seed=self.random_state,
                    resume=resume,
                    callbacks=callbacks,
                )
                if output_dir is not None:
                    save_trained(ckpt_dir, net, tokenizer, result.to_dict())
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        self.model_ = net.to("cpu").eval()  # type: ignore[arg-type]
        self.tokenizer_ = tokenizer
        self.labels_ = list(space.labels)
        self.task_: str = space.task
        self.thresholds_: float | list[float] | None = None
        self.temperature_ = 1.0
        self.at_least_one_ = False
        self.history_ = result
        self._predictor: Predictor | None = None
        return self

    # -- predicting -------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ConfigError(
                "this TextClassifier is not fitted yet; call fit() or from_pretrained()."
            )

    def info(self) -> ModelInfo:
        """The model's ``textclf.json`` contents as they stand."""
        self._check_fitted()
        if self._loaded_info is not None:
            # A loaded model keeps its metrics, data and training record.
            info = dataclasses.replace(self._loaded_info)
            info.thresholds, info.temperature = self.thresholds_, self.temperature_
            info.at_least_one = self.at_least_one_
            return info
        return ModelInfo(
            task=self.task_,
            labels=list(self.labels_),
            thresholds=self.thresholds_,
            temperature=self.temperature_,
            at_least_one=self.at_least_one_,
            max_length=self.max_length,
            backbone=self.model,
        )

    def predictor(self, *, batch_size: int = 64, device: str = "auto") -> Predictor:
        """The inference pipeline for this model (thresholds and temperature applied)."""
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
        """Probabilities ``(n, len(labels_))``; softmax rows or per-label sigmoids."""
        return self.predictor(batch_size=batch_size).predict_proba(list(X))

    def predict(self, X: Sequence[str], *, batch_size: int = 64) -> list[str] | list[list[str]]:
        """Label names per text (a list of names per text for multi-label)."""
        return self.predictor(batch_size=batch_size).predict(list(X))

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
        """Load a folder written by :meth:`save_pretrained` or ``textclf train``."""
        model, tokenizer, info = load_model_folder(directory)
        clf = cls(info.backbone or str(directory), task=info.task, max_length=info.max_length)
        clf.model_ = model
        clf.tokenizer_ = tokenizer
        clf.labels_ = list(info.labels)
        clf.task_ = info.task
        clf.thresholds_ = info.thresholds
        clf.temperature_ = info.temperature
        clf.at_least_one_ = info.at_least_one
        clf._predictor = None
        clf._loaded_info = info
        return clf
