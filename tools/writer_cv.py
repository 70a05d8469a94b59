"""Leave-one-writer-out cross-validation on the training split: the second signal behind a choice.

Blind-dev has about 300 headline rows, so it decides close calls poorly (standard error about 0.027).
The wire-register pages were written by many writers who each restated their own set of reports, so
holding one writer's pages out gives text that the rest of the training data did not phrase. Each
writer is held out in turn, the recipe is fitted on everything else, and its headline rows (the
targets each sentence speaks to) are scored. One macro-F1 over all held-out rows is printed, with its
90% bootstrap interval over the held-out pages; ``--predictions`` keeps the held-out rows' predictions,
so two recipes can be compared on the same rows (``python -m peacestance.benchmark compare``).

    python tools/writer_cv.py model.matrix_weight=0.1 model.embedding_cache=experiments/cache
    python tools/writer_cv.py experiment=mpnet_head_cls model.embedding_cache=experiments/cache
    python tools/writer_cv.py --predictions /tmp/cls.csv experiment=mpnet_head_cls model.embedding_cache=experiments/cache
    python -m peacestance.benchmark compare /tmp/default.csv /tmp/cls.csv   # paired, page by page

Arguments after the options are Hydra overrides, as for peacestance-train. Every fold fits the
recipe from scratch; with a frozen encoder, ``model.embedding_cache`` encodes each sentence once for
all folds (without it, every fold re-encodes the corpus). The team's own pages (writers a-l, rounds
1-2) are never held out: they weigh a quarter and stay in every fold's training data.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np


def writers_of(doc_ids, pattern: str) -> list[str | None]:
    """The writer of each page: the first group of ``pattern`` matched against its doc_id (None: no match)."""
    rx = re.compile(pattern)
    if rx.groups < 1:
        raise ValueError(f"--writer-pattern {pattern!r} needs a group that captures the writer")
    return [m.group(1) if (m := rx.match(str(d))) else None for d in doc_ids]


def writer_cv(cfg, writer_pattern: str, exclude: str, predictions: Path | None = None) -> dict:
    """Fit ``cfg``'s recipe once per held-out writer; macro-F1 (overall and per target) over every held-out row."""
    from peacestance import models
    from peacestance.data.splits import select_cells
    from peacestance.data.tables import FORMATS
    from peacestance.intervals import bootstrap_intervals
    from peacestance.metrics import stance_metrics
    from peacestance.models.base import FitContext, batched_scores
    from peacestance.runtime import pick_device
    from peacestance.train import training_data

    splits, task, _ = training_data(cfg)  # what peacestance-train fits on: cells, page weights, caps
    train = splits["train"]
    if "doc_id" not in train.columns:
        raise ValueError("the training data has no doc_id column: writers are read from the pages' doc_ids")
    validation = select_cells(splits["validation"], cfg.train.cells)
    writer = np.asarray(writers_of(train["doc_id"], writer_pattern), dtype=object)
    held_out = sorted({w for w in writer if w is not None and not re.fullmatch(exclude, w)})
    if len(held_out) < 2:
        source = cfg.data.train_file if cfg.data.get("format") in FORMATS else f"{cfg.data.processed_dir}/train.parquet"
        raise ValueError(f"--writer-pattern {writer_pattern!r} (excluding {exclude!r}) finds {len(held_out)} writer(s) "
                         f"in {source}; cross-validation needs at least 2")
    ctx = FitContext(train=cfg.train, device=pick_device(cfg.train.device))
    gold, pred, targets, pages, sentences = [], [], [], [], []
    for name in held_out:
        rows = writer == name
        model = models.build(cfg.model, task)
        model.fit(train[~rows].reset_index(drop=True), validation, ctx)
        test = train[rows & train["primary"].to_numpy(dtype=bool)]
        probs = batched_scores(model, test["sentence"].tolist(), test["phrase"].tolist(), int(cfg.train.eval_batch_size))
        gold += test["label"].tolist()
        pred += [model.labels[i] for i in probs.argmax(1)]
        targets += test["target"].tolist()
        pages += test["doc_id"].tolist()
        sentences += test["sentence"].tolist()
    metrics = stance_metrics(gold, pred, targets)
    low, high = bootstrap_intervals(gold, pred, targets, pages, task)["macro_f1"]
    if predictions is not None:
        import pandas as pd

        predictions.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"doc_id": pages, "sentence": sentences, "target": targets, "gold": gold,
                      "pred": pred}).to_csv(predictions, index=False)
    return {"writers": len(held_out), "rows": len(gold), "macro_f1": metrics["macro_f1"],
            "macro_f1_interval_90": [low, high], **{k: v for k, v in metrics.items() if k.startswith("macro_f1_")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writer-pattern", default=r"^([a-z]+)\d",
                        help="regex whose first group is a page's writer, matched against doc_id")
    parser.add_argument("--exclude", default="[a-l]", help="writers never held out (regex, whole name)")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="write the held-out rows' predictions here (CSV), for a paired comparison of two recipes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the recipe, as for peacestance-train")
    args = parser.parse_args(argv)
    from peacestance.config import compose
    from peacestance.config_schema import check_config

    cfg = compose(args.overrides)
    check_config(cfg)
    try:
        result = writer_cv(cfg, args.writer_pattern, args.exclude, args.predictions)
    except (ValueError, FileNotFoundError) as err:
        print(f"writer_cv: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"overrides": args.overrides, **{k: round(v, 4) if isinstance(v, float) else v
                                                      for k, v in result.items()}}))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    raise SystemExit(main())
