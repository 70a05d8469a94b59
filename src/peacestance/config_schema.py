"""Typed schemas for the config groups a run depends on, and the checks types alone cannot make.

Hydra composes ``configs/train/default.yaml``, ``configs/data/default.yaml`` and
``configs/tracking/*.yaml`` on top of these dataclasses (their defaults lists name ``schema``), so
``train.lr=abc`` or ``data.full_matrix=maybe`` fail while the config is composed, naming the key;
``+train.lrr=1`` is refused by ``check_config`` (Hydra's ``+`` bypasses the struct flag). Choices
among names and ranges are checked by ``check_config`` before a run does anything: before a
checkpoint is touched, before an MLflow run is created.

The ``model`` group holds several kinds of recipe with different knobs, so its schema depends on
``model._target_`` (``MODEL_SCHEMAS``): ``model.C=abc``, ``model.pooling=max`` or ``+model.dropout=0.1``
on a frozen-encoder head fail before the encoder is loaded, not minutes later inside scikit-learn.
A ``_target_`` of the user's own (any StanceModel) keeps its knobs unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import DictConfig

CHOICES: dict[str, tuple[str, ...]] = {
    "train.device": ("auto", "cpu", "cuda", "mps"),
    "train.mixed_precision": ("auto", "bf16", "fp16", "off"),
    "train.cells": ("primary", "matrix"),
    "train.promote": ("always", "if_better", "never"),
    "data.on_bad_page": ("raise", "skip"),
    "data.segmenter": ("pysbd", "syntok", "blingfire", "sentencex"),
}
POSITIVE = ("train.epochs", "train.batch_size", "train.eval_batch_size", "train.logging_steps", "train.max_train_samples",
            "train.max_eval_samples")
NON_NEGATIVE = ("train.lr", "train.weight_decay", "train.warmup_ratio", "train.label_smoothing",
                "train.early_stopping_patience", "train.threads")


@dataclass
class TrainSchema:
    """Every ``train.*`` knob with its type (values live in configs/train/default.yaml)."""

    device: str = "auto"
    epochs: int = 4
    lr: float = 1e-4
    batch_size: int = 32
    eval_batch_size: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    freeze_embeddings: bool = False
    early_stopping_patience: int = 2
    mixed_precision: str = "auto"
    group_by_length: bool = True
    threads: int = 0
    seed: int = 13
    resume: bool = False
    checkpoint_dir: str = "experiments/checkpoints"
    cells: str = "primary"
    objective: str = "blind-dev"
    calibrate_on: Any = "blind-dev"  # a part name, or null
    max_train_samples: Any = None  # int or null
    max_eval_samples: Any = None
    logging_steps: int = 20
    promote: str = "if_better"
    page_weights: dict[str, float] = field(default_factory=dict)  # doc_id glob -> weight of its training rows


@dataclass
class SplitSchema:
    seed: int = 13
    train: float = 0.7
    validation: float = 0.15
    test: float = 0.15
    train_only: list[str] = field(default_factory=list)  # doc_id globs whose pages always go to train


@dataclass
class CorpusDataSchema:
    """``data=default``: the team's pages and labels through prepare (tables have their own keys)."""

    raw_dir: str = "data/raw/articles"
    annotations: str = "data/raw/annotations.jsonl"
    processed_dir: str = "data/processed"
    segmenter: str = "syntok"
    full_matrix: bool = True
    on_bad_page: str = "raise"
    min_unlabeled_words: int = 4
    progress_min_pages: int = 20
    split: SplitSchema = field(default_factory=SplitSchema)


@dataclass
class TrackingSchema:
    uri: str = "sqlite:///experiments/mlflow.db"
    artifact_location: Any = None  # a folder, or null (the server decides)
    experiment: str = "peacestance"
    registered_model: Any = "peacestance"  # a name, or null: do not register
    log_model: bool = True


@dataclass
class LexicalSchema:
    """``model.lexical``: the TF-IDF classifier mixed into a frozen-encoder head."""

    ngram_range: list[int] = field(default_factory=lambda: [1, 2])
    min_df: int = 2
    max_features: Any = 50000  # int or null
    sublinear_tf: bool = True
    C: float = 10.0
    class_weight: Any = "balanced"  # "balanced" or null


@dataclass
class CrossEncoderSchema:
    """``model=minilm|mpnet|tiny``: a transformer fine-tuned on (sentence, target phrase) pairs."""

    _target_: str = "peacestance.models.cross_encoder.CrossEncoder"
    name: str = "minilm"
    pretrained: Any = "packaged"  # "packaged", an alias, a hub id, a folder, or null with ``tiny``
    tokenizer: Any = None
    tiny: Any = None  # a transformers config (dict) for a model built from scratch
    max_length: int = 128


@dataclass
class PartialSchema(CrossEncoderSchema):
    """``model=mpnet_partial``: only the top ``train_layers`` layers are trained."""

    train_layers: int = 4


