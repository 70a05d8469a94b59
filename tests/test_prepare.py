"""prepare: splits without leaks, identical bytes on rerun, clear errors, nothing half-written."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from peacestance.config import compose
from peacestance.data.annotations import normalize
from peacestance.data.prepare import prepare
from peacestance.errors import DataError
from peacestance.schema import PEACE_TASK
from peacestance.task import TaskSpec
from corpus_factory import data_overrides, matrix_rows

SPLITS = ("train", "validation", "test")


def read(processed, name):
    return pq.read_table(processed / f"{name}.parquet").to_pylist()


def test_prepare_writes_splits_and_stats(corpus, corpus_cfg):
    stats = prepare(corpus_cfg)
    out = corpus["processed"]
    assert sorted(p.name for p in out.iterdir()) == ["stats.json", "task.json", "test.parquet", "train.parquet",
                                                     "unlabeled.parquet", "validation.parquet"]
    assert TaskSpec.read(out) == PEACE_TASK  # the task the labels follow travels with the data
    assert oct(out.stat().st_mode & 0o777) == "0o755"  # readable by others, not mkdtemp's 0700
    rows = {s: read(out, s) for s in SPLITS}
    assert sum(r["primary"] for s in rows.values() for r in s) == stats["labelled_rows"] == 12 * 13
    assert sum(len(r) for r in rows.values()) == stats["labelled_rows"] + stats["matrix_rows"] == 12 * 13 * 4
    assert set(rows["train"][0]) >= {"doc_id", "sentence", "target", "phrase", "label"}
    assert stats["pages"] == 12
    assert stats["dropped_lines"]["navigation"] == 9 and stats["dropped_lines"]["caption"] == 9
    assert all(len(rows[s]) > 0 for s in SPLITS)
    assert json.loads((out / "stats.json").read_text())["rows"]["train"]["troops"]["favor"] >= 1


def test_no_article_and_no_sentence_in_two_splits(corpus, corpus_cfg):
    prepare(corpus_cfg)
    docs = {s: {r["doc_id"] for r in read(corpus["processed"], s)} for s in SPLITS}
    texts = {s: {normalize(r["sentence"]) for r in read(corpus["processed"], s)} for s in SPLITS}
    for a, b in [("train", "validation"), ("train", "test"), ("validation", "test")]:
        assert not docs[a] & docs[b]
        assert not texts[a] & texts[b]


def test_shared_sentence_pulls_articles_into_one_split(corpus):
    # The same sentence in two pages: both pages must land in the same split.
    shared = "Heavy rain fell over the capital on Monday in every report."
    for doc in ("p00", "p05"):
        path = next(corpus["articles"].glob(f"{doc}.*"))
        path.write_text(path.read_text() + f"\n{shared}\n")
        with corpus["annotations"].open("a") as fh:
            fh.write(json.dumps({"doc_id": doc, "sentence": shared, "target": "guarantees", "label": "neutral"}) + "\n")
            fh.writelines(json.dumps(row) + "\n" for row in matrix_rows(doc, shared, "guarantees"))
    prepare(compose(data_overrides(corpus)))
    where = {s for s in SPLITS for r in read(corpus["processed"], s) if r["doc_id"] in ("p00", "p05")}
    assert len(where) == 1


def test_same_inputs_give_identical_bytes(corpus, tmp_path):
    outputs = []
    for run in ("a", "b"):
        paths = {**corpus, "processed": tmp_path / run}
        prepare(compose(data_overrides(paths)))
        outputs.append({p.name: p.read_bytes() for p in sorted(paths["processed"].iterdir())})
    assert outputs[0] == outputs[1]


def test_seed_changes_the_split(corpus, tmp_path):
    docs = []
    for seed in (1, 2):
        paths = {**corpus, "processed": tmp_path / str(seed)}
        prepare(compose(data_overrides(paths) + [f"data.split.seed={seed}"]))
        docs.append(sorted({r["doc_id"] for r in read(paths["processed"], "test")}))
    assert docs[0] != docs[1]


@pytest.mark.parametrize(("content", "pattern"), [
    (b"", r"empty\.md: empty page"),
    (b"# Title\n\nGood \xff\xfe prose.", r"empty\.md:3: not UTF-8"),
    (b"Skip to content\n# Title only\nShare this article\n", r"empty\.md: page has no body paragraphs"),
])
def test_bad_page_is_a_clear_error_and_keeps_old_outputs(corpus, corpus_cfg, content, pattern):
    prepare(corpus_cfg)
    before = {p.name: p.read_bytes() for p in corpus["processed"].iterdir()}
    (corpus["articles"] / "empty.md").write_bytes(content)
    with pytest.raises(DataError, match=pattern):
        prepare(corpus_cfg)
    assert {p.name: p.read_bytes() for p in corpus["processed"].iterdir()} == before
    assert not [p for p in corpus["processed"].parent.iterdir() if p.name.startswith(".processed-")]


def test_html_page_without_body(corpus, corpus_cfg):
    (corpus["articles"] / "nobody.html").write_text("<html><head><title>x</title></head><body><nav>Home</nav></body></html>")
    with pytest.raises(DataError, match=r"nobody\.html: (HTML page has no article body|page has no body paragraphs)"):
        prepare(corpus_cfg)


def test_skip_flag_warns_and_counts(corpus):
    (corpus["articles"] / "empty.md").write_bytes(b"")
    stats = prepare(compose(data_overrides(corpus) + ["data.on_bad_page=skip"]))
    assert stats["dropped_lines"]["skipped_pages"] == 1
    assert stats["pages"] == 12


def test_malformed_jsonl_page_names_line(corpus, corpus_cfg):
    (corpus["articles"] / "more.jsonl").write_text('{"id": "x1", "text": "Fine prose here."}\n{"id": "x2", "text": \n')
    with pytest.raises(DataError, match=r"more\.jsonl:2: malformed JSON"):
        prepare(corpus_cfg)


def test_cli_reports_error_without_traceback(corpus):
    (corpus["articles"] / "empty.md").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "peacestance.data.prepare", *data_overrides(corpus)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "prepare failed:" in proc.stderr and "empty.md: empty page" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_two_pages_with_one_doc_id_is_an_error(corpus, corpus_cfg):
    (corpus["articles"] / "p01.txt").write_text("# Twin\n\nA page that reuses the id of p01.md here.\n")
    with pytest.raises(DataError, match=r"p01\.txt: doc_id 'p01' is used by two pages \(also .*p01\.md\)"):
        prepare(corpus_cfg)


def test_missing_matrix_cell_names_file_and_line(corpus, corpus_cfg):
    lines = corpus["annotations"].read_text().splitlines()
    dropped = next(i for i, line in enumerate(lines) if json.loads(line).get("matrix"))
    sentence_first_line = next(i for i, line in enumerate(lines)
                               if json.loads(line)["sentence"] == json.loads(lines[dropped])["sentence"]) + 1
    target = json.loads(lines[dropped])["target"]
    corpus["annotations"].write_text("\n".join(lines[:dropped] + lines[dropped + 1:]) + "\n")
    with pytest.raises(DataError, match=rf"annotations\.jsonl:{sentence_first_line} \(field 'target'\): .* no label for {target}"):
        prepare(corpus_cfg)
    # a sparse file is still accepted when the check is switched off
    stats = prepare(compose([*data_overrides(corpus), "data.full_matrix=false"]))
    assert stats["matrix_rows"] == 12 * 13 * 3 - 1


def test_matrix_flag_must_be_boolean(corpus, corpus_cfg):
    rows = corpus["annotations"].read_text().splitlines()
    bad = json.loads(rows[1])
    bad["matrix"] = "yes"
    rows[1] = json.dumps(bad)
    corpus["annotations"].write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"annotations\.jsonl:2 \(field 'matrix'\): matrix must be true or false"):
        prepare(corpus_cfg)


def test_matrix_rows_follow_their_article_and_leave_the_split_unchanged(corpus, tmp_path):
    full = prepare(compose(data_overrides(corpus)))
    sparse_path = tmp_path / "sparse.jsonl"
    sparse_path.write_text("".join(line + "\n" for line in corpus["annotations"].read_text().splitlines()
                                   if not json.loads(line).get("matrix")))
    sparse = prepare(compose([*data_overrides({**corpus, "annotations": sparse_path, "processed": tmp_path / "p"}),
                              "data.full_matrix=false"]))
    assert full["docs"] == sparse["docs"] and full["rows"] == sparse["rows"]
