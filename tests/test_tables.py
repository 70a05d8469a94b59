"""Any stance task from a table: a user's CSV with made-up targets and labels, and SemEval-2016 as it ships."""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from peacestance.config import compose
from peacestance.data.tables import load_table_splits, read_table
from peacestance.errors import DataError
from peacestance.evaluate import evaluate
from peacestance.predict import cli, load_predictor
from peacestance.task import TaskSpec
from peacestance.train import train

TOPICS = {"school_uniforms": "school uniforms", "four_day_week": "a four-day working week"}
WORDS = {"pro": ["backs", "welcomes", "champions", "endorses"],
         "con": ["rejects", "condemns", "opposes", "scorns"],
         "none": ["mentions", "describes", "schedules", "lists"]}
WHO = ["The mayor", "A union leader", "The minister", "Parents", "The council", "An economist", "Teachers", "The board"]


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        target = rng.choice(sorted(TOPICS))
        label = rng.choice(sorted(WORDS))
        sentence = f"{rng.choice(WHO)} {rng.choice(WORDS[label])} {TOPICS[target]} in item {i}."
        rows.append({"text": sentence, "target": target, "label": label})
    return rows


def _stdin(text: str):
    stream = io.StringIO(text)
    stream.buffer = io.BytesIO(text.encode("utf-8"))
    return stream


def table_overrides(root: Path, *extra: str) -> list[str]:
    return ["data=table", f"data.train_file={root / 'train.csv'}", f"data.test_file={root / 'test.csv'}",
            "model=tiny", "train.epochs=8", "train.lr=3e-3", "train.batch_size=16", "train.objective=validation",
            "train.calibrate_on=validation", f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={root}/mlartifacts", f"model_dir={root}/model", f"reports_dir={root}/reports",
            f"train.checkpoint_dir={root}/ckpt", *extra]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("table")
    pd.DataFrame(make_rows(480, seed=1)).to_csv(root / "train.csv", index=False)
    pd.DataFrame(make_rows(80, seed=2)).to_csv(root / "test.csv", index=False)
    cfg = compose(table_overrides(root))
    objective = train(cfg)
    return {"root": root, "cfg": cfg, "objective": objective}


@pytest.mark.slow
def test_a_users_csv_trains_a_model_that_knows_its_own_task(table_run):
    meta = json.loads((table_run["root"] / "model" / "peacestance.json").read_text())
    assert meta["task"] == {"name": "from_data", "labels": ["con", "none", "pro"],
                            "targets": {"four_day_week": "four_day_week", "school_uniforms": "school_uniforms"},
                            "default_target": None, "neutral": "none", "stance_labels": []}
    assert table_run["objective"] >= 0.8  # validation macro-F1 on a learnable made-up task


@pytest.mark.slow
def test_python_api_answers_with_the_tables_labels(table_run):
    predictor = load_predictor(table_run["root"] / "model")
    rows = make_rows(60, seed=3)
    preds = predictor.predict([r["text"] for r in rows], [r["target"] for r in rows])
    accuracy = sum(p.label == r["label"] for p, r in zip(preds, rows)) / len(rows)
    assert accuracy >= 0.8
    assert set(preds[0].scores) == {"con", "none", "pro"}
    assert predictor.predict("").label == "none"  # the task's neutral label, read from the model
    with pytest.raises(ValueError, match="valid ids: four_day_week, school_uniforms"):
        predictor.predict("x", target="troops")


