"""The blind benchmark: news sentences written by people who never saw the corpus.

``data/benchmark/writers/*.jsonl`` hold what each writer wrote (one sentence a line, a label
for every target, the targets it is ``about``, the article it restates). ``build`` merges them
into ``data/benchmark/benchmark.jsonl`` and assigns each *source article* to blind-dev (choices)
or blind-test (reported, never tuned on) by a hash of its URL, so adding writers never moves
an old sentence between parts. Scoring mirrors the corpus: headline metrics on the rows of
targets a sentence is about (an off-topic sentence counts once, as guarantees/neutral), and
``matrix_*`` metrics over all four targets of every sentence.

    python -m peacestance.benchmark build
    python -m peacestance.benchmark agreement                            # kappa of the blind second pass
    python -m peacestance.benchmark score --model models/peacestance     # or: make benchmark
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from peacestance.data.jsonl import iter_json_objects
from peacestance.errors import DataError
from peacestance.schema import DEFAULT_TARGET, LABELS, TARGETS

PARTS = ("blind-dev", "blind-test")
DEV_SHARE = 40  # percent of source articles in blind-dev


def part_of(url: str) -> str:
    bucket = int(hashlib.sha256(url.strip().lower().encode()).hexdigest(), 16) % 100
    return PARTS[0] if bucket < DEV_SHARE else PARTS[1]


def _check(record: dict, path: Path, line: int) -> dict:
    for key in ("id", "sentence"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise DataError("missing or empty (must be a non-empty string)", path=path, line=line, field=key)
    source = record.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("url"), str) or not source["url"]:
        raise DataError("needs an object with a non-empty url", path=path, line=line, field="source")
    labels = record.get("labels")
    if not isinstance(labels, dict) or set(labels) != set(TARGETS):
        raise DataError(f"needs a label for each of {', '.join(TARGETS)}; got {labels!r}", path=path, line=line,
                        field="labels")
    bad = {t: v for t, v in labels.items() if v not in LABELS}
    if bad:
        raise DataError(f"unknown label(s) {bad}; valid: {', '.join(LABELS)}", path=path, line=line, field="labels")
    about = record.get("about")
    if not isinstance(about, list) or any(t not in TARGETS for t in about):
        raise DataError(f"must be a list of target ids; got {about!r}", path=path, line=line, field="about")
    stray = [t for t, v in labels.items() if v != "neutral" and t not in about]
    if stray:
        raise DataError(f"labels {stray} take a side but are not listed in about", path=path, line=line, field="about")
    return record


def read_records(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError("benchmark file not found (run `python -m peacestance.benchmark build`)", path=path)
    return [_check(record, path, line) for line, record in iter_json_objects(path.read_text(encoding="utf-8"), path)]


def build(writers_dir: str | Path, out_path: str | Path) -> list[dict]:
    """Merge the writers' files, check them, assign parts by source URL; ids must be unique."""
    merged, seen = [], {}
    for path in sorted(Path(writers_dir).glob("*.jsonl")):
        for record in read_records(path):
            if record["id"] in seen:
                raise DataError(f"id {record['id']!r} also used in {seen[record['id']]}", path=path, field="id")
            seen[record["id"]] = path.name
            merged.append({**record, "part": part_of(record["source"]["url"])})
    out = Path(out_path)
    out.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in merged), encoding="utf-8")
    return merged


