"""The metrics of the guideline: macro-F1 (headline), F_avg (SemEval-2016), accuracy, per target and label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from peacestance.schema import LABELS, TARGETS


def stance_metrics(y_true: Sequence[str], y_pred: Sequence[str], targets: Sequence[str] | None = None) -> dict[str, float]:
    """Flat dict of metrics, ready for MLflow: macro_f1, f_avg, accuracy, f1_<label>, f1_<target>."""
    y_true, y_pred = list(y_true), list(y_pred)
    per_label = f1_score(y_true, y_pred, labels=list(LABELS), average=None, zero_division=0)
    out = {
        "macro_f1": float(np.mean(per_label)),
        "f_avg": float((per_label[LABELS.index("favor")] + per_label[LABELS.index("against")]) / 2),
        "accuracy": float(accuracy_score(y_true, y_pred)) if y_true else 0.0,
    }
    out.update({f"f1_{label}": float(f) for label, f in zip(LABELS, per_label)})
    if targets is not None:
        for target in TARGETS:
            idx = [i for i, t in enumerate(targets) if t == target]
            if idx:
                out[f"macro_f1_{target}"] = float(f1_score([y_true[i] for i in idx], [y_pred[i] for i in idx],
                                                           labels=list(LABELS), average="macro", zero_division=0))
    return out


def per_target_table(y_true: Sequence[str], y_pred: Sequence[str], targets: Sequence[str]) -> list[dict]:
    """One row per target (and 'all'): support, macro-F1, F_avg, accuracy and F1 of each label."""
    rows = []
    for target in [*TARGETS, "all"]:
        idx = [i for i, t in enumerate(targets) if target == "all" or t == target]
        if not idx:
            continue
        m = stance_metrics([y_true[i] for i in idx], [y_pred[i] for i in idx])
        rows.append({"target": target, "support": len(idx), **{k: round(v, 4) for k, v in m.items()}})
    return rows


def report_text(y_true: Sequence[str], y_pred: Sequence[str]) -> str:
    return classification_report(y_true, y_pred, labels=list(LABELS), digits=4, zero_division=0)


def confusion(y_true: Sequence[str], y_pred: Sequence[str]) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(LABELS))
