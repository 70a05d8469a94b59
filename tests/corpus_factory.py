"""A small synthetic, learnable corpus in the project's raw formats (md, txt, JSONL), for tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from peacestance.schema import LABELS, TARGETS

ACTORS = ["Paris", "London", "Warsaw", "Rome", "Berlin", "Ankara", "Ottawa", "Helsinki", "Moscow", "Kyiv",
          "The minister", "The senator", "An adviser", "The chancellor", "A spokesman", "The general"]
CUES = {
    "favor": ["strongly supports", "firmly backs", "welcomes and endorses", "is ready to commit to"],
    "against": ["flatly rejects", "refuses any part in", "rules out", "firmly opposes"],
    "neutral": ["will discuss", "held a meeting about", "published a report on", "was asked about"],
}
TOPICS = {
    "guarantees": "security guarantees for Kyiv",
    "troops": "a European troop deployment",
    "us_backstop": "an American backstop",
    "peace_deal": "a negotiated settlement",
}
FILLER = ["Heavy rain fell over the capital on Monday.", "Markets closed slightly higher in Frankfurt.",
          "The football season resumed after a short break."]


def matrix_rows(doc_id: str, sentence: str, spoken_to: str) -> list[dict]:
    """The cells that complete the target matrix: a synthetic sentence says nothing about other targets."""
    return [{"doc_id": doc_id, "sentence": sentence, "target": t, "label": "neutral", "matrix": True}
            for t in TARGETS if t != spoken_to]


def write_corpus(root: Path, n_pages: int = 12, per_page: int = 12, seed: int = 0) -> dict[str, Path]:
    """Write pages (md, txt, jsonl) with furniture and a matching annotations.jsonl; return the paths."""
    rng = random.Random(seed)
    articles = root / "raw" / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    rows, batch = [], []
    for p in range(n_pages):
        doc_id = f"p{p:02d}"
        sentences = []
        for i in range(per_page):
            target = list(TARGETS)[(p + i) % len(TARGETS)]
            label = LABELS[(p * 7 + i) % len(LABELS)]
            actor = ACTORS[rng.randrange(len(ACTORS))]
            sentence = f"{actor} {CUES[label][rng.randrange(4)]} {TOPICS[target]} in update {p}-{i}."
            sentences.append(sentence)
            rows.append({"doc_id": doc_id, "sentence": sentence, "target": target, "label": label})
            rows.extend(matrix_rows(doc_id, sentence, target))
        filler = f"{FILLER[p % len(FILLER)][:-1]} in report {p}."
        sentences.append(filler)
        rows.append({"doc_id": doc_id, "sentence": filler, "target": "guarantees", "label": "neutral"})
        rows.extend(matrix_rows(doc_id, filler, "guarantees"))
        body = "\n\n".join(" ".join(sentences[k:k + 3]) for k in range(0, len(sentences), 3))
        if p % 4 == 3:
            batch.append({"id": doc_id, "title": f"Brief {p}", "text": body, "source": "Test Wire", "date": "2026-01-07"})
            continue
        page = f"Skip to content\n# Page {p}\nBy Test Reporter\n\n{body}\n\nLeaders meet. (Reuters)\n#Ukraine\nShare this article\n"
        (articles / f"{doc_id}.{'md' if p % 2 else 'txt'}").write_text(page, encoding="utf-8")
    (articles / "batch.jsonl").write_text("".join(json.dumps(b) + "\n" for b in batch), encoding="utf-8")
    annotations = root / "raw" / "annotations.jsonl"
    annotations.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {"articles": articles, "annotations": annotations, "processed": root / "processed"}


def data_overrides(paths: dict[str, Path]) -> list[str]:
    return [f"data.raw_dir={paths['articles']}", f"data.annotations={paths['annotations']}",
            f"data.processed_dir={paths['processed']}"]


def smoke_run_overrides(root: Path, paths: dict[str, Path], *extra: str) -> list[str]:
    """Overrides for a tiny-model run whose store, model, reports and checkpoints all live under root."""
    return [*data_overrides(paths), "experiment=smoke", f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={root}/mlartifacts", f"model_dir={root}/model",
            f"reports_dir={root}/reports", f"train.checkpoint_dir={root}/ckpt", *extra]
