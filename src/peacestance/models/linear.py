"""Scoring a fitted logistic regression and TF-IDF vocabulary with numpy alone.

scikit-learn fits the heads and the TF-IDF classifiers, but serving only needs a dot
product, a softmax and a word count. Importing scikit-learn at serving time pulls in
pandas and pyarrow too (about 100 MB of a process that must stay under 1 GB for 100,000
pairs, see ``benchmarks/run.py``), so a loaded model scores through these classes and
never imports it. Their outputs equal scikit-learn's (``tests/test_linear.py`` checks it on
fitted models), so a freshly fitted model and the same model loaded from disk agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

#: scikit-learn's default word pattern for TfidfVectorizer (tokens of two or more word characters)
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


class LinearHead:
    """A fitted logistic regression: classes, weights, bias; scores as scikit-learn's ``predict_*_proba``."""

    def __init__(self, classes: Sequence[int], coef: np.ndarray, intercept: np.ndarray):
        self.classes_ = np.asarray(classes)
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        if self.coef_.ndim != 2 or len(self.intercept_) != len(self.coef_):
            raise ValueError(f"a linear head needs coef of shape (k, d) and k intercepts, not {self.coef_.shape} "
                             f"and {self.intercept_.shape}")

    @classmethod
    def from_sklearn(cls, fitted) -> "LinearHead":
        return cls(fitted.classes_, fitted.coef_, fitted.intercept_)

    def decision(self, x) -> np.ndarray:
        return np.asarray(x @ self.coef_.T, dtype=np.float64) + self.intercept_

    def predict_log_proba(self, x) -> np.ndarray:
        z = self.decision(x)
        if z.shape[1] == 1:  # binary: one logit for the second class, as scikit-learn stores it
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict_proba(self, x) -> np.ndarray:
        return np.exp(self.predict_log_proba(x))


class TfidfFeatures:
    """A fitted TF-IDF vocabulary: word n-gram counts, optional log tf, idf weights, L2 rows.

    Covers the settings ``LexicalClassifier`` fits with (word analyzer, the default token
    pattern, lower-casing, no accent stripping, no stop words, smooth idf, L2 norm).
    """

    def __init__(self, vocabulary: dict[str, int], idf: Sequence[float], ngram_range=(1, 1),
                 sublinear_tf: bool = False, lowercase: bool = True):
        self.vocabulary = dict(vocabulary)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.sublinear_tf = bool(sublinear_tf)
        self.lowercase = bool(lowercase)

    @classmethod
    def from_sklearn(cls, fitted) -> "TfidfFeatures":
        params = fitted.get_params()
        return cls(fitted.vocabulary_, fitted.idf_, params["ngram_range"], params["sublinear_tf"], params["lowercase"])

    def terms(self, text: str) -> list[str]:
        tokens = TOKEN_PATTERN.findall(text.lower() if self.lowercase else text)
        low, high = self.ngram_range
        out = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return out

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix

        indptr, indices, values = [0], [], []
        for text in texts:
            counts: dict[int, int] = {}
            for term in self.terms(text):
                j = self.vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            cols = sorted(counts)
            tf = np.asarray([counts[j] for j in cols], dtype=np.float64)
            if self.sublinear_tf:
                tf = np.log(tf) + 1.0
            weights = tf * self.idf[cols]
            norm = np.sqrt((weights ** 2).sum())
            if norm > 0:
                weights = weights / norm
            indices.extend(cols)
            values.extend(weights.tolist())
            indptr.append(len(indices))
        return csr_matrix((np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
                          shape=(len(texts), len(self.idf)))
