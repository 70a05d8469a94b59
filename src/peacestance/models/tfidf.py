"""TF-IDF + logistic regression: the baseline every transformer run is compared with.

Saved as JSON (vocabulary, idf, coefficients), so the baseline model folder is
as pickle-free as the transformer's.
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


class TfidfModel(StanceModel):
    kind = "tfidf"
    # No epochs, no optimizer: only these train.* settings mean anything to this recipe.
    train_knobs = ("seed", "cells", "objective", "calibrate_on", "device", "eval_batch_size", "promote", "page_weights")

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        cfg = self.cfg
        self.vectorizer = TfidfVectorizer(ngram_range=tuple(cfg.ngram_range), min_df=cfg.min_df,
                                          max_features=cfg.max_features, sublinear_tf=cfg.sublinear_tf, lowercase=True)
        x = self.vectorizer.fit_transform([pair_text(s, p) for s, p in zip(train["sentence"], train["phrase"])])
        self.classifier = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=2000,
                                             random_state=int(ctx.train.seed))
        self.classifier.fit(x, [self.labels.index(y) for y in train["label"]], sample_weight=row_weights(train))

    def logits(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        x = self.vectorizer.transform([pair_text(s, p) for s, p in zip(sentences, phrases)])
        out = np.full((len(sentences), len(self.labels)), -30.0)
        out[:, self.classifier.classes_] = self.classifier.predict_log_proba(x)
        return out

    def _save_weights(self, out: Path) -> None:
        weights = {
            "params": {k: v for k, v in self.vectorizer.get_params().items() if k in
                       ("ngram_range", "min_df", "max_features", "sublinear_tf", "lowercase")},
            "vocabulary": {k: int(v) for k, v in self.vectorizer.vocabulary_.items()},
            "idf": self.vectorizer.idf_.tolist(),
            "classes": self.classifier.classes_.tolist(),
            "coef": self.classifier.coef_.tolist(),
            "intercept": self.classifier.intercept_.tolist(),
        }
        (out / WEIGHTS_FILE).write_text(json.dumps(weights), encoding="utf-8")

    @classmethod
    def _load_weights(cls, model_dir: Path, meta: dict) -> "TfidfModel":
        weights = json.loads((Path(model_dir) / WEIGHTS_FILE).read_text(encoding="utf-8"))
        params = weights["params"]
        params["ngram_range"] = tuple(params["ngram_range"])
        model = cls()
        model.vectorizer = TfidfVectorizer(**params)
        model.vectorizer.vocabulary_ = weights["vocabulary"]
        model.vectorizer.idf_ = np.asarray(weights["idf"])
        model.classifier = LogisticRegression()
        model.classifier.classes_ = np.asarray(weights["classes"])
        model.classifier.coef_ = np.asarray(weights["coef"])
        model.classifier.intercept_ = np.asarray(weights["intercept"])
        return model
