"""peacestance-prepare: raw pages + labels -> leak-free, split, sentence-level stance data.

pages -> furniture removal -> sentences -> join labels -> grouped split ->
data/processed/{train,validation,test,unlabeled}.parquet + stats.json.
Outputs are written to a temporary folder and moved into place, so a failure
never leaves a half-written processed folder behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import tempfile
from collections import Counter
from pathlib import Path

import hydra
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig
from tqdm import tqdm

from peacestance.config import CONFIG_DIR, CONFIG_NAME
from peacestance.config_schema import ConfigError, check_config
from peacestance.data.annotations import check_full_matrix, join_labels, read_annotations
from peacestance.data.articles import Page, iter_pages, page_sentences
from peacestance.data.split import SPLITS, grouped_split
from peacestance.errors import DataError
from peacestance.schema import Annotation
from peacestance.task import TaskSpec

log = logging.getLogger(__name__)

LABELLED_COLUMNS = ("doc_id", "sentence", "target", "phrase", "label", "phenomena", "primary")


def read_corpus(cfg: DictConfig) -> tuple[list[Page], dict[str, list[str]], Counter]:
    """Read every page; return pages, sentences by doc, and dropped/skipped counts."""
    raw_dir = Path(cfg.raw_dir)
    pages: list[Page] = []
    dropped: Counter = Counter()
    items = list(iter_pages(raw_dir, on_error=cfg.on_bad_page))
    bar = tqdm(items, desc="pages", unit="page", disable=len(items) < cfg.progress_min_pages)
    sentences: dict[str, list[str]] = {}
    source_of: dict[str, str] = {}
    for item in bar:
        if isinstance(item, DataError):
            log.warning("skipped: %s", item)
            dropped["skipped_pages"] += 1
            continue
        if item.doc_id in source_of:
            raise DataError(f"doc_id {item.doc_id!r} is used by two pages (also {source_of[item.doc_id]})", path=item.path)
        source_of[item.doc_id] = item.path
        pages.append(item)
        dropped.update(item.dropped)
        sentences[item.doc_id] = page_sentences(item, cfg.segmenter)
    return pages, sentences, dropped


def _labelled_table(rows: list[Annotation], task: TaskSpec) -> pa.Table:
    rows = sorted(rows, key=lambda r: (r.doc_id, r.line))
    return pa.table({
        "doc_id": [r.doc_id for r in rows],
        "sentence": [r.sentence for r in rows],
        "target": [r.target for r in rows],
        "phrase": [task.targets[r.target] for r in rows],
        "label": [r.label for r in rows],
        "phenomena": [list(r.phenomena) for r in rows],
        "primary": [r.primary for r in rows],
    })


def _length_stats(sentences: list[str]) -> dict[str, float]:
    words = sorted(len(s.split()) for s in sentences)
    if not words:
        return {}
    return {
        "count": len(words), "mean_words": round(statistics.fmean(words), 2),
        "median_words": statistics.median(words), "p95_words": words[int(0.95 * (len(words) - 1))],
        "min_words": words[0], "max_words": words[-1],
    }


def build_stats(splits: dict[str, list[Annotation]], pages: list[Page], sentences: dict[str, list[str]],
                unlabeled: list[tuple[str, str]], dropped: Counter, task: TaskSpec) -> dict:
    def counts(primary: bool) -> dict:
        return {split: {t: {lab: sum(1 for r in rows if r.target == t and r.label == lab and r.primary == primary)
                            for lab in task.labels} for t in task.targets}
                for split, rows in splits.items()}

    per_split = counts(primary=True)
    all_sentences = [s for doc in sorted(sentences) for s in sentences[doc]]
    return {
        "pages": len(pages),
        "body_sentences": len(all_sentences),
        "labelled_rows": sum(1 for rows in splits.values() for r in rows if r.primary),
        "rows": per_split,
        "matrix_rows": sum(1 for rows in splits.values() for r in rows if not r.primary),
        "matrix_cells": counts(primary=False),
        "docs": {split: sorted({r.doc_id for r in rows}) for split, rows in splits.items()},
        "unlabeled_sentences": len(unlabeled),
        "dropped_lines": dict(sorted(dropped.items())),
        "sentence_length": _length_stats(all_sentences),
    }


def write_outputs(out_dir: Path, splits: dict[str, list[Annotation]], unlabeled: list[tuple[str, str]], stats: dict,
                  task: TaskSpec) -> None:
    """Write everything (and the task spec the labels follow) into a temp folder beside ``out_dir``, then swap it in."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for split in SPLITS:
            pq.write_table(_labelled_table(splits[split], task), tmp / f"{split}.parquet")
        pq.write_table(pa.table({"doc_id": [d for d, _ in unlabeled], "sentence": [s for _, s in unlabeled]}),
                       tmp / "unlabeled.parquet")
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        task.write(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it 0700: the processed data must stay readable by others
        old = out_dir.with_name(f".{out_dir.name}-old")
        if old.exists():
            shutil.rmtree(old)
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def prepare(cfg: DictConfig) -> dict:
    """Run the whole stage on ``cfg.data``; return the stats written to stats.json."""
    data = cfg.data
    task = TaskSpec.from_config(cfg.task)
    if task is None:
        raise DataError("prepare labels the corpus for a task that names its labels and targets; "
                        f"task {cfg.task.get('name')!r} leaves them to the data (use it with data=table)", field="task")
    pages, sentences, dropped = read_corpus(data)
    annotations = read_annotations(data.annotations, task)
    if data.full_matrix:
        check_full_matrix(annotations, data.annotations, tuple(task.targets))
    rows, unlabeled_by_doc = join_labels(sentences, annotations, data.annotations)
    splits = grouped_split(rows, {s: data.split[s] for s in SPLITS}, seed=data.split.seed,
                           train_only=list(data.split.get("train_only") or []))
    unlabeled = [(doc, s) for doc in sorted(unlabeled_by_doc) for s in unlabeled_by_doc[doc]
                 if len(s.split()) >= data.min_unlabeled_words]
    stats = build_stats(splits, pages, sentences, unlabeled, dropped, task)
    write_outputs(Path(data.processed_dir), splits, unlabeled, stats, task)
    log.info("prepared %d rows from %d pages into %s", stats["labelled_rows"], len(pages), data.processed_dir)
    return stats


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> None:
    try:
        check_config(cfg)
        stats = prepare(cfg)
    except (DataError, ConfigError) as exc:
        raise SystemExit(f"prepare failed: {exc}") from None
    print(json.dumps({s: sum(sum(v.values()) for v in stats["rows"][s].values()) for s in SPLITS}))


if __name__ == "__main__":
    main()
