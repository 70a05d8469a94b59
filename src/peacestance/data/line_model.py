"""A learned body-vs-furniture line classifier, used beside the furniture rules.

The rules (``furniture.py``) were written from the team's own pages; other outlets word their
promo labels, captions and pitches differently. This logistic regression over hashed character
n-grams and a few shape features (length, sentence end, separators, capitals, digits) is trained
on the team's page lines labelled by the rules, on the blind page set's development pages labelled
by their writers, and on body sentences alone (``python tools/train_line_model.py``), so it carries
what the rules encode, and what other outlets' pages showed, to wordings the rules do not match. It
only *adds* furniture: a line the rules drop stays dropped, and its threshold was chosen to keep
99% of the body lines of held-out development pages.

The weights ship with the package (``line_model.npz``, about 0.5 MB); nothing is unpickled.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("line_model.npz")
N_HASHED = 2 ** 16

_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")
_SEPARATOR = re.compile(r"\s(\||l|-|–|—|•|·|›|»|:)\s")
_URL = re.compile(r"https?://|www\.|\.[a-z]{2,3}/", re.I)
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d+\s?(h|m|min|hours?|minutes?)\s+ago\b", re.I)
_PROMO = re.compile(r"^(video|watch|listen|now playing|live|play|podcast)\b", re.I)


def shape_features(line: str) -> np.ndarray:
    words = line.split()
    n = max(len(words), 1)
    letters = [c for c in line if c.isalpha()]
    return np.array([
        np.log1p(len(words)) / 4,
        float(bool(_TERMINAL.search(line))),
        float(len(words) < 6),
        float(len(words) >= 15),
        sum(w[:1].isupper() for w in words) / n,
        sum(c.isupper() for c in letters) / max(len(letters), 1),
        sum(c.isdigit() for c in line) / max(len(line), 1),
        float(bool(_SEPARATOR.search(line))),
        float(bool(_URL.search(line))),
        float(bool(_TIME.search(line))),
        float(bool(_PROMO.match(line))),
        float(line[:1] in "#*-•©(["),
        float(line.count(",") >= 2),
    ], dtype=np.float32)


@lru_cache(maxsize=1)
def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=N_HASHED, alternate_sign=False,
                             norm="l2")


def features(lines: list[str]):
    """Sparse (n, N_HASHED + shape) feature matrix of lines."""
    from scipy.sparse import csr_matrix, hstack

    hashed = _vectorizer().transform([line.lower() for line in lines])
    shapes = csr_matrix(np.stack([shape_features(line) for line in lines])) if lines else csr_matrix((0, 13))
    return hstack([hashed, shapes]).tocsr()


@lru_cache(maxsize=1)
def _weights() -> tuple[np.ndarray, float, float]:
    with np.load(WEIGHTS, allow_pickle=False) as data:
        return data["coef"].astype(np.float32), float(data["intercept"]), float(data["threshold"])


def available() -> bool:
    return WEIGHTS.is_file()


def furniture_probability(lines: list[str]) -> np.ndarray:
    coef, intercept, _ = _weights()
    z = features(lines) @ coef + intercept
    return 1.0 / (1.0 + np.exp(-np.asarray(z).ravel()))


def sure_furniture(lines: list[str]) -> frozenset[str]:
    """The lines of one page the model is sure are furniture, scored in one call.

    Scoring a page line by line cost ``analyze()`` about an eighth of its time (a vectorizer call
    per line); one call over the page's distinct lines gives the same probabilities.
    """
    unique = [line for line in dict.fromkeys(lines) if line]
    if not unique or not available():
        return frozenset()
    threshold = _weights()[2]
    return frozenset(line for line, p in zip(unique, furniture_probability(unique)) if p >= threshold)


def is_furniture(line: str) -> bool:
    """True when the learned model is sure (above its shipped threshold) that a line is not article prose."""
    if not available():
        return False
    return bool(furniture_probability([line])[0] >= _weights()[2])


def looks_like_promo(line: str) -> bool:
    """A furniture line that opens a promo block (its blurb lines follow in the same paragraph)."""
    return bool(_PROMO.match(line.strip()))
