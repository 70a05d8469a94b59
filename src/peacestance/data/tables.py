"""Bring your own labelled table: train on any stance data without the corpus pipeline.

    peacestance-train data=table data.train_file=train.csv data.test_file=test.csv
    peacestance-train data=semeval2016 data.train_file=trainingdata.txt data.test_file=testdata.txt

``data.format=table`` reads CSV, TSV, JSONL or Parquet (by suffix) with one row per (text,
target, label); the column names are settings. ``data.format=semeval2016`` reads the SemEval-2016
Task 6 release as it ships: tab-separated ``ID, Target, Tweet, Stance`` (FAVOR / AGAINST / NONE)
in Windows-1252. With ``task=from_data`` (the default of both) the targets and labels are read
from the train file; a label or target in validation or test that train lacks is an error
naming the file, line and value. Without a validation file a seeded, stratified share of train
is held out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from peacestance.data.jsonl import iter_json_objects
from peacestance.errors import DataError
from peacestance.task import TaskSpec

FORMATS = ("table", "semeval2016")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
SEMEVAL_COLUMNS = {"text": "Tweet", "target": "Target", "label": "Stance"}
SEMEVAL_ENCODING = "cp1252"


def _columns(cfg: Mapping[str, Any]) -> dict[str, str]:
    if cfg.get("format") == "semeval2016":
        return dict(SEMEVAL_COLUMNS)
    return {"text": cfg.get("text_column", "text"), "target": cfg.get("target_column", "target"),
            "label": cfg.get("label_column", "label")}


def _read_raw(path: Path, cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
    """The file as strings, and each row's line number in the file (for error messages)."""
    fmt = cfg.get("format", "table")
    if fmt == "semeval2016":
        try:
            text = path.read_bytes().decode(SEMEVAL_ENCODING)
        except UnicodeDecodeError as exc:
            raise DataError(f"not Windows-1252 text as SemEval-2016 ships ({exc.reason} at byte {exc.start})",
                            path=path) from None
        return _read_delimited(text, path, "\t")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"unknown table type {path.suffix!r}; use one of {', '.join(SUFFIXES)}", path=path)
    if kind == "parquet":
        return _numbered(pd.read_parquet(path).astype(object), 1)
    try:
        text = path.read_text(encoding=cfg.get("encoding", "utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"not {cfg.get('encoding', 'utf-8')} text (byte {exc.start}); set data.encoding", path=path) from None
    if kind == "jsonl":
        return _read_jsonl(text, path)
    return _read_delimited(text, path, "," if kind == "csv" else "\t")


def _numbered(frame: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
    return frame, np.arange(len(frame)) + first_line


def _read_delimited(text: str, path: Path, sep: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows and the line each starts on (a quoted CSV field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                        quoting=csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE)
    rows, lines, start = [], [], 1
    for row in reader:
        rows.append(row)
        lines.append(start)
        start = reader.line_num + 1
    if not rows:
        raise DataError("empty file (needs a header line)", path=path)
    header, body = [h.strip().lstrip("\ufeff") for h in rows[0]], rows[1:]
    for number, row in zip(lines[1:], body):
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise DataError(f"{len(row)} fields where the header has {len(header)}", path=path, line=number)
    keep = [i for i, row in enumerate(body) if len(row) == len(header)]
    frame = pd.DataFrame([body[i] for i in keep], columns=header, dtype=object)
    return frame, np.asarray([lines[1:][i] for i in keep], dtype=int)


def _read_jsonl(text: str, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    numbered = list(iter_json_objects(text, path))
    return pd.DataFrame([r for _, r in numbered], dtype=object), np.asarray([n for n, _ in numbered])


def read_table(path: str | Path, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Rows with columns sentence, target, label, line (the row's line in the file, for error messages)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path=path)
    raw, lines = _read_raw(path, cfg)
    names = _columns(cfg)
    missing = [f"{role} column {col!r}" for role, col in names.items() if col not in raw.columns]
    if missing:
        raise DataError(f"no {', '.join(missing)}; the file has {list(raw.columns)} "
                        "(set data.text_column / data.target_column / data.label_column)", path=path)
    frame = pd.DataFrame({"sentence": raw[names["text"]], "target": raw[names["target"]],
                          "label": raw[names["label"]], "line": lines})
    blank = frame[["sentence", "target", "label"]].map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))
                                                     or not str(v).strip())
    empty_rows = blank.all(axis=1)
    frame, blank = frame[~empty_rows], blank[~empty_rows]
    if blank.any().any():
        row = int(np.flatnonzero(blank.any(axis=1).to_numpy())[0])
        role = blank.columns[blank.iloc[row].to_numpy()][0]
        raise DataError("empty value", path=path, line=int(frame["line"].iloc[row]), field=names[{"sentence": "text"}.get(role, role)])
    for col in ("sentence", "target", "label"):
        frame[col] = frame[col].map(lambda v: str(v).strip())
    if frame.empty:
        raise DataError("no data rows", path=path)
    return frame.reset_index(drop=True)


def check_against(frame: pd.DataFrame, task: TaskSpec, path: str | Path, cfg: Mapping[str, Any]) -> None:
    """Every label and target must be one the task (and so the train file) has; the first stray one is named."""
    names = _columns(cfg)
    for col, known, role in (("label", task.labels, "label"), ("target", task.targets, "target")):
        stray = ~frame[col].isin(list(known))
        if stray.any():
            first = frame[stray].iloc[0]
            raise DataError(f"{role} {first[col]!r} is not in the train file's / task's {role}s ({', '.join(known)})",
                            path=path, line=int(first["line"]), field=names[col])


def _stratified_holdout(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out): a seeded share of every (target, label) stratum (at least one row of any stratum of 2+)."""
    if not 0 < share < 1:
        raise ValueError(f"data.validation_share must be between 0 and 1, not {share!r}")
    rng = np.random.default_rng(seed)
    held = []
    for _, idx in frame.groupby(["target", "label"], sort=True).indices.items():
        if len(idx) < 2:
            continue
        take = max(1, int(round(share * len(idx))))
        held.extend(rng.choice(idx, size=min(take, len(idx) - 1), replace=False).tolist())
    mask = np.zeros(len(frame), bool)
    mask[held] = True
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def load_table_splits(data_cfg: Mapping[str, Any], task_cfg: Mapping[str, Any] | None,
                      seed: int) -> tuple[dict[str, pd.DataFrame], TaskSpec]:
    """Train / validation / test frames (the columns of the prepared splits) and the task they define."""
    if data_cfg.get("format") not in FORMATS:
        raise ValueError(f"data.format must be one of {', '.join(FORMATS)}, not {data_cfg.get('format')!r}")
    if not data_cfg.get("train_file"):
        raise ValueError("data.train_file is required with data=table (a CSV, TSV, JSONL or Parquet file)")
    if not data_cfg.get("test_file"):
        raise ValueError("data.test_file is required with data=table: the run reports its scores on it")
    train = read_table(data_cfg["train_file"], data_cfg)
    task = TaskSpec.from_config(task_cfg) or TaskSpec.infer(task_cfg, train["target"], train["label"])
    check_against(train, task, data_cfg["train_file"], data_cfg)
    if data_cfg.get("validation_file"):
        validation = read_table(data_cfg["validation_file"], data_cfg)
        check_against(validation, task, data_cfg["validation_file"], data_cfg)
    else:
        train, validation = _stratified_holdout(train, float(data_cfg.get("validation_share", 0.15)), seed)
    test = read_table(data_cfg["test_file"], data_cfg)
    check_against(test, task, data_cfg["test_file"], data_cfg)
    sources = {"train": data_cfg["train_file"], "validation": data_cfg.get("validation_file") or data_cfg["train_file"],
               "test": data_cfg["test_file"]}
    frames = {"train": train, "validation": validation, "test": test}
    return {name: _as_split(frames[name], task, sources[name]) for name in frames}, task


def read_test_table(data_cfg: Mapping[str, Any], task: TaskSpec) -> pd.DataFrame:
    """``data.test_file`` checked against a trained model's task, as a split frame (for peacestance-evaluate)."""
    if not data_cfg.get("test_file"):
        raise ValueError("data.test_file is required to evaluate on a table")
    test = read_table(data_cfg["test_file"], data_cfg)
    check_against(test, task, data_cfg["test_file"], data_cfg)
    return _as_split(test, task, data_cfg["test_file"])


def _as_split(frame: pd.DataFrame, task: TaskSpec, source: str | Path) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": [f"{Path(source).name}:{n}" for n in frame["line"]], "sentence": frame["sentence"],
                         "target": frame["target"], "phrase": frame["target"].map(task.targets),
                         "label": frame["label"], "primary": True})


def data_fingerprint(data_cfg: Mapping[str, Any]) -> str:
    """A short hash of the files a table run reads: the run's data_hash."""
    import hashlib

    digest = hashlib.sha256()
    for key in ("train_file", "validation_file", "test_file"):
        if data_cfg.get(key):
            digest.update(Path(data_cfg[key]).read_bytes())
    return digest.hexdigest()[:16]
