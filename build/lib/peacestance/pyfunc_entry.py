"""Models-from-code entry for MLflow: nothing is pickled, the class is built here at load time."""

import mlflow

from peacestance.serving import PeacestanceModel

mlflow.models.set_model(PeacestanceModel())
