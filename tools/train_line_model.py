"""Train the learned furniture-line classifier on the team's pages, labelled by the furniture rules.

    python tools/train_line_model.py      # writes src/peacestance/data/line_model.npz

Lines the rules drop (and titles, promo blurbs) are furniture, lines kept as prose are body.
The threshold is the lowest one that keeps >= 99.5% of body lines of held-out pages (5-fold,
grouped by page), so the model only adds furniture it is sure of. The blind page set
(data/pages/blind) is never read here: it is the test (benchmarks/pages.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from peacestance.data import line_model
from peacestance.data.articles import _read_text, clean_text

ROOT = Path(__file__).resolve().parents[1]
BODY_RECALL = 0.995


def labelled_lines(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    lines, labels, groups = [], [], []
    for page_no, path in enumerate(sorted(folder.glob("*"))):
        if path.suffix.lower() not in (".txt", ".md"):
            continue
        trace: list[tuple[str, str]] = []
        clean_text(_read_text(path), trace=trace)
        for line, what in trace:
            lines.append(line)
            labels.append(0 if what == "body" else 1)
            groups.append(page_no)
    return lines, np.asarray(labels), np.asarray(groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=ROOT / "data" / "raw" / "articles")
    parser.add_argument("--C", type=float, default=4.0)
    args = parser.parse_args(argv)
    lines, y, groups = labelled_lines(args.pages)
    x = line_model.features(lines)
    held_out = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        model = LogisticRegression(C=args.C, class_weight="balanced", max_iter=5000).fit(x[train], y[train])
        held_out[test] = model.predict_proba(x[test])[:, 1]
    body = np.sort(held_out[y == 0])
    threshold = float(max(0.5, body[int(np.ceil(BODY_RECALL * len(body))) - 1] + 1e-6))
    caught = float((held_out[y == 1] >= threshold).mean())
    model = LogisticRegression(C=args.C, class_weight="balanced", max_iter=5000).fit(x, y)
    np.savez(line_model.WEIGHTS, coef=model.coef_.ravel().astype(np.float32), intercept=np.float32(model.intercept_[0]),
             threshold=np.float32(threshold))
    print(json.dumps({"lines": len(y), "furniture": int(y.sum()), "threshold": round(threshold, 4),
                      "held_out_body_kept": round(float((body < threshold).mean()), 4),
                      "held_out_furniture_caught": round(caught, 4), "weights": str(line_model.WEIGHTS)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
