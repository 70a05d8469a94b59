"""The stance task as data: labels, targets and their phrases, the neutral label, what F_avg averages.

A task is a config (``configs/task/*.yaml``), not code: prepare writes it beside the processed
data (``task.json``), train copies it into the model folder (``peacestance.json``), and
prediction, metrics, the CLI and the pyfunc read it back from the model they load. A model
therefore keeps answering with the phrases it was trained on, whatever a later config says.

A task config may leave ``labels`` or ``targets`` empty; ``TaskSpec.infer`` then reads them
from the training rows (a target's phrase is its own string), which is how a user's own table
(``data=table``) becomes a task without writing one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASK_FILE = "task.json"
#: label names taken as "no stance" when a task read from data does not name its neutral label
NEUTRAL_NAMES = ("neutral", "none", "no_stance", "neither")


@dataclass(frozen=True)
class TaskSpec:
    """Everything a model, a metric or a reader needs to know about the classification task."""

    name: str
    labels: tuple[str, ...]
    targets: dict[str, str] = field(default_factory=dict)  # id -> phrase the model reads, in the task's order
    default_target: str | None = None
    neutral: str | None = None
    #: the labels F_avg averages the F1 of (SemEval-2016: favor and against)
    stance_labels: tuple[str, ...] = ()

    def __post_init__(self):
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"task {self.name!r}: labels must be two or more distinct names, got {list(self.labels)}")
        if not self.targets:
            raise ValueError(f"task {self.name!r}: needs at least one target")
        if self.default_target is not None and self.default_target not in self.targets:
            raise ValueError(f"task {self.name!r}: default_target {self.default_target!r} is not one of its targets "
                             f"({', '.join(self.targets)})")
        if self.neutral is not None and self.neutral not in self.labels:
            raise ValueError(f"task {self.name!r}: neutral label {self.neutral!r} is not one of {list(self.labels)}")
        unknown = [lab for lab in self.stance_labels if lab not in self.labels]
        if unknown:
            raise ValueError(f"task {self.name!r}: stance_labels {unknown} are not among the labels {list(self.labels)}")

    # ------------------------------------------------------------ derived

    @property
    def first_target(self) -> str:
        """The target a text without one is asked about."""
        return self.default_target or next(iter(self.targets))

    @property
    def averaged_labels(self) -> tuple[str, ...]:
        """The labels F_avg averages: the stance labels, else every label but the neutral one."""
        if self.stance_labels:
            return self.stance_labels
        return tuple(lab for lab in self.labels if lab != self.neutral) or self.labels

    # ------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": list(self.labels), "targets": dict(self.targets),
                "default_target": self.default_target, "neutral": self.neutral,
                "stance_labels": list(self.stance_labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "task") -> TaskSpec:
        try:
            targets = data["targets"]
            if isinstance(targets, (list, tuple)):  # a plain list of targets: each is its own phrase
                targets = {str(t): str(t) for t in targets}
            return cls(name=str(data.get("name") or "task"), labels=tuple(str(x) for x in data["labels"]),
                       targets={str(k): str(v) for k, v in dict(targets).items()},
                       default_target=data.get("default_target"), neutral=data.get("neutral"),
                       stance_labels=tuple(str(x) for x in (data.get("stance_labels") or ())))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a task spec ({type(exc).__name__}: {exc}); needs labels and targets") from None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> TaskSpec | None:
        """The spec a task config gives, or None when it leaves labels or targets to the data."""
        if cfg is None:
            return None
        data = dict(cfg)
        if not data.get("labels") or not data.get("targets"):
            return None
        return cls.from_dict(data, where=f"task config {data.get('name', '')!r}")

    @classmethod
    def infer(cls, cfg: Mapping[str, Any] | None, targets: Iterable[str], labels: Iterable[str]) -> TaskSpec:
        """Fill what the task config leaves empty from training rows (targets and labels, sorted)."""
        data = dict(cfg or {})
        seen_targets = sorted({str(t) for t in targets})
        seen_labels = sorted({str(x) for x in labels})
        given_targets = data.get("targets") or {t: t for t in seen_targets}
        if isinstance(given_targets, (list, tuple)):
            given_targets = {str(t): str(t) for t in given_targets}
        given_labels = tuple(data.get("labels") or seen_labels)
        neutral = data.get("neutral")
        if neutral is None:
            neutral = next((lab for lab in given_labels if lab.lower() in NEUTRAL_NAMES), None)
        return cls(name=str(data.get("name") or "from_data"), labels=tuple(given_labels),
                   targets=dict(given_targets), default_target=data.get("default_target"),
                   neutral=neutral, stance_labels=tuple(data.get("stance_labels") or ()))

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / TASK_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | Path) -> TaskSpec:
        path = Path(folder) / TASK_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `peacestance-prepare` first (it writes the task spec)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: str) -> TaskSpec:
        """The task a saved model was trained on (older folders carry only labels and targets)."""
        if "task" in meta:
            return cls.from_dict(meta["task"], where=where)
        from peacestance.schema import PEACE_TASK

        data = PEACE_TASK.to_dict()
        data.update({k: meta[k] for k in ("labels", "targets") if k in meta})
        if data["default_target"] not in data["targets"]:
            data["default_target"] = None
        if data["neutral"] not in data["labels"]:
            data["neutral"] = None
        data["stance_labels"] = [x for x in data["stance_labels"] if x in data["labels"]]
        return cls.from_dict(data, where=where)


def load_task_yaml(path: str | Path) -> TaskSpec:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return TaskSpec.from_dict(data or {}, where=str(path))
