"""MLflow: where runs go, what they carry, and how sweeps nest.

The Hydra app owns the run (the Trainer's own MLflow callback is off: it reads
environment variables, drops long params and collides with an active run).
A ``-m`` sweep gets one parent run per sweep folder with one child per job.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from peacestance.config import PROJECT_ROOT

PARAM_VALUE_LIMIT = 6000  # MLflow's limit on a param value
PARAM_KEY_LIMIT = 250
SWEEP_TAG = "peacestance.sweep_dir"
BEST_TAG = "best_in_sweep"


class TrackingError(RuntimeError):
    """The tracking store cannot be used; raised before any training starts."""


_PARAM_NAME = re.compile(r"^[\w\-. /:]+$")  # what MLflow accepts in a param name


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, str]:
    """{'train': {'lr': 5e-5}} -> {'train.lr': '5e-05'}; values cut to MLflow's limits.

    A mapping whose keys MLflow cannot take in a param name (``train.page_weights``' globs) is one
    param with a JSON value.
    """
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(_PARAM_NAME.match(str(k)) for k in value):
            out.update(flatten(value, f"{name}."))
        else:
            text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
            out[name[:PARAM_KEY_LIMIT]] = text[:PARAM_VALUE_LIMIT]
    return out


#: config keys that are places, not choices: kept in config.yaml, left out of the params table
PATH_KEYS = {"raw_dir", "annotations", "processed_dir", "model_dir", "reports_dir", "checkpoint_dir", "path",
             "train_file", "validation_file", "test_file", "embedding_cache", "artifact_location", "uri"}
#: groups that say where a run goes or how it is reported, not what it learns
SKIPPED_GROUPS = ("tracking.", "hydra.", "benchmark.path", "task.labels", "task.targets")


def readable_params(cfg: DictConfig, train_knobs: tuple[str, ...] | None = None) -> dict[str, str]:
    """The params a person compares runs by: no nulls, no paths, no knobs the run's recipe ignores.

    ``train_knobs``: the ``train.*`` settings the model kind reads (None: all of them). The whole
    resolved config is still logged as the ``config.yaml`` artifact.
    """
    out = {}
    for key, value in flatten(cfg).items():
        leaf = key.rsplit(".", 1)[-1]
        if value in ("None", "null") or leaf in PATH_KEYS or key.startswith(SKIPPED_GROUPS):
            continue
        if key.startswith("train.") and train_knobs is not None and leaf not in train_knobs:
            continue
        out[key] = value
    return out


def describe_run(model_name: str, kind: str, task_name: str, data_hash: str, sizes: dict[str, int],
                 metrics: dict[str, dict[str, float]], command: str,
                 intervals: dict[str, dict[str, list[float]]] | None = None) -> str:
    """The run page's description (``mlflow.note.content``): what was trained, on what, how well, how to redo it."""
    def score(part: str) -> str:
        value = metrics.get(part, {}).get("macro_f1")
        if value is None:
            return ""
        bounds = (intervals or {}).get(part, {}).get("macro_f1")
        return f"{part} {value:.3f}" + (f" (90% interval {bounds[0]:.3f}-{bounds[1]:.3f})" if bounds else "")

    headline = " · ".join(x for x in (score("blind-dev"), score("blind-test"), score("test"), score("validation")) if x)
    rows = ", ".join(f"{name} {n}" for name, n in sizes.items())
    return "\n\n".join([
        f"**{model_name}** ({kind}) on task `{task_name}`, data `{data_hash}` ({rows} rows).",
        f"Macro-F1: {headline}. F_avg is the mean F1 of the stance labels (favor and against: the SemEval-2016 "
        "measure); blind-dev / blind-test are news sentences the team did not write (blind-test is never tuned on).",
        f"Command: `{command}`",
        "Curves: the per-epoch metrics (train_loss, val_loss, val_macro_f1, val_f_avg) are logged with step = epoch; "
        "`train_loss_by_step` uses the optimizer step.",
    ])


def log_datasets(splits: dict[str, Any], data_hash: str, source: str, benchmark: Any = None,
                 benchmark_hash: str | None = None) -> None:
    """Each split (and the blind benchmark) as an MLflow dataset input, digest = the data hash: the Dataset column."""
    import mlflow

    for name, frame in splits.items():
        context = "training" if name == "train" else name
        dataset = mlflow.data.from_pandas(frame[["sentence", "target", "label"]], source=source, targets="label",
                                          name=f"{name}", digest=data_hash)
        mlflow.log_input(dataset, context=context)
    if benchmark is not None:
        dataset = mlflow.data.from_pandas(benchmark[["sentence", "target", "label", "part"]], source=source,
                                          targets="label", name="blind-benchmark", digest=benchmark_hash)
        mlflow.log_input(dataset, context="evaluation")


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_hash(processed_dir: str | Path) -> str:
    """sha256 over the processed split files, so a run names exactly the data it saw."""
    digest = hashlib.sha256()
    for name in ("train.parquet", "validation.parquet", "test.parquet"):
        path = Path(processed_dir) / name
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, with the URI in the message, when an http(s) tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as resp:
            if resp.status != 200:
                raise TrackingError(f"MLflow server at {uri} answered {resp.status} on /health")
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingError(
            f"cannot reach the MLflow tracking server at {uri} ({getattr(exc, 'reason', exc)}); start it "
            "(`mlflow server --host 127.0.0.1 --port 5000`) or use the local store (tracking=local)"
        ) from None


def setup(tracking: DictConfig) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id."""
    import mlflow

    check_server(tracking.uri)
    if tracking.uri.startswith("sqlite:///"):
        Path(tracking.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking.uri)
    experiment = mlflow.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking.get("artifact_location"):
        location = Path(tracking.artifact_location).resolve().as_uri()
    return mlflow.create_experiment(tracking.experiment, artifact_location=location)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sweep_parent(experiment_id: str, sweep_dir: str) -> str:
    """Find or create the parent run of one sweep; safe under parallel launchers."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    with locked(Path(sweep_dir) / ".mlflow-parent.lock"):
        found = client.search_runs([experiment_id], filter_string=f"tags.`{SWEEP_TAG}` = '{sweep_dir}'", max_results=1)
        if found:
            return found[0].info.run_id
        run = client.create_run(experiment_id, run_name=f"sweep {Path(sweep_dir).name}", tags={SWEEP_TAG: sweep_dir})
        client.set_terminated(run.info.run_id, status="RUNNING")
        return run.info.run_id


def mark_best_child(parent_id: str, run_id: str, value: float, sweep_dir: str, objective: str = "validation") -> None:
    """Tag the child with the best objective so far (blind-dev macro-F1 by default); untag the one it beats."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    with locked(Path(sweep_dir) / ".mlflow-parent.lock"):
        parent = client.get_run(parent_id)
        best = parent.data.tags.get("best_run_id")
        best_value = float(parent.data.tags.get("best_objective", "-inf"))
        if best is None or value > best_value:
            if best:
                client.set_tag(best, BEST_TAG, "false")
            client.set_tag(run_id, BEST_TAG, "true")
            client.set_tag(parent_id, "best_run_id", run_id)
            client.set_tag(parent_id, "best_objective", f"{value:.6f}")
            client.set_tag(parent_id, "objective", f"{objective} macro-F1")
            client.log_metric(parent_id, "best_objective", value)
        else:
            client.set_tag(run_id, BEST_TAG, "false")


def log_model(model_dir: str | Path, tracking: DictConfig, input_example: Any) -> str | None:
    """Log the saved folder as a pyfunc (models-from-code: nothing pickled) and register it; return the version."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from peacestance.serving import PeacestanceModel

    example = pd.DataFrame(input_example)
    output = PeacestanceModel.from_dir(model_dir).predict(None, example)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
        artifacts={"model_dir": str(model_dir)},
        code_paths=[str(Path(__file__).parent)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=_pip_requirements(),
        registered_model_name=tracking.get("registered_model") or None,
    )
    version = getattr(info, "registered_model_version", None)
    return str(version) if version is not None else None


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    names = ["torch", "transformers", "tokenizers", "safetensors", "pandas", "numpy", "mlflow", "syntok", "trafilatura"]
    reqs = []
    for name in names:
        try:
            reqs.append(f"{name}=={version(name)}")
        except Exception:  # noqa: BLE001 - a missing optional package is simply not pinned
            continue
    return reqs


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


#: the runs table sorted by the headline metric, in MLflow 3's "Model training" view (not the GenAI one)
RUNS_VIEW = "workflowType=machine_learning&orderByKey=metrics.%60blind_dev_macro_f1%60&orderByAsc=false"


def runs_url(tracking: DictConfig, ui: str = "http://127.0.0.1:5000") -> str:
    """The URL of the experiment's runs table in the MLflow UI (the experiment id read from the store)."""
    import mlflow

    mlflow.set_tracking_uri(tracking.uri)
    experiment = mlflow.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        return f"{ui}/#/experiments?{RUNS_VIEW.split('&')[0]}"
    return f"{ui}/#/experiments/{experiment.experiment_id}/runs?{RUNS_VIEW}"


if __name__ == "__main__":  # python -m peacestance.tracking [overrides]: print the runs-table URL
    import sys

    from peacestance.config import compose

    print(runs_url(compose(sys.argv[1:]).tracking))
