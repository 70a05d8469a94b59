"""peacestance: who is for and who is against what, sentence by sentence, in the talks on
security guarantees for Ukraine.

    from peacestance import predict, load_predictor
    predict("Italy ruled out sending soldiers.", target="troops").label   # 'against'

torch and transformers load on first prediction, not on import.
"""

from __future__ import annotations

from peacestance.schema import DEFAULT_TARGET, LABELS, TARGETS

# Bound after the submodule import on purpose: the name `predict` is the function, not the module.
from peacestance.predict import Prediction, Predictor, load_predictor, predict  # noqa: E402  isort: skip
from peacestance.data.articles import split_article  # noqa: E402  isort: skip

__version__ = "0.1.0"
__all__ = ["DEFAULT_TARGET", "LABELS", "TARGETS", "Prediction", "Predictor", "load_predictor", "predict", "split_article"]