@dataclass
class TfidfSchema(LexicalSchema):
    """``model=tfidf``: the same TF-IDF classifier (models/tfidf.py LexicalClassifier) as the whole recipe."""

    _target_: str = "peacestance.models.tfidf.TfidfModel"
    name: str = "tfidf"
    min_df: int = 1
    C: float = 4.0
    max_length: int = 128


@dataclass
class EmbeddingHeadSchema:
    """``model=mpnet_head`` and the recipes built on it (pair, gate, student, minilm_head)."""

    _target_: str = "peacestance.models.embedding_head.EmbeddingHead"
    name: str = "mpnet_head"
    encoder: str = "mpnet"
    head: str = "per_target"
    pooling: str = "mean"
    depth: Optional[int] = None  # the encoder's first k layers, or null for all
    layers: int = 1
    normalize: bool = True
    max_length: int = 128
    batch_size: int = 32
    pad_to_multiple_of: Optional[int] = None  # round padded lengths up (fewer batch shapes), or null
    C: float = 4.0
    class_weight: Any = "balanced"
    cells: str = "primary"  # the cells train.cells uses unless set: primary | matrix
    matrix_weight: float = 1.0
    embedding_cache: Any = None  # a folder or null
    lexical_weight: float = 0.25
    lexical: LexicalSchema = field(default_factory=LexicalSchema)
    kernel: str = "linear"  # linear | rbf (models/kernel_map.py)
    kernel_gamma: float = 1.0
    kernel_components: int = 1500
    gate: Any = None  # "relevance" or null
    gate_C: float = 1.0
    gate_threshold: float = 0.5
    student: Any = None  # models.distill.StudentSettings' keys, or null


#: model._target_ -> the schema of that recipe's knobs
MODEL_SCHEMAS: dict[str, type] = {
    "peacestance.models.cross_encoder.CrossEncoder": CrossEncoderSchema,
    "peacestance.models.partial.PartialFineTune": PartialSchema,
    "peacestance.models.tfidf.TfidfModel": TfidfSchema,
    "peacestance.models.embedding_head.EmbeddingHead": EmbeddingHeadSchema,
}
MODEL_CHOICES: dict[str, tuple[Any, ...]] = {
    "head": ("per_target", "pair"),
    "cells": ("primary", "matrix"),
    "kernel": ("linear", "rbf"),
    "pooling": ("mean", "cls"),
    "gate": (None, "none", "relevance"),
    "class_weight": (None, "balanced"),
    "lexical.class_weight": (None, "balanced"),
}
MODEL_POSITIVE = ("depth", "pad_to_multiple_of", "kernel_components", "layers", "max_length", "batch_size", "min_df",
                  "max_features", "train_layers", "lexical.min_df", "lexical.max_features")
MODEL_ABOVE_ZERO = ("C", "gate_C", "kernel_gamma", "lexical.C")
MODEL_FRACTIONS = ("lexical_weight", "gate_threshold")


#: group -> the dataclass its config files build on
SCHEMAS = {"train": TrainSchema, "data": CorpusDataSchema, "tracking": TrackingSchema}


def register() -> None:
    """Make ``schema`` an option of the train, data and tracking groups (when the config module is imported)."""
    from hydra.core.config_store import ConfigStore

    for group, node in SCHEMAS.items():
        ConfigStore.instance().store(group=group, name="schema", node=node)


