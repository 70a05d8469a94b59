"""The blind benchmark: its files, its floors, and how runs are scored on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_data import agreement, build

from peacestance.benchmark import PARTS, load_rows, part_of, read_records
from peacestance.config import PROJECT_ROOT
from peacestance.errors import DataError
from peacestance.schema import TARGETS

BENCH = PROJECT_ROOT / "data" / "benchmark"


def record(i: int, url: str, about=("troops",), **labels) -> dict:
    full = {t: "neutral" for t in TARGETS} | labels
    return {"id": f"t-{i:03d}", "sentence": f"Sentence number {i} about the force.", "about": list(about),
            "labels": full, "source": {"url": url, "outlet": "Test Wire", "date": "2025-09-04"}}


def write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# ---------------------------------------------------------------- the stored benchmark


@pytest.fixture(scope="module")
def records():
    return read_records(BENCH / "benchmark.jsonl")


def test_benchmark_meets_the_floors_of_the_quality_issue(records):
    rows = load_rows(BENCH / "benchmark.jsonl")
    assert rows["primary"].sum() >= 600 and len(records) >= 600
    assert len({r["source"]["url"] for r in records}) >= 150
    assert len({r["source"]["outlet"] for r in records}) >= 15
    assert min(r["source"]["date"] for r in records) >= "2025-02"
    assert {r["part"] for r in records} == set(PARTS)


def test_parts_are_assigned_by_source_article(records):
    assert all(r["part"] == part_of(r["source"]["url"]) for r in records)
    by_url = {}
    for r in records:
        by_url.setdefault(r["source"]["url"], set()).add(r["part"])
    assert all(len(parts) == 1 for parts in by_url.values())


def test_build_reproduces_the_stored_file(tmp_path):
    out = tmp_path / "benchmark.jsonl"
    build(BENCH / "writers", out)
    assert out.read_bytes() == (BENCH / "benchmark.jsonl").read_bytes()


def test_no_benchmark_sentence_is_a_corpus_sentence(records):
    from peacestance.data.annotations import normalize, read_annotations

    corpus = {normalize(r.sentence) for r in read_annotations(PROJECT_ROOT / "data/raw/annotations.jsonl")}
    assert not [r["id"] for r in records if normalize(r["sentence"]) in corpus]


def test_blind_second_pass_agrees(records):
    report = agreement(BENCH / "benchmark.jsonl", BENCH / "agreement" / "second_pass.jsonl")
    assert report["sentences"] >= 200
    assert report["primary"]["kappa"] >= 0.8 and report["matrix"]["kappa"] >= 0.8


# ---------------------------------------------------------------- the reader's errors


@pytest.mark.parametrize("change, field, pattern", [
    (lambda r: r["labels"].pop("troops"), "labels", "needs a label for each of"),
    (lambda r: r["labels"].update(troops="maybe"), "labels", "unknown label"),
    (lambda r: r.update(about=[]), "about", r"labels \['troops'\] take a side but are not listed in about"),
    (lambda r: r.update(source={}), "source", "needs an object with a non-empty url"),
    (lambda r: r.update(sentence=""), "sentence", "missing or empty"),
])
def test_bad_record_names_file_line_and_field(tmp_path, change, field, pattern):
    bad = record(2, "https://example.org/b", troops="favor")
    change(bad)
    path = write(tmp_path / "w.jsonl", [record(1, "https://example.org/a"), bad])
    with pytest.raises(DataError, match=rf"w\.jsonl:2 \(field '{field}'\): {pattern}"):
        read_records(path)


def test_duplicate_id_across_writers_names_both(tmp_path):
    write(tmp_path / "writers" / "a.jsonl", [record(1, "https://example.org/a")])
    write(tmp_path / "writers" / "b.jsonl", [record(1, "https://example.org/b")])
    with pytest.raises(DataError, match=r"b\.jsonl \(field 'id'\): id 't-001' also used in a\.jsonl"):
        build(tmp_path / "writers", tmp_path / "out.jsonl")


def test_rows_follow_the_guideline_primary_rule(tmp_path):
    path = write(tmp_path / "b.jsonl", [record(1, "https://example.org/a", about=("troops", "guarantees"),
                                               troops="against", guarantees="favor"),
                                        record(2, "https://example.org/c", about=())])
    rows = load_rows(path)
    assert len(rows) == 8
    primary = rows[rows["primary"]]
    assert sorted(zip(primary["id"], primary["target"], primary["label"])) == [
        ("t-001", "guarantees", "favor"), ("t-001", "troops", "against"), ("t-002", "guarantees", "neutral")]
