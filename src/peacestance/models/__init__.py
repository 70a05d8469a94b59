"""Model recipes behind one interface (``StanceModel``), chosen in config by ``_target_``.

    model=minilm / model=mpnet       cross-encoder fine-tuned end to end (models.cross_encoder)
    model=tfidf                      TF-IDF + logistic regression baseline (models.tfidf)
    model=mpnet_head / mpnet_pair    frozen encoder + a head, per target or over (sentence, phrase) (models.embedding_head)
"""

from __future__ import annotations

import importlib
from pathlib import Path

from omegaconf import DictConfig

from peacestance.models.base import META_FILE, FitContext, StanceModel, read_meta
from peacestance.task import TaskSpec

#: kind written in peacestance.json -> the class that loads it. Loading never imports anything else.
KINDS = {
    "transformer": "peacestance.models.cross_encoder:CrossEncoder",
    "tfidf": "peacestance.models.tfidf:TfidfModel",
    "embedding_head": "peacestance.models.embedding_head:EmbeddingHead",
}


def _import(path: str) -> type[StanceModel]:
    module, _, name = path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)


def build(model_cfg: DictConfig, task: TaskSpec | None = None) -> StanceModel:
    """The recipe that ``model._target_`` names, built from the model config, for the task (default: the project's)."""
    target = model_cfg.get("_target_")
    if not target:
        raise ValueError("the model config has no _target_ (e.g. peacestance.models.cross_encoder.CrossEncoder)")
    cls = _import(target)
    if not (isinstance(cls, type) and issubclass(cls, StanceModel)):
        raise ValueError(f"model._target_={target!r} is not a peacestance StanceModel")
    model = cls(model_cfg)
    if task is not None:
        model.set_task(task)
    return model


def load(model_dir: str | Path) -> StanceModel:
    """Load any saved model folder by the kind its peacestance.json names."""
    kind = read_meta(model_dir).get("kind", "transformer")
    if kind not in KINDS:
        raise ValueError(f"{Path(model_dir) / META_FILE}: unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    return _import(KINDS[kind]).load(model_dir)


__all__ = ["KINDS", "META_FILE", "FitContext", "StanceModel", "build", "load", "read_meta"]
