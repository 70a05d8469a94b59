"""Training and tracking, end to end on the synthetic corpus with the tiny model (real MLflow, real SQLite)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from corpus_factory import smoke_run_overrides, write_corpus
from mlflow.tracking import MlflowClient

from peacestance.config import compose
from peacestance.data.prepare import prepare
from peacestance.evaluate import evaluate
from peacestance.train import train

pytestmark = pytest.mark.slow


overrides = smoke_run_overrides


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One prepare + train(tiny) + evaluate run that several tests inspect."""
    root = tmp_path_factory.mktemp("run")
    paths = write_corpus(root, n_pages=16, per_page=15)
    cfg = compose(overrides(root, paths))
    prepare(cfg)
    val_f1 = train(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    exp = client.get_experiment_by_name("peacestance")
    run = client.search_runs([exp.experiment_id])[0]
    return {"root": root, "paths": paths, "cfg": cfg, "val_f1": val_f1, "client": client, "run": run}


def test_tiny_model_learns_the_synthetic_set(trained):
    assert trained["val_f1"] >= 0.9
    assert trained["run"].data.metrics["test_macro_f1"] >= 0.9


def test_run_holds_params_tags_and_per_epoch_curves(trained):
    run, client = trained["run"], trained["client"]
    assert run.data.params["train.lr"] == "0.003"
    assert run.data.params["model.name"] == "tiny"
    assert run.data.params["data.split.seed"] == "13"
    assert all(len(v) <= 6000 for v in run.data.params.values())
    assert len(run.data.tags["data_hash"]) == 16 and run.data.tags["device"] == "cpu"
    assert "git_commit" in run.data.tags
    for key in ("train_loss", "val_loss", "val_macro_f1", "val_f_avg"):
        steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
        assert steps == sorted(steps) and len(steps) >= 2, key
    for key in ("test_macro_f1", "test_f_avg", "test_accuracy", "test_f1_favor", "test_macro_f1_troops", "test_ece",
                "blind_test_matrix_macro_f1", "blind_dev_macro_f1", "blind_test_macro_f1", "blind_test_ece", "temperature"):
        assert key in run.data.metrics, key


def test_run_reads_at_a_glance_name_description_inputs_and_clean_params(trained):
    run, client = trained["run"], trained["client"]
    assert run.info.run_name.startswith("tiny lr=0.003 ep=4 bs=16 seed=13")
    note = run.data.tags["mlflow.note.content"]
    assert "**tiny**" in note and run.data.tags["data_hash"] in note and "F_avg is the mean F1" in note
    assert "Command: `peacestance-train" in note and "step = epoch" in note
    assert re.search(r"blind-test \d\.\d{3} \(90% interval \d\.\d{3}-\d\.\d{3}\)", note), note
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert {"train", "validation", "test", "blind-benchmark"} <= set(inputs)
    assert inputs["train"].dataset.digest == run.data.tags["data_hash"]
    assert {t.value for t in inputs["train"].tags if t.key == "mlflow.data.context"} == {"training"}
    params = run.data.params
    assert not [k for k, v in params.items() if v in ("None", "null")]  # no nulls (model.tiny on a MiniLM run)
    assert not [k for k in params if k.startswith("tracking.") or k.endswith(("_dir", ".path", ".annotations"))]
    steps = client.get_metric_history(run.info.run_id, "train_loss_by_step")
    assert len(steps) >= 2 and "train_loss_step" not in run.data.metrics
    # globs are no param names: the page weights are one param with a JSON value
    assert json.loads(params["train.page_weights"]) == {"[a-l][0-9][0-9]-*": 0.25}


def test_a_head_run_shows_no_fine_tuning_knobs(trained, tmp_path):
    cfg = compose(overrides(tmp_path, trained["paths"], "model=tfidf", "tracking.log_model=false"))
    train(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])[0]
    assert "train.lr" not in run.data.params and "train.epochs" not in run.data.params
    assert run.info.run_name == "tfidf C=4 seed=13"  # its own knob; no optimizer knobs in the name either
    assert run.data.params["train.seed"] == "13" and run.data.params["model.ngram_range"]


