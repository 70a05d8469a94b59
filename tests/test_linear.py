"""The numpy scorers that serve a fitted model score exactly as scikit-learn did."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from peacestance.models.linear import LinearHead, TfidfFeatures

TEXTS = [
    "Paris said troops could deploy, troops and planes, within days of a truce.",
    "Moscow rejected any foreign troops in Ukraine || T_troops",
    "The White House ruled out U.S. soldiers but offered air support.",
    "ÉLYSÉE officials said nothing; the talks go on.",
    "no no no no guarantees without Washington",
    "",
    "a b c",  # no token of two characters: an all-zero row
]
UNSEEN = ["Completely unseen words here", "troops troops troops truce", "Über-guarantees from Élysée"]


@pytest.mark.parametrize("settings", [
    {"ngram_range": (1, 2), "sublinear_tf": True},
    {"ngram_range": (1, 1), "sublinear_tf": False},
    {"ngram_range": (2, 3), "sublinear_tf": True, "max_features": 20},
])
def test_tfidf_features_equal_scikit_learns(settings):
    fitted = TfidfVectorizer(lowercase=True, **settings).fit(TEXTS)
    ours = TfidfFeatures.from_sklearn(fitted)
    for texts in (TEXTS, UNSEEN):
        np.testing.assert_allclose(ours.transform(texts).toarray(), fitted.transform(texts).toarray(), atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_head_equals_scikit_learns_probabilities(n_classes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = np.arange(60) % n_classes
    fitted = LogisticRegression(C=0.5).fit(x + y[:, None], y)
    head = LinearHead.from_sklearn(fitted)
    probe = rng.normal(size=(10, 5)) * 3
    np.testing.assert_allclose(head.predict_log_proba(probe), fitted.predict_log_proba(probe), atol=1e-10)
    np.testing.assert_allclose(head.predict_proba(probe), fitted.predict_proba(probe), atol=1e-12)


def test_a_linear_head_with_mismatched_shapes_is_refused():
    with pytest.raises(ValueError, match=r"coef of shape \(k, d\) and k intercepts, not \(3, 4\) and \(2,\)"):
        LinearHead([0, 1, 2], np.zeros((3, 4)), np.zeros(2))
