"""The project's promises: the README's commands, DVC, torchrun, the benchmark harness."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from corpus_factory import write_corpus
from mlflow.tracking import MlflowClient

from peacestance.config import PROJECT_ROOT

BIN = Path(sys.executable).parent


def test_readme_opens_with_the_two_commands():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make train", "make test"]
    for path in ("Makefile", "pyproject.toml", "dvc.yaml", ".ci/run", "configs/config.yaml"):
        assert (PROJECT_ROOT / path).is_file(), path


def test_make_train_runs_prepare_train_evaluate_in_order():
    out = subprocess.run(["make", "-n", "train"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    steps = [s for s in ("peacestance-prepare", "peacestance-train", "peacestance-evaluate") if s in out]
    assert steps == ["peacestance-prepare", "peacestance-train", "peacestance-evaluate"]
    assert out.index("peacestance-prepare") < out.index("peacestance-train") < out.index("peacestance-evaluate")
    assert "torch==2.13.0" in subprocess.run(["make", "-n", "-B", "install"], cwd=PROJECT_ROOT, capture_output=True,
                                             text=True, check=True).stdout


def test_ci_runs_the_readme_test_command():
    assert "make test" in (PROJECT_ROOT / ".ci/run").read_text()


def test_dvc_pipeline_is_prepare_train_evaluate_with_config_params():
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "train", "evaluate"]
    assert "data/processed" in stages["train"]["deps"] and "models/peacestance" in stages["evaluate"]["deps"]
    params = [next(iter(p)) if isinstance(p, dict) else p for p in stages["train"]["params"]]
    assert all(p.startswith("configs/") for p in params)
    assert "reports/metrics.json" in [next(iter(m)) for m in stages["evaluate"]["metrics"]]


@pytest.mark.slow
def test_dvc_repro_prepare_in_a_fresh_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "configs"):
        src = PROJECT_ROOT / name
        shutil.copytree(src, repo / name) if src.is_dir() else shutil.copy(src, repo / name)
    corpus = write_corpus(tmp_path / "c")
    shutil.copytree(corpus["articles"], repo / "data/raw/articles")
    shutil.copy(corpus["annotations"], repo / "data/raw/annotations.jsonl")
    shutil.copytree(PROJECT_ROOT / "src", repo / "src")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    for cmd in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"], [str(BIN / "dvc"), "config", "core.analytics", "false"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    proc = subprocess.run([str(BIN / "dvc"), "repro", "prepare"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads((repo / "data/processed/stats.json").read_text())["pages"] == 12
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert "configs/data/default.yaml" in lock["stages"]["prepare"]["params"]
    again = subprocess.run([str(BIN / "dvc"), "repro", "prepare"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert "didn't change, skipping" in again.stdout


@pytest.mark.slow
def test_torchrun_two_processes_with_tiny(tmp_path):
    from corpus_factory import data_overrides, smoke_run_overrides

    from peacestance.config import compose
    from peacestance.data.prepare import prepare

    paths = write_corpus(tmp_path, n_pages=12, per_page=12)
    prepare(compose(data_overrides(paths)))
    cmd = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", "-m", "peacestance.train",
           *smoke_run_overrides(tmp_path, paths, "train.epochs=2", "tracking.log_model=false", f"hydra.run.dir={tmp_path}/hydra")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])
    assert len(runs) == 1  # only rank 0 logs
    losses = [m.value for m in client.get_metric_history(runs[0].info.run_id, "val_loss")]
    assert len(losses) == 2 and all(0.5 < v < 1.6 for v in losses)  # per-rank mean, not the sum over 2 ranks
    assert (tmp_path / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_benchmark_smoke_runs_end_to_end(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks/run.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    predict = results["predict"]
    assert predict["fp32"]["agreement_with_fp32"] == 1.0
    assert predict["onnx_fp32"]["agreement_with_fp32"] >= 0.98
    assert predict["onnx_int8"]["agreement_with_fp32"] >= 0.8
    assert predict["compute_bound"]["fp32_bound_pairs_per_s"] > 0
    assert results["training"]["hf_trainer_default"]["ratio_to_trainer_default"] == 1.0
    assert results["memory"]["pairs"] == 500


def test_a_built_wheel_carries_its_configs_and_runs_outside_the_repo(tmp_path):
    import zipfile

    # Build from a copy: setuptools writes build/ beside the sources, which must not land in the checkout.
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("peacestance-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for config in ("config.yaml", "model/mpnet_head.yaml", "experiment/best.yaml", "hparams_search/head.yaml"):
        assert f"peacestance/configs/{config}" in names, config
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "my_configs" / "model").mkdir(parents=True)
    (elsewhere / "my_configs" / "model" / "mine.yaml").write_text(
        "_target_: peacestance.models.tfidf.TfidfModel\nname: mine\nngram_range: [1, 1]\nmin_df: 1\n"
        "max_features: 100\nsublinear_tf: true\nC: 1.0\nclass_weight: null\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "import peacestance, sys; print(peacestance.__file__); from peacestance.train import main; main()"
    out = subprocess.run([sys.executable, "-c", code, "--config-dir", "my_configs", "model=mine", "--cfg", "job"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[0].startswith(str(site))  # the wheel's copy, not the checkout
    assert "name: mine" in out.stdout and "objective: blind-dev" in out.stdout


@pytest.mark.parametrize("name", sorted(p.stem for p in (PROJECT_ROOT / "src/peacestance/configs/experiment").glob("*.yaml")))
def test_every_experiment_composes_to_a_buildable_model(name):
    from hydra.utils import get_class

    from peacestance.config import compose
    from peacestance.models import StanceModel

    cfg = compose([f"experiment={name}"])
    assert issubclass(get_class(cfg.model._target_), StanceModel)


@pytest.mark.parametrize("name", sorted(p.stem for p in (PROJECT_ROOT / "src/peacestance/configs/hparams_search").glob("*.yaml")))
def test_every_search_space_composes(name):
    out = subprocess.run([str(BIN / "peacestance-train"), f"hparams_search={name}", "--cfg", "hydra"], capture_output=True,
                         text=True, timeout=120, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr[-1000:]
    assert "sweeper:" in out.stdout and "params:" in out.stdout
