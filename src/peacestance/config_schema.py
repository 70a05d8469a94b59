"""Typed schemas for the config groups a run depends on, and the checks types alone cannot make.

Hydra composes ``configs/train/default.yaml``, ``configs/data/default.yaml`` and
``configs/tracking/*.yaml`` on top of these dataclasses (their defaults lists name ``schema``), so
``train.lr=abc`` or ``data.full_matrix=maybe`` fail while the config is composed, naming the key;
``+train.lrr=1`` is refused by ``check_config`` (Hydra's ``+`` bypasses the struct flag). Choices
among names and ranges are checked by ``check_config`` before a run does anything: before a
checkpoint is touched, before an MLflow run is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


#: group -> the dataclass its config files build on
SCHEMAS = {"train": TrainSchema, "data": CorpusDataSchema, "tracking": TrackingSchema}


def register() -> None:
    """Make ``schema`` an option of the train, data and tracking groups (when the config module is imported)."""
    from hydra.core.config_store import ConfigStore

    for group, node in SCHEMAS.items():
        ConfigStore.instance().store(group=group, name="schema", node=node)


def _get(cfg: DictConfig, dotted: str):
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return None
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
