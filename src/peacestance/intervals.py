"""How far a score could move on another sample of the same kind: bootstrap intervals and paired comparisons.

The blind benchmark has a few hundred rows, and a target's macro-F1 rests on 60-120 of them,
so a goal of 0.75 met at 0.7496 or missed at 0.7504 says little by itself. Each interval here
comes from resampling *clusters* (a benchmark sentence, a corpus page), not rows: rows of one
sentence share its wording and the rows of one page share a writer, and drawing them apart
would make the interval look narrower than the evidence is.

A paired comparison resamples the same clusters for both models, so the difference between
two recipes is judged against the noise of that difference, not of each score alone.

    python -m peacestance.benchmark compare reports/blind-dev_predictions.csv other/blind-dev_predictions.csv
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from peacestance.errors import DataError
from peacestance.task import TaskSpec

#: what the intervals cover unless asked otherwise: 90%, from 1,000 resamples, seeded
LEVEL, RESAMPLES, SEED = 0.9, 1000, 0
#: what one draw takes, as reports say it
INTERVAL_UNITS = "pages (doc_id) where the rows have them, else sentences"


def _task(task: TaskSpec | None) -> TaskSpec:
    if task is not None:
        return task
    from peacestance.schema import PEACE_TASK

    return PEACE_TASK


def _codes(values: Sequence[str], vocabulary: Sequence[str], what: str) -> np.ndarray:
    index = {v: i for i, v in enumerate(vocabulary)}
    unknown = sorted({v for v in values if v not in index})
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; expected one of {', '.join(vocabulary)}")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


class ScoreSampler:
    """Macro-F1, F_avg and each target's macro-F1 of one set of predictions, under row weights.

    A resample is a vector of cluster counts; every score comes from weighted confusion matrices
    (one per target), so a thousand resamples cost a thousand ``bincount`` calls, not a thousand
    scikit-learn reports. With unit weights the scores equal ``metrics.stance_metrics``.
    """

    def __init__(self, gold: Sequence[str], pred: Sequence[str], targets: Sequence[str], clusters: Sequence,
                 task: TaskSpec | None = None):
        task = _task(task)
        if not len(gold) == len(pred) == len(targets) == len(clusters):
            raise ValueError(f"gold, pred, targets and clusters differ in length: "
                             f"{len(gold)}, {len(pred)}, {len(targets)}, {len(clusters)}")
        if not len(gold):
            raise ValueError("no rows to score")
        self.labels = list(task.labels)
        self.averaged = [self.labels.index(label) for label in task.averaged_labels]
        self.targets = [*[t for t in task.targets if t in set(targets)], *sorted(set(targets) - set(task.targets))]
        n_labels = len(self.labels)
        self.cell = (_codes(targets, self.targets, "target") * n_labels * n_labels
                     + _codes(gold, self.labels, "label") * n_labels + _codes(pred, self.labels, "label"))
        _, self.cluster = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
        self.n_clusters = int(self.cluster.max()) + 1

    def scores(self, cluster_counts: np.ndarray | None = None) -> dict[str, float]:
        n_labels, n_targets = len(self.labels), len(self.targets)
        weights = None if cluster_counts is None else np.asarray(cluster_counts, dtype=float)[self.cluster]
        cm = np.bincount(self.cell, weights=weights, minlength=n_targets * n_labels * n_labels)
        cm = cm.reshape(n_targets, n_labels, n_labels)  # target, gold, pred
        overall = _f1_per_label(cm.sum(0))
        out = {"macro_f1": float(overall.mean()), "f_avg": float(overall[self.averaged].mean())}
        for t, target in enumerate(self.targets):
            if cm[t].sum() > 0:
                out[f"macro_f1_{target}"] = float(_f1_per_label(cm[t]).mean())
        return out

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        return rng.multinomial(self.n_clusters, np.full(self.n_clusters, 1.0 / self.n_clusters))


def _f1_per_label(cm: np.ndarray) -> np.ndarray:
    """F1 of each label from a gold x pred confusion matrix; 0 where a label is neither gold nor predicted."""
    tp = np.diag(cm)
    denominator = cm.sum(0) + cm.sum(1)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp, dtype=float), where=denominator > 0)


def _bounds(draws: list[dict[str, float]], keys: Sequence[str], level: float) -> dict[str, list[float]]:
    tail = (1 - level) / 2
    out = {}
    for key in keys:
        values = np.array([d[key] for d in draws if key in d])
        out[key] = [round(float(np.quantile(values, tail)), 4), round(float(np.quantile(values, 1 - tail)), 4)]
    return out


def _check_level(level: float, resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level!r}")
    if int(resamples) < 10:
        raise ValueError(f"resamples must be at least 10, not {resamples!r}")


def bootstrap_intervals(gold: Sequence[str], pred: Sequence[str], targets: Sequence[str], clusters: Sequence,
                        task: TaskSpec | None = None, level: float = LEVEL, resamples: int = RESAMPLES,
                        seed: int = SEED) -> dict[str, list[float]]:
    """Percentile interval [low, high] of macro_f1, f_avg and each macro_f1_<target>, resampling clusters."""
    _check_level(level, resamples)
    sampler = ScoreSampler(gold, pred, targets, clusters, task)
    rng = np.random.default_rng(seed)
    draws = [sampler.scores(sampler.resample(rng)) for _ in range(int(resamples))]
    return _bounds(draws, list(sampler.scores()), level)


def paired_difference(gold: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str], targets: Sequence[str],
                      clusters: Sequence, task: TaskSpec | None = None, level: float = LEVEL,
                      resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, dict[str, float]]:
    """B minus A on the same rows: the difference, its interval, and how often B came out ahead.

    Both models are scored on the same resampled clusters each time, so what the two share (the
    easy rows, the hard rows) cancels out of the difference.
    """
    _check_level(level, resamples)
    a = ScoreSampler(gold, pred_a, targets, clusters, task)
    b = ScoreSampler(gold, pred_b, targets, clusters, task)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(int(resamples)):
        counts = a.resample(rng)
        sa, sb = a.scores(counts), b.scores(counts)
        diffs.append({k: sb[k] - sa[k] for k in sa if k in sb})
    point_a, point_b = a.scores(), b.scores()
    bounds = _bounds(diffs, list(point_a), level)
    return {key: {"a": round(point_a[key], 4), "b": round(point_b[key], 4),
                  "difference": round(point_b[key] - point_a[key], 4), "interval": bounds[key],
                  "b_ahead": round(float(np.mean([d[key] > 0 for d in diffs if key in d])), 3)}
            for key in point_a}


# ---------------------------------------------------------------- from the predictions CSVs evaluate writes

PREDICTION_COLUMNS = ("sentence", "target", "gold", "pred")


def read_predictions(path) -> "pd.DataFrame":
    """A ``*_predictions.csv`` of train/evaluate, checked; its clusters are pages (``doc_id``) or sentences."""
    from pathlib import Path

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError("predictions file not found (run peacestance-evaluate or `make benchmark` first)", path=path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in PREDICTION_COLUMNS:
        if column not in frame.columns:
            raise DataError(f"column missing; a predictions file has {', '.join(PREDICTION_COLUMNS)}", path=path,
                            field=column)
    if frame.empty:
        raise DataError("no rows", path=path)
    frame["cluster"] = frame["doc_id"] if "doc_id" in frame.columns else frame["sentence"]
    return frame


def intervals_from_predictions(path, task: TaskSpec | None = None, **kwargs) -> dict[str, list[float]]:
    frame = read_predictions(path)
    try:
        return bootstrap_intervals(frame["gold"].tolist(), frame["pred"].tolist(), frame["target"].tolist(),
                                   frame["cluster"].tolist(), task, **kwargs)
    except ValueError as exc:
        raise DataError(str(exc), path=path) from None


def part_intervals(folder, parts, task: TaskSpec | None = None) -> dict:
    """Intervals of each scored part, read from ``<folder>/<part>_predictions.csv`` (what reporting writes).

    Returned as the record evaluate, ``benchmark score`` and train save: the level, the number of
    resamples and what was resampled, then one entry per part.
    """
    from pathlib import Path

    return {"level": LEVEL, "resamples": RESAMPLES, "resampled": INTERVAL_UNITS,
            **{part: intervals_from_predictions(Path(folder) / f"{part}_predictions.csv", task) for part in parts}}


def _row_keys(frame, other) -> list[tuple]:
    """(page when both files have pages, sentence, target, which occurrence): a sentence may recur."""
    columns = [c for c in ("doc_id", "sentence", "target") if c in frame.columns and c in other.columns]
    seen: dict[tuple, int] = {}
    keys = []
    for row in zip(*(frame[c] for c in columns)):
        seen[row] = seen.get(row, 0) + 1
        keys.append((*row, seen[row]))
    return keys


def compare_predictions(path_a, path_b, task: TaskSpec | None = None, **kwargs) -> dict[str, dict[str, float]]:
    """B minus A, for two models' predictions of the same rows (the same split, scored by each)."""
    a, b = read_predictions(path_a), read_predictions(path_b)
    key_a, key_b = _row_keys(a, b), _row_keys(b, a)
    where_b = {key: i for i, key in enumerate(key_b)}
    missing = [i for i, key in enumerate(key_a) if key not in where_b]
    if missing:
        raise DataError(f"this row ({key_a[missing[0]][-2]}) is not in {path_b} ({len(missing)} rows of this file are not): "
                        "score the same split with both models", path=path_a, line=missing[0] + 2)
    if len(a) != len(b):
        raise DataError(f"{len(b)} rows against {len(a)} in {path_a}: score the same split with both models", path=path_b)
    order = [where_b[key] for key in key_a]
    b = b.iloc[order].reset_index(drop=True)
    differ = (a["gold"].to_numpy() != b["gold"].to_numpy()).nonzero()[0]
    if len(differ):
        raise DataError(f"gold label differs from {path_a} (its line {differ[0] + 2}), on {len(differ)} rows in all: "
                        "the two were scored against different labels", path=path_b, line=order[differ[0]] + 2,
                        field="gold")
    try:
        return paired_difference(a["gold"].tolist(), a["pred"].tolist(), b["pred"].tolist(), a["target"].tolist(),
                                 a["cluster"].tolist(), task, **kwargs)
    except ValueError as exc:
        raise DataError(str(exc), path=path_b) from None
