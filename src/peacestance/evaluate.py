"""peacestance-evaluate: score a saved model on the test split and the blind benchmark; write the DVC metrics.

Writes ``reports/metrics.json`` (test and blind-benchmark metrics: headline, per label and
target, calibration error), ``reports/confusion_matrix.png``, ``reports/per_target.csv``
(and the per-target chart, classification report and predictions beside them). Each part's
headline scores get a 90% bootstrap interval (``intervals`` in metrics.json; ``peacestance.intervals``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from peacestance.config import CONFIG_DIR, CONFIG_NAME
from peacestance.config_schema import ConfigError, check_config
from peacestance.errors import DataError
from peacestance.models.base import ModelFolderError

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig, model_source: str | None = None) -> dict[str, dict[str, float]]:
    """Metrics per part: ``test`` and each benchmark part present; written rounded to reports/metrics.json."""
    from peacestance.benchmark import score_benchmark
    from peacestance.data.splits import read_split, select_cells
    from peacestance.data.tables import FORMATS, read_test_table
    from peacestance.intervals import part_intervals
    from peacestance.predict import load_predictor
    from peacestance.reporting import report_split

    predictor = load_predictor(model_source or cfg.model_dir, batch_size=cfg.train.eval_batch_size, device=cfg.train.device,
                               precision="fp32")  # reports must not depend on the machine's bf16 support
    if cfg.data.get("format") in FORMATS:  # a user's own table, checked against the model's task
        test = read_test_table(cfg.data, predictor.task)
    else:
        test_path = Path(cfg.data.processed_dir) / "test.parquet"
        if not test_path.is_file():
            raise FileNotFoundError(f"{test_path} is missing: run `peacestance-prepare` first")
        test = select_cells(read_split(test_path), "primary")  # the headline rows; all cells are scored on the benchmark
        test["phrase"] = test["target"].map(predictor.targets).fillna(test["phrase"])  # the model's own phrases
    probs = predictor.score_pairs(test["sentence"].tolist(), test["phrase"].tolist())
    reports = Path(cfg.reports_dir)
    results = {"test": report_split(test, probs, reports, predictor.task)}
    if cfg.benchmark.enabled:
        results.update(score_benchmark(predictor, cfg, reports))
    payload = {part: {k: round(v, 4) for k, v in metrics.items()} for part, metrics in results.items()}
    intervals = part_intervals(reports, results, predictor.task)
    payload.update({"model": str(predictor.model_dir), "model_name": predictor.meta.get("model_name"),
                    "rows": len(test), "temperature": predictor.meta.get("temperature", 1.0),
                    "calibrated_on": predictor.meta.get("calibrated_on"),
                    "intervals": intervals})
    (reports / "metrics.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for part, m in results.items():
        low, high = intervals[part]["macro_f1"]
        log.info("%s macro-F1 %.4f (90%% interval %.3f-%.3f), F_avg %.4f, accuracy %.4f, ECE %.4f",
                 part, m["macro_f1"], low, high, m["f_avg"], m["accuracy"], m["ece"])
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> None:
    try:
        check_config(cfg)
        results = evaluate(cfg)
    except (FileNotFoundError, DataError, ConfigError, ModelFolderError) as exc:
        raise SystemExit(f"evaluate failed: {exc}") from None
    print(json.dumps({part: {k: round(m[k], 4) for k in ("macro_f1", "f_avg", "accuracy", "ece")} for part, m in results.items()}))


if __name__ == "__main__":
    main()
