"""The MLflow pyfunc: a DataFrame of (text, target) in, label and one probability column per label out.

MLflow's transformers flavour ignores the second text of a pair, so the project
ships its own PythonModel that loads the saved model folder from ``artifacts``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd


class PeacestanceModel(mlflow.pyfunc.PythonModel):
    def __init__(self):
        self.predictor = None

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> "PeacestanceModel":
        model = cls()
        model._load(model_dir)
        return model

    def _load(self, model_dir: str | Path) -> None:
        from peacestance.predict import Predictor

        self.predictor = Predictor(model_dir)

    def load_context(self, context) -> None:
        self._load(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if "text" not in model_input.columns:
            raise _bad_input(f"input needs a 'text' column; got {list(model_input.columns)}")
        texts = model_input["text"].tolist()
        default = self.predictor.task.first_target  # the task the model was trained on, not a constant here
        targets = model_input["target"].tolist() if "target" in model_input.columns else [None] * len(texts)
        for i, (text, target) in enumerate(zip(texts, targets)):
            if not isinstance(text, str):
                raise _bad_input(f"row {i}: 'text' must be a string, got {_describe(text)}")
            if not _missing(target) and not isinstance(target, str):
                raise _bad_input(f"row {i}: 'target' must be a string (one of {', '.join(self.predictor.targets)} or a "
                                 f"phrase) or left out, got {_describe(target)}")
        targets = [default if _missing(t) else t for t in targets]
        try:
            preds = self.predictor.predict(texts, targets)
        except ValueError as exc:  # an unknown target id, a free phrase a per-target model cannot take
            raise _bad_input(str(exc)) from None
        return pd.DataFrame({"label": [p.label for p in preds],
                             **{label: [p.scores[label] for p in preds] for label in self.predictor.labels}})


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _describe(value) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"[:80]


def _bad_input(message: str):
    """An error the scoring server answers with 400 and this message (not a stack trace)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)
