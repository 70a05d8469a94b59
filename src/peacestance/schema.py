"""The project's own task (read from its config) and the checks that take a task as an argument.

The peace-guarantees task is data, ``configs/task/peace_guarantees.yaml``; the names below are
read from it once, for the code that is about this task only (the corpus tools, the blind
benchmark). Everything that serves a trained model reads the task from the model instead
(``TaskSpec.from_meta``), so a model trained on another task works unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peacestance.task import TaskSpec, load_task_yaml

PEACE_TASK: TaskSpec = load_task_yaml(Path(__file__).resolve().parent / "configs" / "task" / "peace_guarantees.yaml")

LABELS: tuple[str, ...] = PEACE_TASK.labels
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
#: Target id -> the canonical phrase shown to the model beside the sentence.
TARGETS: dict[str, str] = dict(PEACE_TASK.targets)
DEFAULT_TARGET: str = PEACE_TASK.first_target

#: Tags an annotator may put on a hard case (see docs/annotation-guidelines.md).
PHENOMENA: tuple[str, ...] = (
    "negation",
    "conditional",
    "rhetorical_question",
    "concessive",
    "reported_opponent",
    "sarcasm",
    "double_target",
    "hedging",
)


def target_phrase(target: str, targets: dict[str, str] | None = None) -> str:
    """Return the phrase for a target id, or the text itself when it is a free phrase.

    An id typed in another case or with ``-`` for ``_`` (``Troops``, ``us-backstop``) is that id.
    A string that looks like an id (one lower-case word, or words joined by ``_`` / ``-``) but is
    none is a typo, not a phrase: it raises with the valid ids instead of a silent guess.
    """
    targets = TARGETS if targets is None else targets
    if not isinstance(target, str):
        raise ValueError(f"a target must be a string (an id or a phrase), not {type(target).__name__}; "
                         f"valid ids: {', '.join(targets)}")
    if target in targets:
        return targets[target]
    text = target.strip()
    if not text:
        raise ValueError(f"empty target; valid ids: {', '.join(targets)}")
    folded = {key.lower().replace("-", "_"): key for key in targets}
    key = folded.get(text.lower().replace("-", "_"))
    if key is not None:
        return targets[key]
    looks_like_id = " " not in text and text.replace("_", "").replace("-", "").isalnum() and (
        text.islower() or "_" in text or "-" in text)
    if looks_like_id:
        raise ValueError(f"unknown target id {target!r}; valid ids: {', '.join(targets)} (or pass a free phrase with spaces)")
    return text


@dataclass(frozen=True)
class Annotation:
    """One labelled (sentence, target) row, with where it came from for error messages."""

    doc_id: str
    sentence: str
    target: str
    label: str
    note: str = ""
    phenomena: tuple[str, ...] = field(default_factory=tuple)
    line: int = 0
    #: False for a row added to complete the target matrix (the sentence does not speak to this target)
    primary: bool = True
