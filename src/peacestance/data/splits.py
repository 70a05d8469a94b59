"""Read the prepared splits back, and choose which cells of the target matrix a run uses.

Every labelled sentence has a row for every target. A row is *primary* when the first
annotator judged that the sentence speaks to the target (or it is the one neutral row of an
off-topic sentence): those rows are the guideline's headline evaluation, comparable across
corpus versions. The other rows complete the matrix, mostly neutral, and teach a model what
to say when it is asked about a target a sentence does not address.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from peacestance.task import TASK_FILE, TaskSpec

SPLIT_COLUMNS = ["doc_id", "sentence", "target", "phrase", "label", "primary"]
CELLS = ("matrix", "primary")


def load_splits(processed_dir: str | Path) -> dict[str, pd.DataFrame]:
    out = {}
    for split in ("train", "validation", "test"):
        path = Path(processed_dir) / f"{split}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `peacestance-prepare` (or `make prepare`) first")
        out[split] = read_split(path)
    return out


def task_of_processed(processed_dir: str | Path, task_cfg=None) -> TaskSpec:
    """The task prepare labelled the data for (``task.json``); older folders fall back to the task config."""
    if (Path(processed_dir) / TASK_FILE).is_file():
        return TaskSpec.read(processed_dir)
    task = TaskSpec.from_config(task_cfg)
    if task is None:
        raise FileNotFoundError(f"{Path(processed_dir) / TASK_FILE} is missing and the task config names no labels "
                                "and targets: run `peacestance-prepare` again")
    return task


def read_split(path: str | Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    if "primary" not in frame.columns:  # prepared before the target matrix: every row was a first-pass row
        frame["primary"] = True
    return frame[SPLIT_COLUMNS]


def select_cells(frame: pd.DataFrame, cells: str) -> pd.DataFrame:
    """``matrix``: every cell; ``primary``: only the rows of targets the sentence speaks to."""
    if cells not in CELLS:
        raise ValueError(f"train.cells must be one of {', '.join(CELLS)}, not {cells!r}")
    if cells == "matrix":
        return frame.reset_index(drop=True)
    return frame[frame["primary"]].reset_index(drop=True)


def page_weights(frame: pd.DataFrame, weights: Mapping[str, float] | None) -> np.ndarray:
    """A training weight per row from its page: the first doc_id glob in ``weights`` that matches, else 1.

    The team's own pages and pages written from public reporting by other writers need not count the
    same: the model is judged on other people's news. A table without doc_id weighs every row 1.
    """
    out = np.ones(len(frame), dtype=np.float64)
    if not weights or "doc_id" not in frame.columns:
        return out
    for i, doc in enumerate(frame["doc_id"].astype(str)):
        for pattern, weight in weights.items():
            if fnmatchcase(doc, pattern):
                out[i] = float(weight)
                break
    if len(out) and not out.any():
        raise ValueError("train.page_weights gives every training row weight 0: nothing would be learned")
    return out
