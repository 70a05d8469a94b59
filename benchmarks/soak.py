"""Soak: the failure modes a unit test cannot hold for long. `make soak` (not in CI).

    python benchmarks/soak.py                        # all three, numbers printed and written to benchmarks/soak.json
    python benchmarks/soak.py --only serve --requests 800 --concurrency 32

1. serve: `mlflow models serve` on a freshly trained tiny model, N requests from C threads at once
   (a share with bad input, which must get 400 with the cause); counts, latency percentiles.
2. train: a tiny run killed with SIGKILL once its first checkpoint is on disk, then
   `train.resume=true`: the same MLflow run must finish with every epoch logged.
3. prepare: killed with SIGKILL mid-way over the real corpus; the earlier data/processed copy
   must be byte-identical afterwards and no half-written folder left beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from corpus_factory import smoke_run_overrides, write_corpus  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_run(root: Path, *extra: str) -> list[str]:
    paths = write_corpus(root, n_pages=16, per_page=15)
    overrides = smoke_run_overrides(root, paths, *extra)
    subprocess.run([str(BIN / "peacestance-prepare"), *overrides], check=True, capture_output=True, cwd=root)
    return overrides


def soak_serve(requests: int, concurrency: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="soak-serve-"))
    overrides = _tiny_run(root)
    subprocess.run([str(BIN / "peacestance-train"), *overrides], check=True, capture_output=True, cwd=root)
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", "models:/peacestance@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        good = {"dataframe_records": [{"text": "Rome firmly opposes a European troop deployment.", "target": "troops"}]}
        bad = {"dataframe_records": [{"text": "x", "target": 5}]}

        def call(i: int) -> tuple[int, float, str]:
            body = json.dumps(bad if i % 10 == 9 else good).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                             headers={"Content-Type": "application/json"})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as resp:
                    label = json.loads(resp.read())["predictions"][0]["label"]
                    return resp.status, time.perf_counter() - start, label
            except urllib.error.HTTPError as exc:
                return exc.code, time.perf_counter() - start, json.loads(exc.read()).get("message", "")

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(call, range(requests)))
        wall = time.perf_counter() - start
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    latencies = sorted(t for _, t, _ in results)
    codes = {str(c): sum(1 for code, _, _ in results if code == c) for c in sorted({c for c, _, _ in results})}
    wrong = sum(1 for i, (code, _, answer) in enumerate(results)
                if (i % 10 == 9 and (code != 400 or "must be a string" not in answer))
                or (i % 10 != 9 and (code != 200 or answer != "against")))
    return {"requests": requests, "concurrency": concurrency, "status_codes": codes, "unexpected_answers": wrong,
            "requests_per_s": requests / wall, "latency_ms_p50": 1000 * statistics.median(latencies),
            "latency_ms_p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


def soak_train() -> dict:
    root = Path(tempfile.mkdtemp(prefix="soak-train-"))
    overrides = _tiny_run(root, "tracking.log_model=false", "train.epochs=6", "train.early_stopping_patience=9")
    proc = subprocess.Popen([str(BIN / "peacestance-train"), *overrides], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=root)
    ckpt = root / "ckpt"
    deadline = time.time() + 600
    while time.time() < deadline and not list(ckpt.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after = sorted(p.name for p in ckpt.glob("checkpoint-*"))
    resumed = subprocess.run([str(BIN / "peacestance-train"), *overrides, "train.resume=true"], capture_output=True,
                             text=True, cwd=root)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("peacestance").experiment_id])
    epochs = [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_macro_f1")] if runs else []
    return {"checkpoints_when_killed": killed_after, "resume_exit_code": resumed.returncode, "runs": len(runs),
            "status": runs[0].info.status if runs else None, "epochs_logged": epochs}


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def soak_prepare(kills: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="soak-prepare-"))
    processed = root / "processed"
    args = [str(BIN / "peacestance-prepare"), f"data.processed_dir={processed}",
            f"data.raw_dir={ROOT / 'data/raw/articles'}", f"data.annotations={ROOT / 'data/raw/annotations.jsonl'}"]
    subprocess.run(args, check=True, capture_output=True, cwd=root)
    before = _tree_hash(processed)
    intact, leftovers = 0, []
    for i in range(kills):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
        time.sleep(1.0 + 0.4 * i)  # kill at different points of the run
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        intact += _tree_hash(processed) == before
        leftovers += [p.name for p in root.iterdir() if p.name.startswith(".processed-")]
    return {"kills": kills, "processed_intact_after_kill": intact, "temp_folders_left": sorted(set(leftovers))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("serve", "train", "prepare"), default=None)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "soak.json")
    args = parser.parse_args(argv)
    results = {}
    if args.only in (None, "serve"):
        results["serve"] = soak_serve(args.requests, args.concurrency)
    if args.only in (None, "train"):
        results["train"] = soak_train()
    if args.only in (None, "prepare"):
        results["prepare"] = soak_prepare(args.kills)
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
