"""The metrics of the guideline: macro-F1 (headline), F_avg (SemEval-2016), accuracy, per target and label.

Every function takes the task (its labels, the labels F_avg averages, its targets' order);
without one it scores the project's own peace-guarantees task.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from peacestance.task import TaskSpec


def _task(task: TaskSpec | None) -> TaskSpec:
    if task is not None:
        return task
    from peacestance.schema import PEACE_TASK

    return PEACE_TASK


def _target_order(task: TaskSpec, targets: Sequence[str]) -> list[str]:
    """The task's targets first, in its order, then any other target the rows carry (free phrases)."""
    return [*task.targets, *sorted(set(targets) - set(task.targets))]


def stance_metrics(y_true: Sequence[str], y_pred: Sequence[str], targets: Sequence[str] | None = None,
                   task: TaskSpec | None = None) -> dict[str, float]:
    """Flat dict of metrics, ready for MLflow: macro_f1, f_avg, accuracy, f1_<label>, macro_f1_<target>."""
    task = _task(task)
    labels = list(task.labels)
    y_true, y_pred = list(y_true), list(y_pred)
    per_label = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    averaged = [per_label[labels.index(lab)] for lab in task.averaged_labels]
    out = {
        "macro_f1": float(np.mean(per_label)),
        "f_avg": float(np.mean(averaged)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if y_true else 0.0,
    }
    out.update({f"f1_{label}": float(f) for label, f in zip(labels, per_label)})
    if targets is not None:
        targets = list(targets)
        for target in _target_order(task, targets):
            idx = [i for i, t in enumerate(targets) if t == target]
            if idx:
                out[f"macro_f1_{target}"] = float(f1_score([y_true[i] for i in idx], [y_pred[i] for i in idx],
                                                           labels=labels, average="macro", zero_division=0))
    return out


def per_target_table(y_true: Sequence[str], y_pred: Sequence[str], targets: Sequence[str],
                     task: TaskSpec | None = None) -> list[dict]:
    """One row per target (and 'all'): support, macro-F1, F_avg, accuracy and F1 of each label."""
    task = _task(task)
    targets = list(targets)
    rows = []
    for target in [*_target_order(task, targets), "all"]:
        idx = [i for i, t in enumerate(targets) if target == "all" or t == target]
        if not idx:
            continue
        m = stance_metrics([y_true[i] for i in idx], [y_pred[i] for i in idx], task=task)
        rows.append({"target": target, "support": len(idx), **{k: round(v, 4) for k, v in m.items()}})
    return rows


def report_text(y_true: Sequence[str], y_pred: Sequence[str], task: TaskSpec | None = None) -> str:
    return classification_report(y_true, y_pred, labels=list(_task(task).labels), digits=4, zero_division=0)


def confusion(y_true: Sequence[str], y_pred: Sequence[str], task: TaskSpec | None = None) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(_task(task).labels))
