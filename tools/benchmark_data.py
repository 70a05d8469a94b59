"""Maintain the blind benchmark's data: merge the writers' files, and measure the blind second pass.

    python tools/benchmark_data.py build        # data/benchmark/writers/*.jsonl -> data/benchmark/benchmark.jsonl
    python tools/benchmark_data.py agreement    # kappa vs data/benchmark/agreement/second_pass.jsonl

Corpus maintenance, kept out of the importable library; scoring a model on the benchmark is
``python -m peacestance.benchmark score`` (or ``make benchmark``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agreement import kappa

from peacestance.benchmark import PARTS, part_of, read_records
from peacestance.data.jsonl import iter_json_objects
from peacestance.errors import DataError
from peacestance.schema import DEFAULT_TARGET, LABELS, TARGETS

BENCHMARK = Path("data/benchmark/benchmark.jsonl")


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


def agreement(path: str | Path, second_path: str | Path) -> dict:
    """Cohen's kappa between the writers' labels and the blind second pass: primary rows and every cell."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/benchmark_data.py", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "agreement"))
    parser.add_argument("--benchmark", default=str(BENCHMARK), help="the merged benchmark file")
    args = parser.parse_args(argv)
    root = Path(args.benchmark).parent
    try:
        if args.command == "build":
            records = build(root / "writers", args.benchmark)
            print(json.dumps({"sentences": len(records), **{p: sum(r["part"] == p for r in records) for p in PARTS}}))
        else:
            print(json.dumps(agreement(args.benchmark, root / "agreement" / "second_pass.jsonl"), indent=2))
    except (DataError, FileNotFoundError) as exc:
        print(f"benchmark_data: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
