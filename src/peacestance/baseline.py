"""TF-IDF + logistic regression: the baseline every transformer run is compared with.

Saved as JSON (vocabulary, idf, coefficients), so the baseline model folder is
as pickle-free as the transformer's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from peacestance.modeling import META_FILE
from peacestance.schema import LABELS, TARGETS

WEIGHTS_FILE = "tfidf.json"


def pair_text(sentence: str, phrase: str) -> str:
    """One string per (sentence, target): target words are marked so they form their own features."""
    return f"{sentence} || " + " ".join(f"T_{w}" for w in phrase.lower().split())


class TfidfModel:
    def __init__(self, vectorizer: TfidfVectorizer, classifier: LogisticRegression):
        self.vectorizer = vectorizer
        self.classifier = classifier

    @classmethod
    def fit(cls, sentences: list[str], phrases: list[str], labels: list[str], cfg: DictConfig, seed: int) -> "TfidfModel":
        vectorizer = TfidfVectorizer(ngram_range=tuple(cfg.ngram_range), min_df=cfg.min_df, max_features=cfg.max_features,
                                     sublinear_tf=cfg.sublinear_tf, lowercase=True)
        x = vectorizer.fit_transform([pair_text(s, p) for s, p in zip(sentences, phrases)])
        classifier = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=2000, random_state=seed)
        classifier.fit(x, [LABELS.index(y) for y in labels])
        return cls(vectorizer, classifier)

    def scores(self, sentences: list[str], phrases: list[str]) -> np.ndarray:
        x = self.vectorizer.transform([pair_text(s, p) for s, p in zip(sentences, phrases)])
        proba = np.zeros((len(sentences), len(LABELS)))
        proba[:, self.classifier.classes_] = self.classifier.predict_proba(x)
        return proba

    def save(self, out_dir: str | Path, meta: dict) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
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
        full = {"labels": list(LABELS), "targets": dict(TARGETS), "kind": "tfidf", **meta}
        (out / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, model_dir: str | Path) -> "TfidfModel":
        weights = json.loads((Path(model_dir) / WEIGHTS_FILE).read_text(encoding="utf-8"))
        params = weights["params"]
        params["ngram_range"] = tuple(params["ngram_range"])
        vectorizer = TfidfVectorizer(**params)
        vectorizer.vocabulary_ = weights["vocabulary"]
        vectorizer.idf_ = np.asarray(weights["idf"])
        classifier = LogisticRegression()
        classifier.classes_ = np.asarray(weights["classes"])
        classifier.coef_ = np.asarray(weights["coef"])
        classifier.intercept_ = np.asarray(weights["intercept"])
        return cls(vectorizer, classifier)