def test_champion_is_set_by_the_first_run_and_kept_when_a_worse_one_follows(trained):
    from peacestance.registry import CHAMPION

    client, root = trained["client"], trained["root"]
    first = client.get_model_version_by_alias("peacestance", CHAMPION)
    assert first.run_id == trained["run"].info.run_id
    assert first.description.startswith("**tiny**") and first.tags["objective"] == "validation"
    assert {"git_commit", "data_hash", "test_macro_f1", "blind_test_macro_f1"} <= set(first.tags)
    published = json.loads((root / "model" / "peacestance.json").read_text())["mlflow_run_id"]
    # a worse run: a handful of rows, one epoch, on the same data
    worse = train(compose(overrides(root, trained["paths"], "train.max_train_samples=6", "train.epochs=1")))
    assert worse < trained["val_f1"]
    assert client.get_model_version_by_alias("peacestance", CHAMPION).version == first.version
    assert json.loads((root / "model" / "peacestance.json").read_text())["mlflow_run_id"] == published
    latest = client.search_runs([trained["run"].info.experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert latest.data.tags["promoted"] == "false" and "does not beat" in latest.data.tags["promotion"]
    # promote=always moves the alias and the served folder
    train(compose(overrides(root, trained["paths"], "train.max_train_samples=6", "train.epochs=1",
                            "train.promote=always")))
    moved = client.get_model_version_by_alias("peacestance", CHAMPION)
    assert int(moved.version) > int(first.version)
    assert json.loads((root / "model" / "peacestance.json").read_text())["mlflow_run_id"] == moved.run_id
    client.set_registered_model_alias("peacestance", CHAMPION, first.version)  # leave the fixture as it was
    from peacestance.registry import publish
    from peacestance.predict import resolve_source
    publish(resolve_source(f"models:/peacestance/{first.version}"), root / "model")


def test_blind_benchmark_and_test_split_both_reach_reports(trained):
    evaluate(trained["cfg"])
    payload = json.loads((trained["root"] / "reports" / "metrics.json").read_text())
    assert {"test", "blind-dev", "blind-test"} <= set(payload)
    run = trained["run"].data.metrics
    assert payload["blind-test"]["macro_f1"] == pytest.approx(run["blind_test_macro_f1"], abs=1e-4)
    assert 0.0 <= payload["blind-test"]["ece"] <= 1.0 and payload["temperature"] > 0
    assert (trained["root"] / "reports" / "blind-test_predictions.csv").is_file()
    for part in ("test", "blind-dev", "blind-test"):  # each headline with its 90% bootstrap interval
        low, high = payload["intervals"][part]["macro_f1"]
        assert 0.0 <= low <= payload[part]["macro_f1"] <= high <= 1.0
    assert payload["intervals"]["level"] == 0.9


def test_run_holds_artifacts(trained):
    run, client = trained["run"], trained["client"]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "config.yaml" in names
    evals = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "eval")}
    assert {"confusion_matrix.png", "per_target_f1.png", "classification_report.txt", "test_predictions.csv",
            "intervals.json"} <= evals


def test_registered_pyfunc_loads_and_predicts(trained):
    mlflow.set_tracking_uri(trained["cfg"].tracking.uri)
    versions = trained["client"].search_model_versions("name='peacestance'")
    assert versions
    model = mlflow.pyfunc.load_model("models:/peacestance@champion")
    out = model.predict(pd.DataFrame({"text": ["Rome firmly opposes a European troop deployment.",
                                               "Paris strongly supports security guarantees for Kyiv."],
                                      "target": ["troops", "guarantees"]}))
    assert list(out.columns) == ["label", "favor", "against", "neutral"]
    assert list(out["label"]) == ["against", "favor"]
    assert (out[["favor", "against", "neutral"]].sum(axis=1) - 1).abs().max() < 1e-4


def test_saved_model_folder_is_plain_and_pickle_free(trained):
    folder = trained["root"] / "model"
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "peacestance.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pkl", ".pt"))]
    meta = json.loads((folder / "peacestance.json").read_text())
    assert meta["targets"]["troops"] == "foreign troops in Ukraine" and meta["max_length"] == 64
    assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": "favor", "1": "against", "2": "neutral"}


def test_evaluate_writes_reports(trained):
    metrics = evaluate(trained["cfg"])["test"]
    reports = trained["root"] / "reports"
    assert json.loads((reports / "metrics.json").read_text())["test"]["macro_f1"] == round(metrics["macro_f1"], 4)
    assert (reports / "confusion_matrix.png").stat().st_size > 1000
    table = pd.read_csv(reports / "per_target.csv")
    assert set(table["target"]) == {"guarantees", "troops", "us_backstop", "peace_deal", "all"}
    # evaluate and train score the same test rows the same way
    assert metrics["macro_f1"] == pytest.approx(trained["run"].data.metrics["test_macro_f1"], abs=1e-6)


