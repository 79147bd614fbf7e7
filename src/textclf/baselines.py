"""Cheap baselines behind the same contract as the transformer: fit / predict_proba / labels_.

TF-IDF + logistic regression, TF-IDF + complement naive Bayes (Rennie et al. 2003, made
for text and imbalanced classes) and the majority class, for all three tasks (one-vs-rest
for multi-label). Evaluated on the same test split, they tell whether fine-tuning a
transformer was worth it.

Example:
    >>> import numpy as np
    >>> clf = BaselineClassifier("tfidf_lr").fit(["good", "bad", "great", "awful"],
    ...                                          np.array([1, 0, 1, 0]), task="binary", labels=["neg", "pos"])
    >>> clf.predict_proba(["good"]).shape
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline, make_pipeline

BASELINES = ("tfidf_lr", "tfidf_cnb", "majority")
BASELINE_NAMES = {
    "tfidf_lr": "TF-IDF + logistic regression",
    "tfidf_cnb": "TF-IDF + complement naive Bayes",
    "majority": "majority class",
}


class BaselineClassifier:
    """A scikit-learn text classifier with textclf's contract.

    Args:
        kind: ``tfidf_lr``, ``tfidf_cnb`` or ``majority``.
        random_state: Seed (logistic regression's solver).
        max_features: Vocabulary cap for TF-IDF (word 1–2-grams).
    """

    def __init__(
        self, kind: str = "tfidf_lr", *, random_state: int = 0, max_features: int = 200_000
    ) -> None:
        if kind not in BASELINES:
            raise ValueError(f"unknown baseline '{kind}'; use one of {BASELINES}")
        self.kind = kind
        self.random_state = random_state
        self.max_features = max_features

    def _estimator(self, multilabel: bool, n: int) -> Any:
        # One-vs-rest with a single kept label would be read as a binary problem with two
        # probability columns; a single label is fitted as the plain binary problem it is.
        if self.kind == "majority":
            base: Any = DummyClassifier(strategy="prior")
            return OneVsRestClassifier(base) if multilabel else base
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
                est.fit(list(texts), y[:, keep[0]])
            else:
                est.fit(list(texts), y[:, keep])
        else:
            est.fit(list(texts), y)
            self._classes = est.classes_ if not isinstance(est, Pipeline) else est[-1].classes_
        self.estimator_ = est
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, k)`` probabilities; columns follow ``labels_``."""
        n, k = len(texts), len(self.labels_)
        if self._multilabel:
            out = np.tile(getattr(self, "_prior", np.zeros(k)), (n, 1)).astype(np.float64)
            if self.estimator_ is not None:
                proba = self.estimator_.predict_proba(list(texts))
                out[:, self._keep] = proba[:, 1:] if self._single else proba
                for j, v in self._const.items():
                    out[:, j] = v
            return out
        proba = self.estimator_.predict_proba(list(texts))
        out = np.zeros((n, k))
        out[:, self._classes] = proba  # classes absent from training keep probability 0
        return out
