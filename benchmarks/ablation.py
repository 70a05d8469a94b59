"""The ablation table: every child run of one MLflow parent (a `-m` sweep), as Markdown.

    peacestance-train -m experiment=baseline_tfidf,minilm_default,mpnet_head,mpnet_pair,mpnet_partial
    python benchmarks/ablation.py                 # the newest sweep parent in experiments/mlflow.db
    python benchmarks/ablation.py --parent RUN_ID --store sqlite:///experiments/mlflow.db

Blind-dev chose the recipes; blind-test is reported, never tuned on. Under each blind score, its
90% bootstrap interval over the part's sentences (the run's eval/intervals.json, or computed from
its logged predictions for runs older than that file).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

TARGETS = ("guarantees", "troops", "us_backstop", "peace_deal")


def rows(store: str, parent: str | None, experiment: str, extra: list[str] = ()) -> tuple[str, list[dict]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(f"no experiment {experiment!r} in {store}")
    if parent is None:
        parents = client.search_runs([exp.experiment_id], filter_string="tags.`peacestance.sweep_dir` != ''",
                                     order_by=["attributes.start_time DESC"], max_results=1)
        if not parents:
            raise SystemExit("no sweep parent run found; run a `peacestance-train -m ...` sweep first")
        parent = parents[0].info.run_id
    children = client.search_runs([exp.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'",
                                  order_by=["attributes.start_time ASC"])
    out = []
    for run in [*children, *(client.get_run(run_id) for run_id in extra)]:
        m = run.data.metrics
        bounds = run_intervals(client, run.info.run_id)
        out.append({"run": run.info.run_name, "dev": m.get("blind_dev_macro_f1"), "test": m.get("blind_test_macro_f1"),
                    "dev_ci": bounds.get("blind-dev"), "test_ci": bounds.get("blind-test"),
                    "f_avg": m.get("blind_test_f_avg"), "ece": m.get("blind_test_ece"),
                    "matrix": m.get("blind_test_matrix_macro_f1"), "split": m.get("test_macro_f1"),
                    **{t: m.get(f"blind_test_macro_f1_{t}") for t in TARGETS},
                    "minutes": (m.get("train_runtime") or 0) / 60, "pairs_s": m.get("blind_test_pairs_per_s")})
    return parent, out


def run_intervals(client, run_id: str) -> dict[str, list[float]]:
    """Macro-F1 interval of each blind part: from eval/intervals.json, else from the logged predictions."""
    from peacestance.intervals import intervals_from_predictions

    with tempfile.TemporaryDirectory() as tmp:
        try:
            saved = json.loads(Path(client.download_artifacts(run_id, "eval/intervals.json", tmp)).read_text())
            return {part: saved[part]["macro_f1"] for part in ("blind-dev", "blind-test") if part in saved}
        except Exception:  # a run from before intervals.json: compute them from its predictions, if it logged them
            out = {}
            for part in ("blind-dev", "blind-test"):
                try:
                    out[part] = intervals_from_predictions(
                        client.download_artifacts(run_id, f"eval/{part}_predictions.csv", tmp))["macro_f1"]
                except Exception:
                    pass
            return out


def table(data: list[dict]) -> str:
    def f(v, fmt=".3f"):
        return "" if v is None else format(v, fmt)

    def ci(v):
        return "" if not v else f"<br>({v[0]:.2f}-{v[1]:.2f})"

    lines = ["| recipe (run name) | blind-dev | blind-test | F_avg | ECE | " + " | ".join(TARGETS)
             + " | all cells | team test | train min | pairs/s |", "|" + "---|" * (9 + len(TARGETS))]
    for r in data:
        lines.append(f"| {r['run']} | {f(r['dev'])}{ci(r['dev_ci'])} | **{f(r['test'])}**{ci(r['test_ci'])} | {f(r['f_avg'])} | {f(r['ece'])} | "
                     + " | ".join(f(r[t], ".2f") for t in TARGETS)
                     + f" | {f(r['matrix'])} | {f(r['split'])} | {f(r['minutes'], '.1f')} | {f(r['pairs_s'], '.0f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite:///experiments/mlflow.db")
    parser.add_argument("--experiment", default="peacestance")
    parser.add_argument("--parent", default=None, help="parent run id (default: the newest sweep)")
    parser.add_argument("--runs", default="", help="comma-separated run ids to add as rows (runs outside the sweep)")
    args = parser.parse_args(argv)
    parent, data = rows(args.store, args.parent, args.experiment, [r for r in args.runs.split(",") if r])
    print(f"<!-- parent run {parent} -->")
    print(table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