def test_same_seed_gives_identical_metrics(trained, tmp_path):
    cfg = compose(overrides(tmp_path, trained["paths"], "train.epochs=2", "tracking.log_model=false"))
    first = train(cfg)
    second = train(cfg)
    assert first == second


def test_resume_continues_the_same_run(trained, tmp_path):
    base = overrides(tmp_path, trained["paths"], "tracking.log_model=false", "train.early_stopping_patience=9")
    train(compose(base + ["train.epochs=1"]))
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("peacestance")
    assert len(client.search_runs([exp.experiment_id])) == 1
    train(compose(base + ["train.epochs=3", "train.resume=true"]))
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_macro_f1")]
    assert steps == [1, 2, 3]


def test_resume_without_checkpoint_is_a_clear_error(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="train.resume=true but .* holds no checkpoint"):
        train(compose(overrides(tmp_path, trained["paths"], "train.resume=true")))


def test_tfidf_baseline_is_trained_and_logged_the_same_way(trained, tmp_path):
    cfg = compose(overrides(tmp_path, trained["paths"], "model=tfidf"))
    assert train(cfg) >= 0.9
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])[0]
    assert run.data.params["model.name"] == "tfidf" and run.data.metrics["test_macro_f1"] >= 0.9
    assert not [p for p in (tmp_path / "model").iterdir() if p.suffix in (".pkl", ".joblib")]
    assert evaluate(cfg)["test"]["macro_f1"] == pytest.approx(run.data.metrics["test_macro_f1"])


def test_sweep_makes_one_parent_and_a_child_per_job(trained, tmp_path):
    cmd = [sys.executable, "-m", "peacestance.train", "-m", "train.lr=3e-3,1e-3",
           *overrides(tmp_path, trained["paths"], "tracking.log_model=false", "train.epochs=1"),
           f"hydra.sweep.dir={tmp_path}/sweep"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])
    parents = [r for r in runs if "peacestance.sweep_dir" in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1 and len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    best = [c for c in children if c.data.tags.get("best_in_sweep") == "true"]
    assert len(best) == 1 and parents[0].data.tags["best_run_id"] == best[0].info.run_id
    assert sorted(c.data.params["train.lr"] for c in children) == ["0.001", "0.003"]


def test_unreachable_server_fails_before_training(trained, tmp_path):
    cfg = compose(overrides(tmp_path, trained["paths"], "tracking=server", "tracking.uri=http://127.0.0.1:9"))
    with pytest.raises(Exception, match=r"cannot reach the MLflow tracking server at http://127.0.0.1:9"):
        train(cfg)
    assert not (tmp_path / "ckpt").exists()


def test_objective_is_blind_dev_macro_f1_when_asked(trained, tmp_path):
    cfg = compose(overrides(tmp_path, trained["paths"], "model=tfidf", "train.objective=blind-dev"))
    value = train(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])[0]
    assert value == pytest.approx(run.data.metrics["blind_dev_macro_f1"]) == pytest.approx(run.data.metrics["objective"])
    for knob in ("train.objective=blind-test", "train.calibrate_on=blind-test"):
        with pytest.raises(ValueError, match=rf"{knob.split('=')[0]} must be validation.* other than blind-test"):
            train(compose(overrides(tmp_path / "x", trained["paths"], "model=tfidf", knob)))
    assert not (tmp_path / "x" / "mlflow.db").exists()  # refused before any run was opened


def test_the_ablation_table_shows_each_blind_score_with_its_interval(trained):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from ablation import rows, table

    run = trained["run"]
    _, data = rows(trained["cfg"].tracking.uri, "no-parent", "peacestance", [run.info.run_id])
    saved = json.loads(Path(trained["client"].download_artifacts(run.info.run_id, "eval/intervals.json",
                                                                 str(trained["root"]))).read_text())
    assert data[0]["test_ci"] == saved["blind-test"]["macro_f1"] and data[0]["dev_ci"] == saved["blind-dev"]["macro_f1"]
    low, high = saved["blind-test"]["macro_f1"]
    assert f"**{run.data.metrics['blind_test_macro_f1']:.3f}**<br>({low:.2f}-{high:.2f})" in table(data)
