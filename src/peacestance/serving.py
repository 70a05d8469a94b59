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
            raise ValueError(f"input needs a 'text' column; got {list(model_input.columns)}")
        texts = model_input["text"].tolist()
        default = self.predictor.task.first_target  # the task the model was trained on, not a constant here
        if "target" in model_input.columns:
            targets = [t if isinstance(t, str) and t else default for t in model_input["target"].tolist()]
        else:
            targets = [default] * len(texts)
        preds = self.predictor.predict(texts, targets)
        return pd.DataFrame({"label": [p.label for p in preds],
                             **{label: [p.scores[label] for p in preds] for label in self.predictor.labels}})
