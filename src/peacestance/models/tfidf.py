"""TF-IDF + logistic regression: the baseline every transformer run is compared with.

``LexicalClassifier`` is the one TF-IDF classifier: the baseline is one over all (sentence,
phrase) pairs, and the embedding head can mix one per target into its scores (word-level
evidence a frozen sentence embedding blurs). Saved as JSON (vocabulary, idf, coefficients),
so a folder that holds one is as pickle-free as the transformer's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from peacestance.models.base import FitContext, StanceModel, row_weights

WEIGHTS_FILE = "tfidf.json"


def pair_text(sentence: str, phrase: str) -> str:
    """One string per (sentence, target): target words are marked so they form their own features."""
    return f"{sentence} || " + " ".join(f"T_{w}" for w in phrase.lower().split())


class LexicalClassifier:
    """TF-IDF features + a logistic regression, fitted with sample weights; JSON in, JSON out."""

    def __init__(self, ngram_range=(1, 2), min_df: int = 1, max_features: int | None = 50000,
                 sublinear_tf: bool = True, C: float = 4.0, class_weight: str | None = "balanced", seed: int = 0):
        self.vectorizer = TfidfVectorizer(ngram_range=tuple(ngram_range), min_df=int(min_df),
                                          max_features=None if max_features is None else int(max_features),
                                          sublinear_tf=bool(sublinear_tf), lowercase=True)
        self.classifier = LogisticRegression(C=float(C), class_weight=class_weight or None, max_iter=2000,
                                             random_state=int(seed))

    #: the settings a config may carry (a model config's other keys are not this classifier's)
    SETTINGS = ("ngram_range", "min_df", "max_features", "sublinear_tf", "C", "class_weight")

    @classmethod
    def from_config(cls, cfg, seed: int = 0) -> "LexicalClassifier":
        """The settings the config names; the others keep ``__init__``'s defaults."""
        return cls(**{k: cfg[k] for k in cls.SETTINGS if k in cfg}, seed=seed)

    def fit(self, texts: Sequence[str], y: Sequence[int], sample_weight: np.ndarray | None = None) -> "LexicalClassifier":
        self.classifier.fit(self.vectorizer.fit_transform(texts), y, sample_weight=sample_weight)
        return self

    def log_proba(self, texts: Sequence[str], n_labels: int) -> np.ndarray:
        """(n, n_labels) log-probabilities; a label never seen in training gets -30."""
        out = np.full((len(texts), n_labels), -30.0)
        out[:, self.classifier.classes_] = self.classifier.predict_log_proba(self.vectorizer.transform(texts))
        return out

    def to_dict(self) -> dict:
        return {
            "params": {k: v for k, v in self.vectorizer.get_params().items() if k in
                       ("ngram_range", "min_df", "max_features", "sublinear_tf", "lowercase")},
            "vocabulary": {k: int(v) for k, v in self.vectorizer.vocabulary_.items()},
            "idf": self.vectorizer.idf_.tolist(),
            "classes": self.classifier.classes_.tolist(),
            "coef": self.classifier.coef_.tolist(),
            "intercept": self.classifier.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, weights: dict) -> "LexicalClassifier":
        params = dict(weights["params"])
        params["ngram_range"] = tuple(params["ngram_range"])
        model = cls.__new__(cls)
        model.vectorizer = TfidfVectorizer(**params)
        model.vectorizer.vocabulary_ = weights["vocabulary"]
        model.vectorizer.idf_ = np.asarray(weights["idf"])
        model.classifier = LogisticRegression()
        model.classifier.classes_ = np.asarray(weights["classes"])
        model.classifier.coef_ = np.asarray(weights["coef"])
        model.classifier.intercept_ = np.asarray(weights["intercept"])
        return model


class TfidfModel(StanceModel):
    kind = "tfidf"
    # No epochs, no optimizer: only these train.* settings mean anything to this recipe.
    train_knobs = ("seed", "cells", "objective", "calibrate_on", "device", "eval_batch_size", "promote", "page_weights")

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        self.lexical = LexicalClassifier.from_config(self.cfg, seed=int(ctx.train.seed)).fit(
            [pair_text(s, p) for s, p in zip(train["sentence"], train["phrase"])],
            [self.labels.index(y) for y in train["label"]], sample_weight=row_weights(train))

    def logits(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        return self.lexical.log_proba([pair_text(s, p) for s, p in zip(sentences, phrases)], len(self.labels))

    def _save_weights(self, out: Path) -> None:
        (out / WEIGHTS_FILE).write_text(json.dumps(self.lexical.to_dict()), encoding="utf-8")

    @classmethod
    def _load_weights(cls, model_dir: Path, meta: dict) -> "TfidfModel":
        model = cls()
        model.lexical = LexicalClassifier.from_dict(json.loads((Path(model_dir) / WEIGHTS_FILE).read_text(encoding="utf-8")))
        return model
