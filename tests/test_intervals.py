"""Bootstrap intervals and paired comparisons: the scores they resample, the unit they draw, the files they read."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from peacestance.errors import DataError
from peacestance.intervals import (ScoreSampler, bootstrap_intervals, compare_predictions, intervals_from_predictions,
                                   paired_difference)
from peacestance.metrics import stance_metrics
from peacestance.schema import LABELS, TARGETS


def _rows(n: int, accuracy: float, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    gold = rng.choice(LABELS, n).tolist()
    pred = [g if rng.random() < accuracy else rng.choice(LABELS) for g in gold]
    targets = rng.choice([*TARGETS, "a free phrase"], n).tolist()
    return gold, pred, targets


def test_unit_weights_give_exactly_the_guidelines_metrics():
    gold, pred, targets = _rows(300, 0.6)
    expected = stance_metrics(gold, pred, targets)
    got = ScoreSampler(gold, pred, targets, clusters=range(300)).scores()
    assert set(got) == {"macro_f1", "f_avg", *(k for k in expected if k.startswith("macro_f1_"))}
    for key, value in got.items():
        assert value == pytest.approx(expected[key], abs=1e-12), key


def test_an_interval_holds_its_score_narrows_with_more_rows_and_repeats_with_its_seed():
    gold, pred, targets = _rows(200, 0.7)
    small = bootstrap_intervals(gold, pred, targets, range(200))
    point = stance_metrics(gold, pred, targets)["macro_f1"]
    assert small["macro_f1"][0] < point < small["macro_f1"][1]
    assert small == bootstrap_intervals(gold, pred, targets, range(200))  # seeded
    big = bootstrap_intervals(*_rows(2000, 0.7), range(2000))
    assert np.diff(big["macro_f1"])[0] < 0.6 * np.diff(small["macro_f1"])[0]


def test_rows_of_one_cluster_are_drawn_together():
    gold, pred, targets = _rows(150, 0.7, seed=3)
    single = bootstrap_intervals(gold, pred, targets, range(150))
    twice = [x for x in zip(gold, pred, targets) for _ in range(2)]
    g2, p2, t2 = (list(col) for col in zip(*twice))
    as_pairs = bootstrap_intervals(g2, p2, t2, [i // 2 for i in range(300)])
    assert as_pairs == single  # a sentence asked twice is one piece of evidence, not two
    as_rows = bootstrap_intervals(g2, p2, t2, range(300))
    assert np.diff(as_rows["macro_f1"])[0] < np.diff(single["macro_f1"])[0]


def test_a_paired_difference_is_zero_for_the_same_model_and_clear_for_a_perfect_one():
    gold, pred, targets = _rows(300, 0.6)
    same = paired_difference(gold, pred, pred, targets, range(300))
    assert same["macro_f1"]["difference"] == 0.0 and same["macro_f1"]["interval"] == [0.0, 0.0]
    assert same["macro_f1"]["b_ahead"] == 0.0
    perfect = paired_difference(gold, pred, gold, targets, range(300))
    assert perfect["macro_f1"]["b"] == 1.0 and perfect["macro_f1"]["interval"][0] > 0.2
    assert perfect["macro_f1"]["b_ahead"] == 1.0


def test_bad_arguments_are_named():
    gold, pred, targets = _rows(20, 0.5)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        bootstrap_intervals(gold, pred, targets, range(20), level=90)
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['maybe'\]"):
        bootstrap_intervals(["maybe", *gold[1:]], pred, targets, range(20))
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_intervals(gold, pred[:-1], targets, range(20))


def _write(path, gold, pred, targets, **extra):
    frame = pd.DataFrame({"sentence": [f"Sentence {i}." for i in range(len(gold))], "target": targets,
                          "gold": gold, "pred": pred, **extra})
    frame.to_csv(path, index=False)
    return path


def test_files_are_read_by_page_when_they_have_pages_and_their_faults_are_located(tmp_path):
    gold, pred, targets = _rows(120, 0.7)
    pages = [f"page-{i // 6}" for i in range(120)]
    by_page = intervals_from_predictions(_write(tmp_path / "test_predictions.csv", gold, pred, targets, doc_id=pages))
    assert by_page == bootstrap_intervals(gold, pred, targets, pages)
    by_sentence = intervals_from_predictions(_write(tmp_path / "blind.csv", gold, pred, targets))
    assert by_sentence == bootstrap_intervals(gold, pred, targets, range(120))
    pd.DataFrame({"sentence": ["x"], "target": ["troops"], "gold": ["favor"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad\.csv \(field 'pred'\): column missing"):
        intervals_from_predictions(tmp_path / "bad.csv")
    with pytest.raises(DataError, match=r"nowhere\.csv: predictions file not found"):
        intervals_from_predictions(tmp_path / "nowhere.csv")


def test_compare_pairs_rows_by_sentence_and_target_and_refuses_different_rows(tmp_path):
    gold, pred, targets = _rows(100, 0.6)
    a = _write(tmp_path / "a.csv", gold, pred, targets)
    shuffled = pd.read_csv(a).assign(pred=gold).sample(frac=1.0, random_state=1)
    shuffled.to_csv(tmp_path / "b.csv", index=False)
    table = compare_predictions(a, tmp_path / "b.csv")
    assert table["macro_f1"]["b"] == 1.0 and table["macro_f1"]["interval"][0] > 0
    shuffled.iloc[1:].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match=r"a\.csv:\d+: this row \(.+\) is not in .*short\.csv \(1 rows"):
        compare_predictions(a, tmp_path / "short.csv")
    relabelled = pd.read_csv(a)
    relabelled.loc[4, "gold"] = "favor" if relabelled.loc[4, "gold"] != "favor" else "against"
    relabelled.to_csv(tmp_path / "relabelled.csv", index=False)
    with pytest.raises(DataError, match=r"relabelled\.csv:6 \(field 'gold'\): gold label differs from .*a\.csv \(its line 6\)"):
        compare_predictions(a, tmp_path / "relabelled.csv")


def test_the_benchmark_cli_compares_two_prediction_files(tmp_path):
    gold, pred, targets = _rows(100, 0.6)
    a = _write(tmp_path / "a.csv", gold, pred, targets)
    b = _write(tmp_path / "b.csv", gold, gold, targets)
    cli = [sys.executable, "-m", "peacestance.benchmark", "compare"]
    proc = subprocess.run([*cli, str(a), str(b)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    line = next(row for row in proc.stdout.splitlines() if row.startswith("macro_f1 "))
    assert line.split()[2] == "1.0000" and line.endswith("100%")
    proc = subprocess.run([*cli, str(a), str(tmp_path / "none.csv")], capture_output=True, text=True)
    assert proc.returncode == 2 and "none.csv: predictions file not found" in proc.stderr


def test_compare_pairs_a_recurring_sentence_by_page_and_occurrence(tmp_path):
    """The same sentence on two pages, labelled differently on each: each row meets its own twin."""
    rows = {"doc_id": ["p1", "p2", "p3", "p4"], "sentence": ["Same words.", "Same words.", "Other.", "More."],
            "target": ["troops"] * 4, "gold": ["favor", "against", "neutral", "favor"]}
    a = tmp_path / "a.csv"
    pd.DataFrame({**rows, "pred": ["favor", "favor", "neutral", "neutral"]}).to_csv(a, index=False)
    b = tmp_path / "b.csv"
    pd.DataFrame({**rows, "pred": rows["gold"]}).iloc[::-1].to_csv(b, index=False)  # another order
    table = compare_predictions(a, b, resamples=50)
    assert table["macro_f1"]["b"] == 1.0 and table["macro_f1"]["difference"] > 0
