"""peacestance: who is for and who is against what, sentence by sentence, in the talks on
security guarantees for Ukraine.

    from peacestance import predict, load_predictor
    predict("Italy ruled out sending soldiers.", target="troops").label   # 'against'

Heavy modules (torch, transformers) load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peacestance.schema import DEFAULT_TARGET, LABELS, TARGETS

__version__ = "0.1.0"
__all__ = ["DEFAULT_TARGET", "LABELS", "TARGETS", "Prediction", "Predictor", "load_predictor", "predict", "split_article"]

if TYPE_CHECKING:
    from peacestance.data import split_article
    from peacestance.predict import Prediction, Predictor, load_predictor, predict


def __getattr__(name: str):
    if name in ("Prediction", "Predictor", "load_predictor", "predict"):
        from peacestance import predict as _predict_module

        return getattr(_predict_module, name)
    if name == "split_article":
        from peacestance.data import split_article

        return split_article
    raise AttributeError(f"module 'peacestance' has no attribute {name!r}")
