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
from typing import TYPE_CHECKING

import numpy as np

from peacestance.models.base import FitContext, StanceModel, row_weights
from peacestance.models.linear import LinearHead, TfidfFeatures

if TYPE_CHECKING:
    import pandas as pd

WEIGHTS_FILE = "tfidf.json"


def pair_text(sentence: str, phrase: str) -> str:
    """One string per (sentence, target): target words are marked so they form their own features."""
    return f"{sentence} || " + " ".join(f"T_{w}" for w in phrase.lower().split())


class LexicalClassifier:
    """TF-IDF features + a logistic regression, fitted with sample weights; JSON in, JSON out.

    scikit-learn fits it; scoring goes through ``models/linear.py`` (numpy only), so a fitted
    and a loaded classifier score alike and serving never imports scikit-learn.
    """

    def __init__(self, ngram_range=(1, 2), min_df: int = 1, max_features: int | None = 50000,
                 sublinear_tf: bool = True, C: float = 4.0, class_weight: str | None = "balanced", seed: int = 0):
        self.settings = {"ngram_range": tuple(ngram_range), "min_df": int(min_df),
                         "max_features": None if max_features is None else int(max_features),
                         "sublinear_tf": bool(sublinear_tf), "C": float(C), "class_weight": class_weight or None,
                         "seed": int(seed)}
        self.features: TfidfFeatures | None = None
        self.head: LinearHead | None = None

    #: the settings a config may carry (a model config's other keys are not this classifier's)
    SETTINGS = ("ngram_range", "min_df", "max_features", "sublinear_tf", "C", "class_weight")

    @classmethod
    def from_config(cls, cfg, seed: int = 0) -> "LexicalClassifier":
        """The settings the config names; the others keep ``__init__``'s defaults."""
        return cls(**{k: cfg[k] for k in cls.SETTINGS if k in cfg}, seed=seed)

    def fit(self, texts: Sequence[str], y: Sequence[int], sample_weight: np.ndarray | None = None) -> "LexicalClassifier":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        s = self.settings
        vectorizer = TfidfVectorizer(ngram_range=s["ngram_range"], min_df=s["min_df"], max_features=s["max_features"],
                                     sublinear_tf=s["sublinear_tf"], lowercase=True)
        classifier = LogisticRegression(C=s["C"], class_weight=s["class_weight"], max_iter=2000, random_state=s["seed"])
        classifier.fit(vectorizer.fit_transform(texts), y, sample_weight=sample_weight)
        self.features, self.head = TfidfFeatures.from_sklearn(vectorizer), LinearHead.from_sklearn(classifier)
        return self

    def log_proba(self, texts: Sequence[str], n_labels: int) -> np.ndarray:
        """(n, n_labels) log-probabilities; a label never seen in training gets -30."""
        out = np.full((len(texts), n_labels), -30.0)
        out[:, self.head.classes_] = self.head.predict_log_proba(self.features.transform(texts))
        return out

    def to_dict(self) -> dict:
        f, h = self.features, self.head
        return {
            "params": {"ngram_range": list(f.ngram_range), "min_df": self.settings["min_df"],
                       "max_features": self.settings["max_features"], "sublinear_tf": f.sublinear_tf,
                       "lowercase": f.lowercase},
            "vocabulary": {k: int(v) for k, v in f.vocabulary.items()},
            "idf": f.idf.tolist(),
            "classes": h.classes_.tolist(),
            "coef": h.coef_.tolist(),
            "intercept": h.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, weights: dict) -> "LexicalClassifier":
        params = weights["params"]
        model = cls(ngram_range=params["ngram_range"], min_df=params.get("min_df", 1),
                    max_features=params.get("max_features"), sublinear_tf=params["sublinear_tf"])
        model.features = TfidfFeatures(weights["vocabulary"], weights["idf"], params["ngram_range"],
                                       params["sublinear_tf"], params.get("lowercase", True))
        model.head = LinearHead(weights["classes"], weights["coef"], weights["intercept"])
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
