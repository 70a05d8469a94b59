"""Compare the kept sentence segmenters on the team's cases.

Prints, per segmenter, the cases passed raw and with the team's repair layer.
Run: ``python benchmarks/segmenters.py`` (or ``make bench-segmenters``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from peacestance.data.sentences import SEGMENTERS, split_sentences

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "segmentation_cases.yaml"


def main() -> int:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    results = {}
    for name in SEGMENTERS:
        row = {}
        for repair in (False, True):
            start = time.perf_counter()
            failed = [c["id"] for c in cases if split_sentences(c["text"], name, repair=repair) != c["want"]]
            row["repaired" if repair else "raw"] = {
                "passed": len(cases) - len(failed), "failed": failed,
                "ms": round(1000 * (time.perf_counter() - start), 1),
            }
        results[name] = row
    print(f"{'segmenter':<10} {'raw':>8} {'+rules':>8}   (of {len(cases)} cases)")
    for name, row in results.items():
        print(f"{name:<10} {row['raw']['passed']:>8} {row['repaired']['passed']:>8}   still failing: {', '.join(row['repaired']['failed']) or '-'}")
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
