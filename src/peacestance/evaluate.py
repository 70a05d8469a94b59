"""peacestance-evaluate: score a saved model on the test split and write the DVC metrics and plots.

Writes ``reports/metrics.json`` (headline and per-label/target metrics),
``reports/confusion_matrix.png``, ``reports/per_target.csv`` (and the per-target
chart, classification report and test predictions beside them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig

from peacestance.config import CONFIG_DIR, CONFIG_NAME

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig, model_source: str | None = None) -> dict[str, float]:
    from peacestance.predict import load_predictor
    from peacestance.train import evaluation_artifacts

    test_path = Path(cfg.data.processed_dir) / "test.parquet"
    if not test_path.is_file():
        raise FileNotFoundError(f"{test_path} is missing: run `peacestance-prepare` first")
    test = pd.read_parquet(test_path)
    predictor = load_predictor(model_source or cfg.model_dir, batch_size=cfg.train.eval_batch_size, device=cfg.train.device)
    probs = predictor.score_pairs(test["sentence"].tolist(), test["phrase"].tolist())
    reports = Path(cfg.reports_dir)
    metrics = evaluation_artifacts(test, probs, reports)
    payload = {"test": {k: round(v, 4) for k, v in metrics.items()}, "model": str(predictor.model_dir),
               "model_name": predictor.meta.get("model_name"), "rows": len(test)}
    (reports / "metrics.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log.info("test macro-F1 %.4f, F_avg %.4f, accuracy %.4f", metrics["macro_f1"], metrics["f_avg"], metrics["accuracy"])
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(cfg)
    except FileNotFoundError as exc:
        raise SystemExit(f"evaluate failed: {exc}") from None
    print(json.dumps({k: round(metrics[k], 4) for k in ("macro_f1", "f_avg", "accuracy")}))


if __name__ == "__main__":
    main()