def load_rows(path: str | Path, targets: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (sentence, target): sentence, target, phrase, label, primary, part, id."""
    targets = targets or TARGETS
    rows = []
    for record in read_records(path):
        about = record["about"] or [DEFAULT_TARGET]
        for target, label in record["labels"].items():
            if target in targets:
                rows.append({"id": record["id"], "part": record.get("part") or part_of(record["source"]["url"]),
                             "sentence": record["sentence"], "target": target, "phrase": targets[target],
                             "label": label, "primary": target in about})
    return pd.DataFrame(rows)


def agreement(path: str | Path, second_path: str | Path) -> dict:
    """Cohen's kappa between the writers' labels and the blind second pass: primary rows and every cell."""
    from peacestance.agreement import kappa

    first = {r["id"]: r for r in read_records(path)}
    second = read_records_loose(second_path)
    cells, primary = [], []
    for row in second:
        record = first[row["id"]]
        for target in TARGETS:
            cells.append((record["labels"][target], row["labels"][target]))
            if target in (record["about"] or [DEFAULT_TARGET]):
                primary.append(cells[-1])
    report = {"sentences": len(second)}
    for name, pairs in (("primary", primary), ("matrix", cells)):
        a, b = zip(*pairs)
        report[name] = {"n": len(pairs), "kappa": kappa(a, b), "agreement": round(sum(x == y for x, y in pairs) / len(pairs), 4)}
    return report


def read_records_loose(path: str | Path) -> list[dict]:
    """The second pass: id, about and labels for every target (no source needed)."""
    path = Path(path)
    rows = []
    for line, record in iter_json_objects(path.read_text(encoding="utf-8"), path):
        labels = record.get("labels")
        if not isinstance(labels, dict) or set(labels) != set(TARGETS) or any(v not in LABELS for v in labels.values()):
            raise DataError(f"needs a valid label for each of {', '.join(TARGETS)}", path=path, line=line, field="labels")
        rows.append(record)
    return rows


def benchmark_rows(cfg, targets: dict[str, str]) -> pd.DataFrame | None:
    """The configured benchmark's rows for the model's targets, or None when there is none."""
    path = Path(cfg.benchmark.path)
    if not cfg.benchmark.enabled or not path.is_file():
        return None
    frame = load_rows(path, targets)
    return frame[frame["part"].isin(list(cfg.benchmark.parts))].reset_index(drop=True)


def report_benchmark(frame: pd.DataFrame, probs: np.ndarray, cfg, out_dir: Path, labels, seconds: float) -> dict:
    """Metrics per part (headline on primary rows, ``matrix_*`` over all cells), predictions and plots into out_dir."""
    from peacestance.reporting import report_split

    results = {}
    for part in cfg.benchmark.parts:
        rows = (frame["part"] == part).to_numpy()
        if rows.any():
            results[part] = report_split(frame[rows].reset_index(drop=True), np.asarray(probs)[rows], Path(out_dir),
                                         prefix=part, labels=labels)
            results[part]["pairs_per_s"] = len(frame) / max(seconds, 1e-9)  # all parts' pairs, scored at once
    return results


def score_benchmark(predictor, cfg, out_dir: Path) -> dict[str, dict[str, float]]:
    """Metrics per benchmark part for a loaded Predictor."""
    frame = benchmark_rows(cfg, predictor.targets)
    if frame is None:
        return {}
    start = time.perf_counter()
    probs = predictor.score_pairs(frame["sentence"].tolist(), frame["phrase"].tolist())
    return report_benchmark(frame, probs, cfg, out_dir, predictor.labels, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    from peacestance.config import compose

    parser = argparse.ArgumentParser(prog="python -m peacestance.benchmark", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="merge data/benchmark/writers/*.jsonl into data/benchmark/benchmark.jsonl")
    sub.add_parser("agreement", help="kappa of the blind second pass (data/benchmark/agreement/second_pass.jsonl)")
    score = sub.add_parser("score", help="score a model on every benchmark part")
    score.add_argument("--model", default=None, help="model folder or MLflow URI (default: models/peacestance)")
    score.add_argument("--out", default="reports/benchmark", help="folder for predictions and plots")
    args = parser.parse_args(argv)
    cfg = compose()
    try:
        if args.command == "build":
            records = build(Path(cfg.benchmark.path).parent / "writers", cfg.benchmark.path)
            counts = {p: sum(r["part"] == p for r in records) for p in PARTS}
            print(json.dumps({"sentences": len(records), **counts}))
            return 0
        if args.command == "agreement":
            root = Path(cfg.benchmark.path).parent / "agreement"
            print(json.dumps(agreement(cfg.benchmark.path, root / "second_pass.jsonl"), indent=2))
            return 0
        from peacestance.predict import load_predictor

        predictor = load_predictor(args.model or cfg.model_dir, batch_size=int(cfg.train.eval_batch_size))
        results = score_benchmark(predictor, cfg, Path(args.out))
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 2
    keys = ("macro_f1", "f_avg", "accuracy", "ece", *(f"macro_f1_{t}" for t in TARGETS))
    print(json.dumps({part: {k: round(m[k], 4) for k in keys if k in m} for part, m in results.items()}, indent=2))
    (Path(args.out) / "metrics.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
