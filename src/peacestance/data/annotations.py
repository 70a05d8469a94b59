"""Read, validate and join the team's stance labels.

Labels are keyed by the *normalised sentence text* within its article, never by
position, so that a better segmenter cannot silently shift a label onto the
wrong sentence: a label whose sentence is no longer found is an error that
names its line.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from peacestance.data.jsonl import iter_json_objects
from peacestance.errors import DataError
from peacestance.schema import PEACE_TASK, PHENOMENA, Annotation
from peacestance.task import TaskSpec

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
                         "–": "-", "—": "-", "‑": "-", "…": "..."})
REQUIRED_FIELDS = ("doc_id", "sentence", "target", "label")


def normalize(sentence: str) -> str:
    """The key a sentence is matched by: NFKC, straight quotes, one space, case-folded."""
    text = unicodedata.normalize("NFKC", sentence).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip().casefold()


def _parse_row(record: dict, path: Path, number: int, task: TaskSpec) -> Annotation:
    for key in REQUIRED_FIELDS:
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            raise DataError("missing or empty (must be a non-empty string)", path=path, line=number, field=key)
    if record["target"] not in task.targets:
        raise DataError(f"unknown target {record['target']!r}; valid: {', '.join(task.targets)}",
                        path=path, line=number, field="target")
    if record["label"] not in task.labels:
        raise DataError(f"unknown label {record['label']!r}; valid: {', '.join(task.labels)}",
                        path=path, line=number, field="label")
    phenomena = record.get("phenomena") or []
    if not isinstance(phenomena, list) or any(p not in PHENOMENA for p in phenomena):
        raise DataError(f"phenomena must be a list drawn from {', '.join(PHENOMENA)}; got {phenomena!r}",
                        path=path, line=number, field="phenomena")
    note = record.get("note") or ""
    if not isinstance(note, str):
        raise DataError("note must be a string", path=path, line=number, field="note")
    matrix = record.get("matrix", False)
    if not isinstance(matrix, bool):
        raise DataError(f"matrix must be true or false; got {matrix!r}", path=path, line=number, field="matrix")
    return Annotation(doc_id=record["doc_id"], sentence=record["sentence"].strip(), target=record["target"],
                      label=record["label"], note=note, phenomena=tuple(phenomena), line=number, primary=not matrix)


def read_annotations(path: str | Path, task: TaskSpec = PEACE_TASK) -> list[Annotation]:
    """Parse and validate every row against the task; conflicting or repeated (sentence, target) rows are errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError("annotations file not found", path=path) from exc
    except UnicodeDecodeError as exc:
        raise DataError("not UTF-8; re-save the file as UTF-8", path=path) from exc
    rows: list[Annotation] = []
    seen: dict[tuple[str, str, str], Annotation] = {}
    for number, record in iter_json_objects(text, path):
        row = _parse_row(record, path, number, task)
        key = (row.doc_id, normalize(row.sentence), row.target)
        if key in seen:
            first = seen[key]
            what = "conflicting label" if first.label != row.label else "duplicate row"
            raise DataError(f"{what} for ({row.target!r}, sentence {row.sentence[:60]!r}...): "
                            f"line {first.line} says {first.label!r}, this line says {row.label!r}",
                            path=path, line=number, field="label")
        seen[key] = row
        rows.append(row)
    if not rows:
        raise DataError("no annotation rows", path=path)
    return rows


def join_labels(
    sentences_by_doc: dict[str, list[str]], annotations: list[Annotation], path: str | Path
) -> tuple[list[Annotation], dict[str, list[str]]]:
    """Check every label against the sentences prepare found; return (labels, unlabeled sentences by doc).

    The labelled sentence text is replaced by the text as found in the page, so
    training sees exactly what prediction will see.
    """
    index = {doc: {normalize(s): s for s in sents} for doc, sents in sentences_by_doc.items()}
    joined: list[Annotation] = []
    labelled: dict[str, set[str]] = {}
    for row in annotations:
        if row.doc_id not in index:
            raise DataError(f"doc_id {row.doc_id!r} matches no page in the articles folder",
                            path=path, line=row.line, field="doc_id")
        key = normalize(row.sentence)
        found = index[row.doc_id].get(key)
        if found is None:
            raise DataError(f"sentence not found in page {row.doc_id!r} as split by prepare: {row.sentence!r}",
                            path=path, line=row.line, field="sentence")
        labelled.setdefault(row.doc_id, set()).add(key)
        joined.append(Annotation(row.doc_id, found, row.target, row.label, row.note, row.phenomena, row.line,
                                 row.primary))
    unlabeled = {
        doc: [s for s in dict.fromkeys(sents) if normalize(s) not in labelled.get(doc, set())]
        for doc, sents in sentences_by_doc.items()
    }
    return joined, unlabeled


def check_full_matrix(annotations: list[Annotation], path: str | Path, targets=tuple(PEACE_TASK.targets)) -> None:
    """Every labelled sentence needs a label for every target; a missing cell names the sentence's first line."""
    cells: dict[tuple[str, str], list[Annotation]] = {}
    for row in annotations:
        cells.setdefault((row.doc_id, normalize(row.sentence)), []).append(row)
    for rows in cells.values():
        have = {r.target for r in rows}
        missing = [t for t in targets if t not in have]
        if missing:
            first = min(rows, key=lambda r: r.line)
            raise DataError(f"sentence {first.sentence[:60]!r} has no label for {', '.join(missing)}; every labelled "
                            "sentence needs all targets (add rows with \"matrix\": true, label neutral where it says "
                            "nothing about a target)", path=path, line=first.line, field="target")
