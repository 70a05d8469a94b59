"""The one model interface: every recipe is a StanceModel with fit, logits/scores, save and load.

A model folder is plain files plus ``peacestance.json``, which names the model's kind, its task
(labels, targets id -> phrase, default target, neutral label), the calibration temperature and
where it came from.
Loading reads the kind from that file and asks the class registered for it (see
``peacestance.models.KINDS``): no class path from a file is ever imported, nothing is unpickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from omegaconf import DictConfig, OmegaConf

from peacestance.encoding import softmax
from peacestance.task import TaskSpec

if TYPE_CHECKING:
    import pandas as pd

META_FILE = "peacestance.json"


@dataclass
class FitContext:
    """What a recipe needs from the run besides its own config: the training knobs and the run's hooks."""

    train: DictConfig
    device: str = "cpu"
    checkpoint_dir: str | None = None
    resume_from: str | None = None
    #: called once per epoch with (epoch, {"train_loss": .., "val_macro_f1": ..}) for the tracker
    log_epoch: Callable[[int, dict[str, float]], None] | None = None
    #: called with (step, loss) for the optimizer-step loss curve
    log_step: Callable[[int, float], None] | None = None
    world_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class StanceModel(ABC):
    """Scores (sentence, target phrase) pairs over the labels; one implementation per recipe."""

    kind: ClassVar[str]
    #: True when the model can be asked about a phrase it never saw in training.
    free_phrases: ClassVar[bool] = True
    #: True when fit() writes resumable checkpoints into FitContext.checkpoint_dir.
    resumable: ClassVar[bool] = False
    #: the ``train.*`` settings this recipe reads (None: all); the run's params table shows only these
    train_knobs: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, cfg: DictConfig | dict | None = None, task: TaskSpec | None = None):
        self.cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg or {})
        if task is None:
            from peacestance.schema import PEACE_TASK

            task = PEACE_TASK
        self.set_task(task)
        self.temperature = 1.0
        self.train_stats: dict[str, float] = {}

    # ------------------------------------------------------------ the interface

    @abstractmethod
    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        """Learn from rows with columns sentence, target, phrase, label."""

    @abstractmethod
    def logits(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        """Unnormalised scores (n, len(labels)), before temperature."""

    @abstractmethod
    def _save_weights(self, out: Path) -> None:
        """Write the model's own files (weights, tokenizer, head) into out."""

    @classmethod
    @abstractmethod
    def _load_weights(cls, model_dir: Path, meta: dict) -> StanceModel:
        """Rebuild the model from its own files."""

    # ------------------------------------------------------------ shared behaviour

    def set_task(self, task: TaskSpec) -> None:
        """The labels (output order) and targets the model learns; fit may narrow targets to those seen."""
        self._task = task
        self.labels: tuple[str, ...] = tuple(task.labels)
        self.targets: dict[str, str] = dict(task.targets)

    @property
    def task(self) -> TaskSpec:
        """The task as the model now knows it (its labels and targets after fit)."""
        default = self._task.default_target if self._task.default_target in self.targets else None
        return replace(self._task, labels=tuple(self.labels), targets=dict(self.targets), default_target=default)

    def scores(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (n, len(labels)) that sum to 1 per row."""
        if len(sentences) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return softmax(self.logits(sentences, phrases), self.temperature)

    def networks(self) -> list:
        """The torch modules this model scores with (none for a bag of words): what a serving precision acts on."""
        return []

    def to(self, device: str) -> StanceModel:
        """Move to a device; models without tensors ignore it."""
        return self

    def check_phrases(self, phrases: Sequence[str]) -> None:
        check_phrases(phrases, self.targets, self.free_phrases, self.kind)

    def save(self, out_dir: str | Path, meta: dict[str, Any]) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._save_weights(out)
        full = {**meta, "kind": self.kind, "task": self.task.to_dict(), "labels": list(self.labels),
                "targets": dict(self.targets), "temperature": float(self.temperature), "free_phrases": self.free_phrases,
                "manifest": manifest(out)}
        (out / META_FILE).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")  # targets keep their order
        return out

    @classmethod
    def load(cls, model_dir: str | Path) -> StanceModel:
        model_dir = Path(model_dir)
        meta = read_meta(model_dir)
        check_manifest(model_dir, meta)
        model = cls._load_weights(model_dir, meta)
        model.set_task(TaskSpec.from_meta(meta, where=str(model_dir / META_FILE)))
        model.temperature = float(meta.get("temperature", 1.0))
        return model


def row_weights(train: pd.DataFrame) -> np.ndarray:
    """How much each training row counts (``train.page_weights``, set by train); 1 for frames without it."""
    if "weight" not in train.columns:
        return np.ones(len(train), dtype=np.float64)
    return np.array(train["weight"], dtype=np.float64)  # a writable copy (torch.as_tensor warns on read-only arrays)


def weighted_cross_entropy(logits, labels, weights, label_smoothing: float = 0.0):
    """Mean cross-entropy with a weight per row (train.page_weights); equal weights give the plain mean."""
    import torch

    per_row = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none",
                                                label_smoothing=float(label_smoothing or 0.0))
    weights = weights.to(per_row.dtype)
    return (per_row * weights).sum() / weights.sum().clamp(min=1e-12)


def linear_warmup_schedule(optimizer, total: int, warmup: int):
    """Learning rate rising linearly over ``warmup`` steps, then falling linearly to 0 at ``total``
    (the partial fine-tune and the student distillation; the HF Trainer has its own)."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(0.0, (total - s) / max(total - warmup, 1)))


def manifest(folder: Path) -> dict[str, str]:
    """sha256 of every file in a model folder (but its peacestance.json): written at save, checked at load."""
    import hashlib

    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != META_FILE):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return out


def check_manifest(model_dir: Path, meta: dict[str, Any]) -> None:
    """A missing or changed file is an error naming it, before anything is loaded from it.

    Folders saved before manifests existed carry none and load unchecked.
    """
    expected = meta.get("manifest")
    if not expected:
        return
    found = manifest(model_dir)
    for name, digest in expected.items():
        if name not in found:
            raise ModelFolderError(f"{model_dir / name}: missing from the model folder (listed in its {META_FILE}); "
                                   "copy the whole folder again or retrain")
        if found[name] != digest:
            raise ModelFolderError(f"{model_dir / name}: changed since the model was saved (sha256 differs from its "
                                   f"{META_FILE}); the file is corrupt or from another model")


class ModelFolderError(ValueError):
    """A model folder that is incomplete, changed or gives nonsense: named, never loaded silently."""


def check_phrases(phrases: Sequence[str], targets: dict[str, str], free: bool, kind: str) -> None:
    """A model with one head per target cannot score a phrase it was never trained on: say so."""
    if free:
        return
    known = set(targets.values())
    unknown = sorted({p for p in phrases if p not in known})
    if unknown:
        raise ValueError(f"this {kind} model scores only the targets it was trained on ({', '.join(targets)}); "
                         f"it cannot take the free phrase {unknown[0]!r}. Use a target id, or a model that reads "
                         "the phrase (model=minilm, model=mpnet, model=mpnet_pair)")


def batched_scores(model, sentences: Sequence[str], phrases: Sequence[str], batch_size: int,
                   logits: bool = False) -> np.ndarray:
    """Probabilities (or, with logits=True, raw logits) (n, labels) for clean pairs, in input order.

    Pairs are sorted by length, batched and put back. Empty texts get a certain neutral without
    reaching the model. The one place that batches, for training-time evaluation, the benchmark
    and the Predictor alike.
    """
    labels = tuple(model.labels)
    out = np.zeros((len(sentences), len(labels)), dtype=np.float32)
    live = [i for i, s in enumerate(sentences) if s]
    empty = [i for i, s in enumerate(sentences) if not s]
    out[empty] = empty_scores(labels, neutral_of(model), logits)
    score = model.logits if logits else model.scores
    # By sentence length, then text, then phrase length: the pairs of one sentence sit together, so a
    # model that encodes each sentence once (an embedding head) does so once per batch, and padding
    # stays small (phrases are short). Stable: ties keep input order.
    order = sorted(live, key=lambda i: (len(sentences[i]), sentences[i], len(phrases[i])))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        out[idx] = score([sentences[i] for i in idx], [phrases[i] for i in idx])
    return out


def neutral_of(model) -> str | None:
    """The neutral label of a scorer: a StanceModel's task, or the meta of a model folder (ONNX)."""
    task = getattr(model, "task", None)
    if task is not None:
        return task.neutral
    meta = getattr(model, "meta", {})
    return TaskSpec.from_meta(meta, where="model").neutral if meta else "neutral"


def empty_scores(labels: Sequence[str], neutral: str | None, logits: bool = False) -> np.ndarray:
    """The answer for a text with no words: the task's neutral label with certainty (uniform if it has none)."""
    if neutral is None:
        return np.zeros(len(labels), np.float32) if logits else np.full(len(labels), 1 / len(labels), np.float32)
    row = np.zeros(len(labels), np.float32)
    row[list(labels).index(neutral)] = 30.0 if logits else 1.0
    return row


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a peacestance model folder (no {META_FILE}); "
                                "train one with `make train` or pass another source")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None