@pytest.mark.slow
def test_cli_reads_labels_and_default_target_from_the_model(table_run, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _stdin("The council rejects school uniforms in item 7.\n"))
    assert cli(["--model", str(table_run["root"] / "model"), "--format", "csv", "--target", "school_uniforms"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "text,target,label,con,none,pro"
    assert lines[1].split(",")[1:3] == ["school_uniforms", "con"]
    monkeypatch.setattr(sys, "stdin", _stdin("Teachers welcome a four-day working week in item 9.\n"))
    assert cli(["--model", str(table_run["root"] / "model")]) == 0  # no --target: the model's first target
    row = json.loads(capsys.readouterr().out)
    assert (row["target"], row["label"]) == ("four_day_week", "pro")


@pytest.mark.slow
def test_pyfunc_serves_the_tables_task(table_run):
    mlflow.set_tracking_uri(table_run["cfg"].tracking.uri)
    model = mlflow.pyfunc.load_model("models:/peacestance@champion")
    out = model.predict(pd.DataFrame({"text": ["The board scorns school uniforms in item 3."],
                                      "target": ["school_uniforms"]}))
    assert list(out.columns) == ["label", "con", "none", "pro"]
    assert out["label"].tolist() == ["con"]


@pytest.mark.slow
def test_evaluate_scores_a_test_table_with_the_tasks_f_avg(table_run):
    cfg = compose(table_overrides(table_run["root"]))
    results = evaluate(cfg)
    written = json.loads((table_run["root"] / "reports" / "metrics.json").read_text())
    assert set(written["test"]) >= {"macro_f1", "f_avg", "macro_f1_four_day_week", "macro_f1_school_uniforms"}
    assert results["test"]["f_avg"] == pytest.approx((results["test"]["f1_pro"] + results["test"]["f1_con"]) / 2)
    assert results["test"]["macro_f1"] >= 0.8
    assert "blind-dev" not in results  # the news benchmark belongs to another task


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_writer_cv_on_a_users_table_names_the_table_when_it_finds_no_writers(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from writer_cv import main

    write_csv(tmp_path / "train.csv", make_rows(120, seed=1))
    write_csv(tmp_path / "test.csv", make_rows(30, seed=2))
    assert main(["data=table", f"data.train_file={tmp_path / 'train.csv'}", f"data.test_file={tmp_path / 'test.csv'}",
                 "model=tfidf"]) == 2
    err = capsys.readouterr().err
    assert f"finds 0 writer(s) in {tmp_path / 'train.csv'};" in err and "train.parquet" not in err


def test_a_test_label_that_train_lacks_names_file_line_and_value(tmp_path):
    write_csv(tmp_path / "train.csv", make_rows(40, seed=1))
    test = make_rows(5, seed=2)
    test[3]["label"] = "maybe"
    write_csv(tmp_path / "test.csv", test)
    cfg = compose(table_overrides(tmp_path))
    with pytest.raises(DataError, match=r"test\.csv:5 \(field 'label'\): label 'maybe' is not in"):
        load_table_splits(cfg.data, cfg.task, seed=13)


def test_columns_are_settings_and_a_missing_one_is_named(tmp_path):
    rows = [{"sentence": r["text"], "topic": r["target"], "stance": r["label"]} for r in make_rows(40, seed=1)]
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "test.csv", rows[:10])
    cfg = compose(table_overrides(tmp_path))
    with pytest.raises(DataError, match=r"train\.csv: no text column 'text', target column 'target'"):
        load_table_splits(cfg.data, cfg.task, seed=13)
    cfg = compose(table_overrides(tmp_path, "data.text_column=sentence", "data.target_column=topic",
                                  "data.label_column=stance"))
    splits, task = load_table_splits(cfg.data, cfg.task, seed=13)
    assert task.labels == ("con", "none", "pro") and len(splits["test"]) == 10


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl", ".parquet"])
def test_tsv_jsonl_and_parquet_read_like_csv(tmp_path, suffix):
    rows = make_rows(12, seed=4)
    frame = pd.DataFrame(rows)
    path = tmp_path / f"train{suffix}"
    if suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        frame.to_parquet(path)
    got = read_table(path, {"format": "table"})
    assert got[["sentence", "target", "label"]].values.tolist() == frame.values.tolist()


def test_without_a_validation_file_a_seeded_stratified_share_is_held_out(tmp_path):
    write_csv(tmp_path / "train.csv", make_rows(200, seed=1))
    write_csv(tmp_path / "test.csv", make_rows(10, seed=2))
    cfg = compose(table_overrides(tmp_path, "data.validation_share=0.2"))
    splits, _ = load_table_splits(cfg.data, cfg.task, seed=13)
    again, _ = load_table_splits(cfg.data, cfg.task, seed=13)
    assert len(splits["train"]) + len(splits["validation"]) == 200
    assert splits["validation"].equals(again["validation"])
    share = splits["validation"].groupby(["target", "label"]).size() / (
        pd.concat([splits["train"], splits["validation"]]).groupby(["target", "label"]).size())
    assert share.between(0.15, 0.25).all()  # every (target, label) stratum gives about a fifth


def test_a_task_config_that_names_its_labels_wins_over_the_data(tmp_path):
    write_csv(tmp_path / "train.csv", make_rows(40, seed=1))
    write_csv(tmp_path / "test.csv", make_rows(10, seed=2))
    cfg = compose(table_overrides(tmp_path, "task.labels=[pro,con,none]", "task.stance_labels=[pro]"))
    _, task = load_table_splits(cfg.data, cfg.task, seed=13)
    assert task.labels == ("pro", "con", "none") and task.averaged_labels == ("pro",) and task.neutral == "none"


# ---------------------------------------------------------------- SemEval-2016 Task 6, as the release ships

SEMEVAL_LINES = [  # written by the team in the release's layout: ID, Target, Tweet, Stance; Windows-1252
    "ID\tTarget\tTweet\tStance",
    "101\tClimate Change is a Real Concern\tWe can’t keep ignoring the floods #actnow\tFAVOR",
    "102\tAtheism\tFaith gives my week its shape, and I’m grateful for it\tAGAINST",
    "103\tAtheism\tThe debate at the café tonight starts at eight\tNONE",
    "104\tClimate Change is a Real Concern\tHeatwave talk is overblown, the climate has always shifted\tAGAINST",
]


def write_semeval(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def test_semeval2016_release_format_reads_as_is(tmp_path):
    path = write_semeval(tmp_path / "trainingdata.txt", SEMEVAL_LINES)
    rows = read_table(path, {"format": "semeval2016"})
    assert rows[["sentence", "target", "label"]].values.tolist()[1] == [
        "Faith gives my week its shape, and I’m grateful for it", "Atheism", "AGAINST"]
    assert rows["sentence"].iloc[2].endswith("café tonight starts at eight")
    assert rows["line"].tolist() == [2, 3, 4, 5]
    task = TaskSpec.infer(None, rows["target"], rows["label"])
    assert task.labels == ("AGAINST", "FAVOR", "NONE") and task.neutral == "NONE"
    assert task.averaged_labels == ("AGAINST", "FAVOR")  # the official F_avg of SemEval-2016 Task 6


@pytest.mark.slow
def test_semeval2016_round_trips_through_a_training_run(tmp_path):
    rng = random.Random(5)
    lines = [SEMEVAL_LINES[0]]
    stances = {"FAVOR": "I fully back", "AGAINST": "I cannot stand", "NONE": "Someone wrote about"}
    for i in range(480):
        stance = rng.choice(sorted(stances))
        target = rng.choice(["Atheism", "Climate Change is a Real Concern"])
        lines.append(f"{i}\t{target}\t{stances[stance]} {target.lower()} — café note {i}\t{stance}")
    write_semeval(tmp_path / "train.txt", lines[:401])
    write_semeval(tmp_path / "test.txt", [lines[0], *lines[401:]])
    overrides = [o for o in table_overrides(tmp_path) if not o.startswith("data")]
    cfg = compose(["data=semeval2016", f"data.train_file={tmp_path / 'train.txt'}",
                   f"data.test_file={tmp_path / 'test.txt'}", *overrides, "tracking.log_model=false"])
    train(cfg)
    meta = json.loads((tmp_path / "model" / "peacestance.json").read_text())
    assert meta["task"]["labels"] == ["AGAINST", "FAVOR", "NONE"]
    assert meta["metrics"]["test"]["macro_f1"] >= 0.8
    assert set(meta["targets"]) == {"Atheism", "Climate Change is a Real Concern"}


def test_a_quoted_field_over_two_lines_keeps_later_line_numbers_right(tmp_path):
    (tmp_path / "t.csv").write_text('text,target,label\n"Two\nlines",a,pro\nok,a,maybe\n', encoding="utf-8")
    rows = read_table(tmp_path / "t.csv", {"format": "table"})
    assert rows["sentence"].tolist() == ["Two\nlines", "ok"] and rows["line"].tolist() == [2, 4]
