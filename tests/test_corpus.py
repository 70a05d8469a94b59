"""The team's labelled corpus, loaded through the project's own code, meets its floors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from peacestance.config import PROJECT_ROOT
from peacestance.data.annotations import join_labels, normalize, read_annotations
from peacestance.data.articles import iter_pages, page_sentences, split_article
from peacestance.schema import LABELS, TARGETS

ARTICLES = PROJECT_ROOT / "data" / "raw" / "articles"
ANNOTATIONS = PROJECT_ROOT / "data" / "raw" / "annotations.jsonl"


@pytest.fixture(scope="module")
def pages():
    return list(iter_pages(ARTICLES))


@pytest.fixture(scope="module")
def all_rows():
    return read_annotations(ANNOTATIONS)


@pytest.fixture(scope="module")
def rows(all_rows):
    """The first-pass rows: the targets each sentence speaks to (the floors below are about these)."""
    return [r for r in all_rows if r.primary]


def test_at_least_60_pages_of_20_to_50_sentences(pages):
    assert len(pages) >= 60
    sizes = {p.doc_id: len(page_sentences(p)) for p in pages}
    assert all(20 <= n <= 50 for n in sizes.values()), {d: n for d, n in sizes.items() if not 20 <= n <= 50}


def test_pages_come_in_every_raw_format(pages):
    suffixes = Counter(Path(p.path).suffix for p in pages)
    assert suffixes[".md"] >= 30 and suffixes[".txt"] >= 2 and suffixes[".html"] >= 2 and suffixes[".jsonl"] >= 2


def test_every_page_carries_furniture_that_prepare_drops(pages):
    text_pages = [p for p in pages if p.path.endswith((".md", ".txt"))]
    assert all(sum(p.dropped.values()) >= 3 for p in text_pages)
    # HTML furniture (nav, figcaption, aside, footer) is removed by trafilatura before line rules run.
    for page in (p for p in pages if p.path.endswith(".html")):
        html = Path(page.path).read_text(encoding="utf-8")
        assert "<nav" in html and "<figcaption" in html
        body = " ".join(page.paragraphs)
        assert "©" not in body and "Skip to" not in body
    kinds = Counter(k for p in pages for k in p.dropped)
    assert {"navigation", "video", "caption", "hashtags", "share", "source", "byline"} <= set(kinds)


def test_row_floors(rows):
    assert len(rows) >= 2400
    per_target = Counter(r.target for r in rows)
    cells = Counter((r.target, r.label) for r in rows)
    for target in TARGETS:
        assert per_target[target] >= 400, target
        for label in LABELS:
            # Shares follow coverage, not a quota: after the peace_deal relabel (conditions and forecasts are
            # neutral, H3/H13) and the wire rounds, peace_deal/against is 13% (15% on the blind
            # benchmark) and guarantees/against 15%; every other cell is above 19%. A floor of 100 rows
            # keeps each cell learnable.
            assert cells[(target, label)] >= max(100, 0.08 * per_target[target]), (target, label)


def test_hard_cases_are_tagged(rows):
    assert sum(1 for r in rows if r.phenomena) >= 300
    tags = Counter(p for r in rows for p in r.phenomena)
    assert all(tags[p] >= 20 for p in tags) and len(tags) == 8


def test_no_duplicate_sentence_target_rows(rows):
    keys = Counter((r.doc_id, normalize(r.sentence), r.target) for r in rows)
    assert max(keys.values()) == 1


def test_every_label_is_found_by_split_article_in_its_page(pages, rows):
    raw = {Path(p.path).stem: Path(p.path) for p in pages if not p.path.endswith(".jsonl")}
    found = {doc: {normalize(s) for s in split_article(path.read_text(encoding="utf-8"))} for doc, path in raw.items()}
    batch = {p.doc_id: {normalize(s) for s in page_sentences(p)} for p in pages if p.path.endswith(".jsonl")}
    found.update(batch)
    missing = [(r.line, r.doc_id) for r in rows if normalize(r.sentence) not in found[r.doc_id]]
    assert missing == []


def test_every_body_sentence_has_a_label(pages, rows):
    _, unlabeled = join_labels({p.doc_id: page_sentences(p) for p in pages}, rows, ANNOTATIONS)
    assert {d: s for d, s in unlabeled.items() if s} == {}


def test_off_topic_share_is_realistic(rows):
    by_sentence: dict[tuple, set] = {}
    for r in rows:
        by_sentence.setdefault((r.doc_id, normalize(r.sentence)), set()).add((r.target, r.label))
    off_topic = sum(1 for v in by_sentence.values() if v == {("guarantees", "neutral")})
    assert 0.12 <= off_topic / len(by_sentence) <= 0.35


def test_agreement_sample_is_stratified_and_label_free():
    sample = [json.loads(l) for l in (PROJECT_ROOT / "data/raw/agreement/sample.jsonl").read_text().splitlines()]
    assert len(sample) >= 200
    assert all("label" not in s for s in sample)
    assert min(Counter(s["target"] for s in sample).values()) >= 50


def test_double_labelled_sample_agreement_is_recomputable_and_high():
    from agreement import kappa_report

    folder = PROJECT_ROOT / "data/raw/agreement"
    report = kappa_report(ANNOTATIONS, folder / "second_pass.jsonl", folder / "adjudication.jsonl")
    assert report["n"] >= 200 and report["unmatched_lines"] == []
    assert report["overall"]["kappa"] >= 0.80
    assert set(report["per_target"]) == set(TARGETS)


def test_agreement_sample_is_redrawn_identically_from_the_labels():
    from agreement import ROUNDS, draw_sample

    drawn = [row for round_ in sorted(ROUNDS) for row in draw_sample(ANNOTATIONS, round_)]
    stored = [json.loads(l) for l in (PROJECT_ROOT / "data/raw/agreement/sample.jsonl").read_text().splitlines()]
    assert drawn == stored


def test_every_sentence_has_a_label_for_every_target(all_rows):
    cells: dict[tuple, set] = {}
    for r in all_rows:
        cells.setdefault((r.doc_id, normalize(r.sentence)), set()).add(r.target)
    assert all(targets == set(TARGETS) for targets in cells.values())
    assert len(all_rows) == 4 * len(cells)


def test_matrix_sample_is_redrawn_identically_and_agreement_is_high():
    from agreement import MATRIX_DIR, draw_matrix_sample, kappa_report

    stored = [json.loads(l) for l in (PROJECT_ROOT / MATRIX_DIR / "sample.jsonl").read_text().splitlines()]
    assert draw_matrix_sample(ANNOTATIONS) == stored
    report = kappa_report(ANNOTATIONS, PROJECT_ROOT / MATRIX_DIR / "second_pass.jsonl")
    assert report["n"] == 300 and not report["unmatched_lines"]
    assert report["overall"]["kappa"] >= 0.85
