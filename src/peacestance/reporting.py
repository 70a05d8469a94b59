"""What train and evaluate write about a scored split: metrics, plots, report, predictions.

``probs`` columns follow ``task.labels``, the order of the model that scored them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from peacestance.calibration import expected_calibration_error
from peacestance.metrics import confusion, per_target_table, report_text, stance_metrics
from peacestance.plots import plot_confusion, plot_per_target
from peacestance.task import TaskSpec


def score_metrics(frame: pd.DataFrame, probs: np.ndarray, task: TaskSpec) -> dict[str, float]:
    """The guideline's metrics plus the expected calibration error of the scores."""
    labels = list(task.labels)
    pred = [labels[i] for i in probs.argmax(axis=1)]
    metrics = stance_metrics(frame["label"].tolist(), pred, frame["target"].tolist(), task=task)
    gold = [labels.index(y) for y in frame["label"]]
    metrics["ece"] = expected_calibration_error(probs, gold)
    return metrics


def evaluation_artifacts(frame: pd.DataFrame, probs: np.ndarray, out_dir: Path, task: TaskSpec,
                         prefix: str = "test") -> dict[str, float]:
    """Metrics plus the report, confusion matrix, per-target chart and predictions CSV in out_dir."""
    labels = list(task.labels)
    pred = [labels[i] for i in probs.argmax(axis=1)]
    gold, targets = frame["label"].tolist(), frame["target"].tolist()
    metrics = score_metrics(frame, probs, task)
    table = per_target_table(gold, pred, targets, task)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "" if prefix == "test" else f"{prefix}_"
    plot_confusion(confusion(gold, pred, task), out_dir / f"{name}confusion_matrix.png", labels)
    plot_per_target(table, out_dir / f"{name}per_target_f1.png")
    pd.DataFrame(table).to_csv(out_dir / f"{name}per_target.csv", index=False)
    (out_dir / f"{name}classification_report.txt").write_text(report_text(gold, pred, task), encoding="utf-8")
    keep = [c for c in ("doc_id", "sentence", "target", "label") if c in frame.columns]
    preds = frame[keep].rename(columns={"label": "gold"}).assign(pred=pred)
    for i, label in enumerate(labels):
        preds[f"p_{label}"] = probs[:, i].round(5)
    preds.to_csv(out_dir / f"{prefix}_predictions.csv", index=False)
    return metrics


def report_split(frame: pd.DataFrame, probs: np.ndarray, out_dir: Path, task: TaskSpec,
                 prefix: str = "test") -> dict[str, float]:
    """Headline metrics on the primary rows (with plots and predictions), plus ``matrix_*`` over every cell."""
    primary = frame["primary"].to_numpy(dtype=bool) if "primary" in frame.columns else np.ones(len(frame), bool)
    metrics = evaluation_artifacts(frame[primary].reset_index(drop=True), probs[primary], out_dir, task, prefix)
    if not primary.all():
        matrix = score_metrics(frame, probs, task)
        metrics.update({f"matrix_{k}": v for k, v in matrix.items()})
    return metrics
