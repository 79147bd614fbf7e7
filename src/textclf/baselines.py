"""Cheap baselines behind the same contract as the transformer: fit / predict_proba / labels_.

TF-IDF + logistic regression, TF-IDF + complement naive Bayes (Rennie et al. 2003, made
for text and imbalanced classes), frozen sentence embeddings + logistic regression, and the
majority class, for all three tasks (one-vs-rest for multi-label). Evaluated on the same
split, they tell whether fine-tuning a transformer was worth it. Given validation data
(:meth:`BaselineClassifier.fit_rule`), a baseline's thresholds are tuned by the procedure
that tunes the model's, so a tuned model is never compared with an untuned baseline.

The embedding baseline is the strong one on short texts with few examples: the frozen
backbone's mean-pooled embeddings (how all-MiniLM-L6-v2 was trained to be used), L2-
normalised, under a logistic regression. MTEB reports 0.80 Banking77 accuracy for it
from 8 examples per class; a fine-tuned model that does not beat it wasted its training.

Example:
    >>> import numpy as np
    >>> clf = BaselineClassifier("tfidf_lr").fit(["good", "bad", "great", "awful"],
    ...                                          np.array([1, 0, 1, 0]), task="binary", labels=["neg", "pos"])
    >>> clf.predict_proba(["good"]).shape
    (1, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import logit
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline, make_pipeline

from textclf.config import EvalConfig
from textclf.evaluation.decision import DecisionRule, fit_configured_rule

BASELINES = ("tfidf_lr", "tfidf_cnb", "embed_lr", "majority")
BASELINE_NAMES = {
    "tfidf_lr": "TF-IDF + logistic regression",
    "tfidf_cnb": "TF-IDF + complement naive Bayes",
    "embed_lr": "frozen sentence embeddings + logistic regression",
    "majority": "majority class",
}


@functools.lru_cache(maxsize=2)
def _frozen_encoder(backbone: str, revision: str | None) -> tuple[Any, Any]:
    """The pretrained encoder and tokenizer, loaded once per process."""
    from transformers import AutoModel

    from textclf.modeling import load_tokenizer, quiet_transformers, resolve_model_name

    with quiet_transformers():  # a classifier checkpoint's head would be listed as unused
        model = AutoModel.from_pretrained(
            resolve_model_name(backbone), revision=revision, trust_remote_code=False
        )
    return model.eval(), load_tokenizer(backbone, revision=revision)


def frozen_embeddings(
    texts: Sequence[str],
    *,
    backbone: str = "default",
    revision: str | None = None,
    max_length: int = 256,
    batch_size: int = 64,
) -> np.ndarray:
    """L2-normalised mean-pooled embeddings of the pretrained backbone, ``(n, hidden)``.

    In bf16 where the device computes it natively (``fast=True``): a feature for a linear
    model, to which bf16's rounding makes no measurable difference.
    """
    from textclf.inference.pipeline import mean_pooled_embeddings

    model, tokenizer = _frozen_encoder(backbone, revision)
    emb = mean_pooled_embeddings(
        model, tokenizer, texts, max_length=max_length, batch_size=batch_size, fast=True
    )
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


class BaselineClassifier:
    """A scikit-learn text classifier with textclf's contract.

    Args:
        kind: ``tfidf_lr``, ``tfidf_cnb`` or ``majority``.
        random_state: Seed (logistic regression's solver).
        max_features: Vocabulary cap for TF-IDF (word 1–2-grams).
    """

    def __init__(
        self,
        kind: str = "tfidf_lr",
        *,
        random_state: int = 0,
        max_features: int = 200_000,
        backbone: str = "default",
        max_length: int = 256,
    ) -> None:
        if kind not in BASELINES:
            raise ValueError(f"unknown baseline '{kind}'; use one of {BASELINES}")
        self.kind = kind
        self.random_state = random_state
        self.max_features = max_features
        self.backbone = backbone
        self.max_length = max_length

    def _inputs(self, texts: Sequence[str]) -> Any:
        if self.kind == "embed_lr":
            return frozen_embeddings(texts, backbone=self.backbone, max_length=self.max_length)
        return list(texts)

    def _estimator(self, multilabel: bool, n: int) -> Any:
        # One-vs-rest with a single kept label would be read as a binary problem with two
        # probability columns; a single label is fitted as the plain binary problem it is.
        if self.kind == "majority":
            base: Any = DummyClassifier(strategy="prior")
            return OneVsRestClassifier(base) if multilabel else base
        if self.kind == "embed_lr":
            # C=10 on unit vectors: the best of 0.1-100 on Banking77 (10 per class) and
            # SST-2 (500) in a probe; the features are already compact and well scaled.
            lr = LogisticRegression(C=10.0, max_iter=3000, random_state=self.random_state)
            return OneVsRestClassifier(lr) if multilabel else lr
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=2 if n >= 1000 else 1,
            max_features=self.max_features,
        )
        if self.kind == "tfidf_lr":
            model: Any = LogisticRegression(C=10.0, max_iter=2000, random_state=self.random_state)
        else:
            model = ComplementNB(alpha=0.3)
        return make_pipeline(vectorizer, OneVsRestClassifier(model) if multilabel else model)

    def fit(
        self, texts: Sequence[str], y: np.ndarray, *, task: str, labels: Sequence[str]
    ) -> BaselineClassifier:
        """Fit on texts and encoded labels (``(n,)`` ids or ``(n, k)`` multi-hot rows)."""
        self.task_ = task
        self.labels_ = list(labels)
        self.estimator_: Any = None
        y = np.asarray(y)
        self._multilabel = task == "multilabel"
        est = self._estimator(self._multilabel, len(texts))
        if self._multilabel:
            # A label with no positive (or no negative) example cannot be fitted one-vs-rest;
            # it gets a constant probability equal to its training frequency.
            self._const = {
                j: float(y[:, j].mean())
                for j in range(y.shape[1])
                if y[:, j].min() == y[:, j].max()
            }
            keep = [j for j in range(y.shape[1]) if j not in self._const]
            self._keep = keep
            if self.kind == "majority" or not keep:
                self._prior = y.mean(axis=0)
                self.estimator_ = None
                return self
            self._single = len(keep) == 1
            if self._single:
                est = self._estimator(False, len(texts))
                est.fit(self._inputs(texts), y[:, keep[0]])
            else:
                est.fit(self._inputs(texts), y[:, keep])
        else:
            est.fit(self._inputs(texts), y)
            self._classes = est.classes_ if not isinstance(est, Pipeline) else est[-1].classes_
        self.estimator_ = est
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, k)`` probabilities; columns follow ``labels_``."""
        n, k = len(texts), len(self.labels_)
        if self._multilabel:
            out = np.tile(getattr(self, "_prior", np.zeros(k)), (n, 1)).astype(np.float64)
            if self.estimator_ is not None:
                proba = self.estimator_.predict_proba(self._inputs(texts))
                out[:, self._keep] = proba[:, 1:] if self._single else proba
                for j, v in self._const.items():
                    out[:, j] = v
            return out
        proba = self.estimator_.predict_proba(self._inputs(texts))
        out = np.zeros((n, k))
        out[:, self._classes] = proba  # classes absent from training keep probability 0
        return out

    @property
    def thresholds_(self) -> float | list[float] | None:
        """The thresholds :meth:`fit_rule` kept (``None``: argmax / 0.5, as unfitted)."""
        rule: DecisionRule | None = getattr(self, "rule_", None)
        return None if rule is None else rule.thresholds

    def fit_rule(
        self,
        texts: Sequence[str],
        y: np.ndarray,
        *,
        eval_config: EvalConfig | None = None,
        fitted_on: str = "validation split",
        seed: int = 0,
    ) -> DecisionRule:
        """Tune the thresholds on validation data as the model's are tuned.

        The same :func:`~textclf.evaluation.decision.fit_decision_rule` (its cross-fitted
        keep decision included) on the baseline's probabilities, without a temperature:
        the thresholds are on the probabilities themselves. Scored at 0.5 against a model
        with tuned thresholds, a baseline would be handicapped in the comparison.

        Returns:
            The rule, also stored as ``rule_``; its thresholds apply in ``assess``.
        """
        cfg = eval_config or EvalConfig()
        proba = np.clip(self.predict_proba(texts), 1e-12, 1 - 1e-12)
        # Scores whose softmax (single-label) or sigmoid (multi-label) are the probabilities.
        scores = logit(proba) if self._multilabel else np.log(proba)
        self.rule_ = fit_configured_rule(
            self.task_,
            self.labels_,
            scores,
            np.asarray(y),
            cfg,
            fitted_on=fitted_on,
            seed=seed,
            calibrate=False,
        )
        return self.rule_
