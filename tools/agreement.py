"""Inter-annotator agreement: draw the double-labelling sample, then compute Cohen's kappa.

    python tools/agreement.py sample   # (re)draws data/raw/agreement/sample.jsonl (no labels)
    python tools/agreement.py          # kappa per target and overall vs. the second pass
    python tools/agreement.py --dir data/raw/matrix   # the same for the matrix-completion cells
    python tools/agreement.py --dir data/raw/relabel/peace_deal   # the blind relabel of every peace_deal row

Corpus maintenance: kept out of the importable library (``make agreement`` runs it).

The sample is stratified by target and seeded, so it is the same every time;
the second annotator sees only (doc_id, sentence, target), never a label.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from peacestance.data.annotations import normalize, read_annotations
from peacestance.data.jsonl import iter_json_objects
from peacestance.schema import LABELS, TARGETS

ANNOTATIONS = Path("data/raw/annotations.jsonl")
AGREEMENT_DIR = Path("data/raw/agreement")
# Each round double-labels pages written in one writing round: (page-id prefixes, rows per target, seed, first item).
ROUNDS = {1: ("abcdefgh", 60, 2026, 0), 2: ("ijkl", 20, 2027, 240)}
MATRIX_DIR = Path("data/raw/matrix")
# The blind pass over the cells that complete the target matrix: (non-neutral cells, neutral cells, seed).
MATRIX_SAMPLE = (100, 200, 13)
# Whole-target relabels made after the agreement rounds (a blind second pass over every row of one
# target, disagreements adjudicated); each adjudication.jsonl remembers the label a row had before.
RELABEL_DIRS = (Path("data/raw/relabel/peace_deal"),)


def draw_sample(annotations_path: Path = ANNOTATIONS, round_: int = 1) -> list[dict]:
    """The seeded, target-stratified sample of one agreement round (labels left out)."""
    prefixes, per_target, seed, first_item = ROUNDS[round_]
    rows = [r for r in read_annotations(annotations_path) if r.doc_id[0] in prefixes and r.primary]
    by_target = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.line):
        by_target[row.target].append(row)
    rng = random.Random(seed)
    picked = []
    for target in TARGETS:
        picked += rng.sample(by_target[target], min(per_target, len(by_target[target])))
    rng.shuffle(picked)
    return [{"item": first_item + i, "doc_id": r.doc_id, "sentence": r.sentence, "target": r.target}
            for i, r in enumerate(picked)]


def draw_matrix_sample(annotations_path: Path = ANNOTATIONS) -> list[dict]:
    """The seeded sample of matrix-completion cells (MATRIX_SAMPLE), labels left out.

    Non-neutral cells are rare, so they are over-sampled: a sample of only neutral cells would
    measure little but the neutral default.
    """
    non_neutral, neutral, seed = MATRIX_SAMPLE
    matrix_pages = "".join(prefixes for prefixes, *_ in ROUNDS.values())  # the pages the matrix pass filled in
    cells = [r for r in read_annotations(annotations_path) if not r.primary and r.doc_id[0] in matrix_pages]
    rng = random.Random(seed)
    picked = (rng.sample([r for r in cells if r.label != "neutral"], non_neutral)
              + rng.sample([r for r in cells if r.label == "neutral"], neutral))
    rng.shuffle(picked)
    return [{"item": i, "doc_id": r.doc_id, "sentence": r.sentence, "target": r.target} for i, r in enumerate(picked)]


def read_jsonl(path: Path) -> list[dict]:
    return [record for _, record in iter_json_objects(path.read_text(encoding="utf-8"), path)]


def first_pass_labels(annotations_path: Path, adjudication_path: Path | None) -> tuple[dict, dict]:
    """(first-pass labels, final labels): adjudication.jsonl remembers what a changed label was before.

    Later relabels (RELABEL_DIRS) are undone first, then this pass's own adjudication, so a row
    changed by both gets back the label it had when this pass's second annotator labelled it.
    """
    final = {(r.doc_id, normalize(r.sentence), r.target): r.label for r in read_annotations(annotations_path)}
    first = dict(final)
    own = adjudication_path.resolve() if adjudication_path is not None else None
    later = [d / "adjudication.jsonl" for d in RELABEL_DIRS if (d / "adjudication.jsonl").resolve() != own]
    for path in [*later, *([adjudication_path] if adjudication_path is not None else [])]:
        if path.is_file():
            for row in read_jsonl(path):
                first[(row["doc_id"], normalize(row["sentence"]), row["target"])] = row["first"]
    return first, final


def kappa(a, b) -> float | None:
    """Cohen's kappa, or None where both passes used a single label (kappa is undefined there)."""
    if len(set(a) | set(b)) < 2:
        return None
    return round(float(cohen_kappa_score(a, b, labels=list(LABELS))), 4)


def kappa_report(annotations_path: Path, second_path: Path, adjudication_path: Path | None = None) -> dict:
    """Cohen's kappa per target and overall between the first and the second pass (before adjudication)."""
    first, final = first_pass_labels(annotations_path, adjudication_path)
    pairs = defaultdict(list)
    missing = []
    for number, row in enumerate(read_jsonl(second_path), start=1):
        if row.get("label") not in LABELS:
            raise SystemExit(f"{second_path}:{number}: label must be one of {LABELS}, got {row.get('label')!r}")
        key = (row["doc_id"], normalize(row["sentence"]), row["target"])
        if key not in first:
            missing.append(number)
            continue
        pairs[row["target"]].append((first[key], row["label"]))
    report = {"n": sum(len(p) for p in pairs.values()), "unmatched_lines": missing, "per_target": {},
              "disagreements": sum(a != b for p in pairs.values() for a, b in p)}
    every = []
    for target in TARGETS:
        if pairs[target]:
            a, b = zip(*pairs[target])
            report["per_target"][target] = {"n": len(a), "kappa": kappa(a, b),
                                            "agreement": round(sum(x == y for x, y in zip(a, b)) / len(a), 4)}
            every += pairs[target]
    a, b = zip(*every)
    report["overall"] = {"kappa": kappa(a, b),
                         "agreement": round(sum(x == y for x, y in every) / len(every), 4)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="kappa", choices=("kappa", "sample"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    parser.add_argument("--dir", type=Path, default=AGREEMENT_DIR)
    parser.add_argument("--force", action="store_true", help="let `sample` overwrite a different sample.jsonl")
    args = parser.parse_args(argv)
    if args.command == "sample":
        if args.dir.resolve() == MATRIX_DIR.resolve():
            rows = draw_matrix_sample(args.annotations)
        else:
            rows = [row for round_ in sorted(ROUNDS) for row in draw_sample(args.annotations, round_)]
        out = args.dir / "sample.jsonl"
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if out.is_file() and out.read_text(encoding="utf-8") != text and not args.force:
            raise SystemExit(f"{out} exists and differs from a fresh draw; it is what the second pass labelled. "
                             "Pass --force to overwrite it.")
        args.dir.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} items to {out}")
        return 0
    report = kappa_report(args.annotations, args.dir / "second_pass.jsonl", args.dir / "adjudication.jsonl")
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
