"""Serving for real: a local MLflow tracking server, the registry, and `mlflow models serve`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from corpus_factory import smoke_run_overrides, write_corpus
from mlflow.tracking import MlflowClient
from servers import free_port, serving

from peacestance.config import compose
from peacestance.data.prepare import prepare
from peacestance.predict import load_predictor
from peacestance.train import train

pytestmark = pytest.mark.slow


def cfg_for(root, paths, *extra):
    return compose(smoke_run_overrides(root, paths, *extra))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    paths = write_corpus(root, n_pages=16, per_page=15)
    cfg = cfg_for(root, paths)
    prepare(cfg)
    train(cfg)
    return {"root": root, "paths": paths, "uri": cfg.tracking.uri}


def test_load_predictor_from_registry_and_run_uris(registry, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    by_name = load_predictor("models:/peacestance@champion")
    by_version = load_predictor("models:/peacestance/1")
    run_id = MlflowClient(registry["uri"]).get_model_version("peacestance", "1").run_id
    by_run = load_predictor(f"runs:/{run_id}/model")
    text = "Rome firmly opposes a European troop deployment."
    labels = {p.predict(text, "troops").label for p in (by_name, by_version, by_run)}
    assert labels == {"against"}


def test_missing_registry_version_names_the_uri(registry, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    with pytest.raises(FileNotFoundError, match=r"tried: models:/peacestance/99"):
        load_predictor("models:/peacestance/99")


def test_mlflow_models_serve_answers_invocations(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    records = [{"text": "Rome firmly opposes a European troop deployment.", "target": "troops"},
               {"text": "Paris strongly supports security guarantees for Kyiv."}]
    local = load_predictor("models:/peacestance@champion").predict([r["text"] for r in records], ["troops", "guarantees"])
    port = free_port()
    args = ["models", "serve", "-m", "models:/peacestance@champion", "--env-manager", "local",
            "--host", "127.0.0.1", "--port", str(port)]
    with serving(args, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", env={"MLFLOW_TRACKING_URI": registry["uri"]}):
        body = json.dumps({"dataframe_records": records}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer = json.loads(resp.read())
        bad = {}
        for name, record in {"int_target": {"text": "x", "target": 5}, "null_text": {"text": None, "target": "troops"},
                             "unknown_id": {"text": "x", "target": "nato"}}.items():
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(
                {"dataframe_records": [record]}).encode(), headers={"Content-Type": "application/json"})
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(request, timeout=60)
            bad[name] = (err.value.code, json.loads(err.value.read()).get("message", ""))
    preds = answer["predictions"]
    assert [p["label"] for p in preds] == [p.label for p in local] == ["against", "favor"]
    assert all(abs(p[k] - q.scores[k]) < 1e-4 for p, q in zip(preds, local) for k in ("favor", "against", "neutral"))
    assert all(abs(p["favor"] + p["against"] + p["neutral"] - 1) < 1e-4 for p in preds)
    assert {code for code, _ in bad.values()} == {400}, bad
    assert "row 0: 'target' must be a string" in bad["int_target"][1], bad
    assert "'text' must be a string, got null" in bad["null_text"][1], bad
    assert "unknown target id 'nato'; valid ids: guarantees, troops" in bad["unknown_id"][1], bad


def test_training_logs_through_a_tracking_server(registry, tmp_path):
    port = free_port()
    args = ["server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{tmp_path}/server.db", "--artifacts-destination", str(tmp_path / "art")]
    with serving(args, f"http://127.0.0.1:{port}/health", tmp_path / "server.log",
                 env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}):
        uri = f"http://127.0.0.1:{port}"
        cfg = cfg_for(tmp_path, registry["paths"], "tracking=server", f"tracking.uri={uri}", "train.epochs=1")
        train(cfg)
        client = MlflowClient(uri)
        runs = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])
        assert len(runs) == 1 and "test_macro_f1" in runs[0].data.metrics
        assert client.search_model_versions("name='peacestance'")