def _get(cfg: DictConfig, dotted: str, missing: Any = None):
    """The value at a dotted key, or ``missing`` where the key is not there."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return missing
        node = node[part]
    return node


class ConfigError(ValueError):
    """A knob with a value it cannot take, or a knob that does not exist: named, before anything runs."""


def check_config(cfg: DictConfig) -> None:
    """One ConfigError naming the key, the value and what is allowed; nothing has run yet."""
    for group, schema in SCHEMAS.items():
        if group not in cfg or (group == "data" and cfg.data.get("format")):  # a table's data has its own keys
            continue
        known = set(schema.__dataclass_fields__)
        unknown = sorted(set(cfg[group]) - known)
        if unknown:  # Hydra's +key bypasses the struct flag: refuse it here
            raise ConfigError(f"unknown key {group}.{unknown[0]}; the {group} knobs are: {', '.join(sorted(known))}")
    if "model" in cfg:  # first: train.cells follows model.cells, and a bad value is named where it was set
        check_model_config(cfg.model)
    for key, allowed in CHOICES.items():
        value = _get(cfg, key)
        if value is not None and value not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}")
    for key in POSITIVE:
        value = _get(cfg, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"{key}={value!r} must be a positive integer")
    for key in NON_NEGATIVE:
        value = _get(cfg, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"{key}={value!r} must be a number >= 0")
    for pattern, weight in ((_get(cfg, "train.page_weights") or {}).items()):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ConfigError(f"train.page_weights[{pattern!r}]={weight!r} must be a number >= 0")
    ratio = _get(cfg, "train.warmup_ratio")
    if isinstance(ratio, (int, float)) and ratio > 1:
        raise ConfigError(f"train.warmup_ratio={ratio!r} must be between 0 and 1")
    _check_parts(cfg)


def _check_parts(cfg: DictConfig) -> None:
    """Knobs that name a data part: blind-test is never a choice (neither objective nor calibration)."""
    if "train" not in cfg or "benchmark" not in cfg:
        return
    allowed = ["validation", *(p for p in cfg.benchmark.parts if p != "blind-test")]
    if cfg.train.objective not in allowed:
        raise ConfigError(f"train.objective must be validation or a benchmark part other than blind-test "
                          f"({', '.join(allowed)}), not {cfg.train.objective!r}")
    if cfg.train.calibrate_on not in (*allowed, None, "none", "null"):
        raise ConfigError(f"train.calibrate_on must be validation, a benchmark part other than blind-test "
                          f"({', '.join(allowed)}), or null; not {cfg.train.calibrate_on!r}")


def check_model_config(model: DictConfig) -> None:
    """Types, names, choices and ranges of ``model.*`` for the recipe ``model._target_`` names."""
    from omegaconf import OmegaConf

    schema = MODEL_SCHEMAS.get(str(model.get("_target_")))
    if schema is None:
        return
    plain = OmegaConf.to_container(model, resolve=True)
    student = plain.pop("student", None)
    typed = _typed(schema, plain, f"model ({model.get('name')})", "model.")
    if student is not None:
        _check_student(student)
    absent = object()  # None is a valid choice (gate: null), so absence needs its own marker
    for key, allowed in MODEL_CHOICES.items():
        value = _get(typed, key, absent)
        if value is not absent and value not in allowed:
            raise ConfigError(f"model.{key}={value!r} is not one of {', '.join(str(a) for a in allowed)}")
    for key in MODEL_POSITIVE:
        value = _get(typed, key)
        if value is not None and value < 1:
            raise ConfigError(f"model.{key}={value!r} must be a positive integer")
    for key in MODEL_ABOVE_ZERO:
        value = _get(typed, key)
        if value is not None and not value > 0:
            raise ConfigError(f"model.{key}={value!r} must be a number > 0")
    for key in MODEL_FRACTIONS:
        value = _get(typed, key)
        if value is not None and not 0 <= value <= 1:
            raise ConfigError(f"model.{key}={value!r} must be between 0 and 1")
    multiple, length = _get(typed, "pad_to_multiple_of"), _get(typed, "max_length")
    if multiple is not None and length is not None and length % multiple:
        raise ConfigError(f"model.pad_to_multiple_of={multiple} must divide model.max_length ({length}), "
                          f"so a padded batch never outgrows it")
    for key in ("ngram_range", "lexical.ngram_range"):
        value = _get(typed, key)
        if value is not None and (len(value) != 2 or not 1 <= value[0] <= value[1]):
            raise ConfigError(f"model.{key}={list(value)!r} must be [low, high] with 1 <= low <= high")


def _check_student(student: Any) -> None:
    """``model.student`` by the rules of the class that reads it (models.distill.StudentSettings)."""
    from dataclasses import fields

    from peacestance.models.distill import StudentSettings

    if not isinstance(student, dict):
        raise ConfigError(f"model.student={student!r} must be a mapping of "
                          f"{', '.join(f.name for f in fields(StudentSettings))}, or null")
    for f in fields(StudentSettings):
        value = student.get(f.name)
        if f.name != "layers" and value is not None:
            try:
                type(f.default)(value)
            except (TypeError, ValueError):
                kind = "an integer" if isinstance(f.default, int) else "a number"
                raise ConfigError(f"model.student.{f.name}={value!r} must be {kind}") from None
    try:
        StudentSettings.from_config(student)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _typed(schema: type, values: dict, what: str, prefix: str) -> DictConfig:
    """``values`` merged onto ``schema``: a wrong type or an unknown key is a ConfigError naming the full key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, ValidationError

    try:
        return OmegaConf.merge(OmegaConf.structured(schema), values)
    except ConfigKeyError as exc:
        key = str(exc.full_key or exc.key)
        parent, _, _ = key.rpartition(".")
        if parent:  # a nested group (model.lexical): name its knobs, not the recipe's
            schema, what = type(getattr(schema(), parent)), f"{prefix}{parent}"
        known = sorted(k for k in schema.__dataclass_fields__ if k != "_target_")
        raise ConfigError(f"unknown key {prefix}{key}; the knobs of {what} are: {', '.join(known)}") from None
    except ValidationError as exc:
        raise ConfigError(f"{prefix}{exc.full_key}={exc.value!r}: {exc.msg.splitlines()[0]}") from None

