"""The blind benchmark: news sentences written by people who never saw the corpus.

``data/benchmark/writers/*.jsonl`` hold what each writer wrote (one sentence a line, a label
for every target, the targets it is ``about``, the article it restates). ``build`` merges them
into ``data/benchmark/benchmark.jsonl`` and assigns each *source article* to blind-dev (choices)
or blind-test (reported, never tuned on) by a hash of its URL, so adding writers never moves
an old sentence between parts. Scoring mirrors the corpus: headline metrics on the rows of
targets a sentence is about (an off-topic sentence counts once, as guarantees/neutral), and
``matrix_*`` metrics over all four targets of every sentence.

    python -m peacestance.benchmark score --model models/peacestance     # or: make benchmark
    python -m peacestance.benchmark compare A/blind-dev_predictions.csv B/blind-dev_predictions.csv

``compare`` says whether one model's lead over another on a part is more than the part's noise
(a paired bootstrap over its sentences, ``peacestance.intervals``).

Building benchmark.jsonl from the writers' files and the second-pass agreement are corpus
maintenance, not library: ``python tools/benchmark_data.py build|agreement``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from peacestance.data.jsonl import iter_json_objects
from peacestance.errors import DataError
from peacestance.intervals import RESAMPLES, compare_predictions, part_intervals
from peacestance.schema import DEFAULT_TARGET, LABELS, PEACE_TASK, TARGETS

log = logging.getLogger(__name__)
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
        raise DataError("benchmark file not found (run `python tools/benchmark_data.py build`)", path=path)
    return [_check(record, path, line) for line, record in iter_json_objects(path.read_text(encoding="utf-8"), path)]


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


def benchmark_rows(cfg, task) -> pd.DataFrame | None:
    """The configured benchmark's rows, with the model's phrases; None when there is none or it is another task's.

    The benchmark is labelled for the peace-guarantees task: a model trained on other targets or
    labels (``data=table``) is not scored on it.
    """
    path = Path(cfg.benchmark.path)
    if not cfg.benchmark.enabled or not path.is_file():
        return None
    if not set(TARGETS) <= set(task.targets) or set(task.labels) != set(LABELS):
        log.info("not scoring the blind benchmark: it is labelled for %s, the model for %s", PEACE_TASK.name, task.name)
        return None
    frame = load_rows(path, {t: task.targets[t] for t in TARGETS})
    return frame[frame["part"].isin(list(cfg.benchmark.parts))].reset_index(drop=True)


def report_benchmark(frame: pd.DataFrame, probs: np.ndarray, cfg, out_dir: Path, task, seconds: float) -> dict:
    """Metrics per part (headline on primary rows, ``matrix_*`` over all cells), predictions and plots into out_dir."""
    from peacestance.reporting import report_split

    results = {}
    for part in cfg.benchmark.parts:
        rows = (frame["part"] == part).to_numpy()
        if rows.any():
            results[part] = report_split(frame[rows].reset_index(drop=True), np.asarray(probs)[rows], Path(out_dir),
                                         task, prefix=part)
            results[part]["pairs_per_s"] = len(frame) / max(seconds, 1e-9)  # all parts' pairs, scored at once
    return results


def score_benchmark(predictor, cfg, out_dir: Path) -> dict[str, dict[str, float]]:
    """Metrics per benchmark part for a loaded Predictor."""
    frame = benchmark_rows(cfg, predictor.task)
    if frame is None:
        return {}
    start = time.perf_counter()
    probs = predictor.score_pairs(frame["sentence"].tolist(), frame["phrase"].tolist())
    return report_benchmark(frame, probs, cfg, out_dir, predictor.task, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    from peacestance.config import compose
    from peacestance.predict import load_predictor

    parser = argparse.ArgumentParser(prog="python -m peacestance.benchmark", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    score = sub.add_parser("score", help="score a model on every benchmark part")
    score.add_argument("--model", default=None, help="model folder or MLflow URI (default: models/peacestance)")
    score.add_argument("--out", default="reports/benchmark", help="folder for predictions and plots")
    compare = sub.add_parser("compare", help="B minus A on the same part: difference, 90%% interval, how often B leads")
    compare.add_argument("a", help="predictions CSV of model A (reports/<part>_predictions.csv)")
    compare.add_argument("b", help="predictions CSV of model B, the same part")
    args = parser.parse_args(argv)
    if args.command == "compare":
        return _compare(args.a, args.b)
    cfg = compose()
    try:
        predictor = load_predictor(args.model or cfg.model_dir, batch_size=int(cfg.train.eval_batch_size),
                                   precision="fp32")  # scores must not depend on the machine's bf16 support
        results = score_benchmark(predictor, cfg, Path(args.out))
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 2
    intervals = part_intervals(args.out, results, predictor.task)
    keys = ("macro_f1", "f_avg", "accuracy", "ece", *(f"macro_f1_{t}" for t in TARGETS))
    print(json.dumps({part: {k: round(m[k], 4) for k in keys if k in m} for part, m in results.items()}, indent=2))
    for part in results:
        print(f"{part}: 90% intervals (resampling sentences): "
              + ", ".join(f"{k} {low:.3f}-{high:.3f}" for k, (low, high) in intervals[part].items()))
    payload = {**results, "intervals": intervals}
    (Path(args.out) / "metrics.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _compare(path_a: str, path_b: str) -> int:
    try:
        table = compare_predictions(path_a, path_b)
    except DataError as exc:
        print(f"benchmark compare: {exc}", file=sys.stderr)
        return 2
    print(f"B minus A, {RESAMPLES} paired resamples of the sentences (pages where the files have doc_id):")
    print(f"{'score':<24} {'A':>7} {'B':>7} {'B-A':>7}  {'90% interval':<17} B ahead")
    for key, row in table.items():
        low, high = row["interval"]
        print(f"{key:<24} {row['a']:>7.4f} {row['b']:>7.4f} {row['difference']:>+7.4f}  "
              f"{low:+.3f} to {high:+.3f}   {100 * row['b_ahead']:.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
