"""Every validation error names the file, the line and the field."""

import json

import pytest

from peacestance.data.annotations import join_labels, normalize, read_annotations
from peacestance.errors import DataError

GOOD = {"doc_id": "d1", "sentence": "Rome rules out troops.", "target": "troops", "label": "against"}


def write(tmp_path, lines):
    path = tmp_path / "annotations.jsonl"
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    return path


def test_reads_valid_rows(tmp_path):
    rows = read_annotations(write(tmp_path, [GOOD, {**GOOD, "target": "guarantees", "label": "neutral", "phenomena": ["negation"]}]))
    assert [(r.target, r.label, r.line) for r in rows] == [("troops", "against", 1), ("guarantees", "neutral", 2)]
    assert rows[1].phenomena == ("negation",)


@pytest.mark.parametrize(("bad", "pattern"), [
    ('{"doc_id": "d1", "sentence": ', r"annotations.jsonl:2: malformed JSON"),
    ({**GOOD, "label": "pro"}, r"annotations.jsonl:2 \(field 'label'\): unknown label 'pro'"),
    ({**GOOD, "target": "nato"}, r"annotations.jsonl:2 \(field 'target'\): unknown target 'nato'"),
    ({**GOOD, "sentence": "  "}, r"annotations.jsonl:2 \(field 'sentence'\): missing or empty"),
    ({k: v for k, v in GOOD.items() if k != "doc_id"}, r"annotations.jsonl:2 \(field 'doc_id'\)"),
    ({**GOOD, "phenomena": ["irony"]}, r"annotations.jsonl:2 \(field 'phenomena'\)"),
    ([1, 2], r"annotations.jsonl:2: each line must be a JSON object"),
])
def test_bad_row_names_file_line_and_field(tmp_path, bad, pattern):
    other = {**GOOD, "sentence": "Another sentence."}
    with pytest.raises(DataError, match=pattern):
        read_annotations(write(tmp_path, [other, bad]))


def test_conflicting_labels_name_both_lines(tmp_path):
    twin = {**GOOD, "sentence": "rome  rules out TROOPS.", "label": "favor"}
    with pytest.raises(DataError, match=r":2 \(field 'label'\): conflicting label.*line 1 says 'against'"):
        read_annotations(write(tmp_path, [GOOD, twin]))


def test_repeated_row_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r":2 .*duplicate row"):
        read_annotations(write(tmp_path, [GOOD, GOOD]))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "annotations.jsonl"
    path.write_bytes(b'{"doc_id": "d1", "sentence": "caf\xe9"}\n')
    with pytest.raises(DataError, match="annotations.jsonl: not UTF-8"):
        read_annotations(path)


def test_sentence_not_found_names_line(tmp_path):
    path = write(tmp_path, [GOOD, {**GOOD, "sentence": "Rome sends troops."}])
    rows = read_annotations(path)
    with pytest.raises(DataError, match=r":2 \(field 'sentence'\): sentence not found in page 'd1'"):
        join_labels({"d1": ["Rome rules out troops."]}, rows, path)


def test_unknown_doc_id_names_line(tmp_path):
    path = write(tmp_path, [{**GOOD, "doc_id": "zz"}])
    with pytest.raises(DataError, match=r":1 \(field 'doc_id'\): doc_id 'zz' matches no page"):
        join_labels({"d1": ["Rome rules out troops."]}, read_annotations(path), path)


def test_join_is_keyed_by_normalised_text_and_returns_page_text(tmp_path):
    path = write(tmp_path, [{**GOOD, "sentence": "Rome rules out ‘troops’."}])
    joined, unlabeled = join_labels({"d1": ["Rome rules out 'troops'.", "It rained."]}, read_annotations(path), path)
    assert joined[0].sentence == "Rome rules out 'troops'."
    assert unlabeled == {"d1": ["It rained."]}


def test_normalize_folds_quotes_dashes_space_and_case():
    assert normalize("  “Yes” — he  SAID… ") == normalize('"yes" - he said...')
