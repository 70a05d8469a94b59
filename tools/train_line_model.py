"""Train the learned furniture-line classifier on the team's pages and the blind set's development pages.

    python tools/train_line_model.py      # writes src/peacestance/data/line_model.npz

Two sources of labelled lines:

* the team's pages (data/raw/articles), labelled by the furniture rules: lines the rules drop
  (and titles, promo blurbs) are furniture, lines kept as prose are body. These teach the model
  what the rules know, in wordings the rules do not match;
* the development part of the blind page set (data/pages/blind, the prefixes in
  ``benchmarks/pages.PARTS["dev"]``), labelled by their writers' gold files. These are other
  outlets' layouts, including the furniture the rules miss. The test part (``PARTS["test"]``)
  is never read here.

The threshold is the lowest one that keeps >= 99% of the body lines of held-out gold pages
(5-fold, grouped by page; every page's when no gold page is given), so the model only adds
furniture it is sure of: other outlets' short one-sentence paragraphs ("Is that realistic?")
look like furniture to a model that reads one line at a time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from peacestance.data import line_model
from peacestance.data.articles import INTERVIEW_TURN, _read_text, clean_text

ROOT = Path(__file__).resolve().parents[1]
BLIND = ROOT / "data" / "pages" / "blind"
BODY_RECALL = 0.99


def _blind_set():
    """benchmarks/pages.py: the blind set's parts (PARTS) and how its gold lines are matched (_norm)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages

    return pages


def gold_lines(folder: Path, prefixes: tuple[str, ...]) -> tuple[list[str], list[int], list[str]]:
    """Every non-blank line of the chosen gold pages: furniture if its writer listed it so, else body.

    Lines are matched to the gold file as the page benchmark matches them, so the labels learned
    here are the ones ``make bench-pages`` scores.
    """
    norm = _blind_set()._norm
    lines, labels, pages = [], [], []
    for path in sorted(folder.glob("*.txt")):
        gold_file = path.with_suffix(".gold.json")
        if not path.name.startswith(prefixes) or not gold_file.is_file():
            continue
        furniture = {norm(line) for line in json.loads(gold_file.read_text(encoding="utf-8"))["furniture_lines"]}
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                lines.append(raw.strip())
                labels.append(int(norm(raw) in furniture))
                pages.append(path.stem)
    return lines, labels, pages


def _fit(x, y, weight: np.ndarray, C: float) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(x, y, sample_weight=weight)


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")


def sentences_of_body_lines(lines: list[str], labels, groups) -> tuple[list[str], list]:
    """Each sentence of a multi-sentence body line, as a body line of its own (same page group).

    Many pages put one sentence per paragraph, and a short sentence alone ("Rome opposes the
    plan.") reads like a headline to a model that has only seen body lines as whole paragraphs.
    """
    more, more_groups = [], []
    for line, label, group in zip(lines, labels, groups):
        parts = _SENTENCE_BREAK.split(line) if label == 0 else []
        for part in parts if len(parts) > 1 else []:
            if len(part.split()) >= 3:
                more.append(part)
                more_groups.append(group)
    return more, more_groups


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
    parser.add_argument("--gold-pages", type=Path, default=BLIND)
    parser.add_argument("--gold-prefixes", default=None,
                        help="comma-separated page prefixes to learn from (default: the blind set's development part; "
                             "'' for none)")
    parser.add_argument("--gold-weight", type=float, default=6.0, help="weight of a gold line against a rule-labelled one")
    parser.add_argument("--body-recall", type=float, default=BODY_RECALL,
                        help="share of held-out body lines the threshold must keep")
    parser.add_argument("--recall-on", choices=("all", "gold"), default="gold",
                        help="whose held-out body lines set the threshold: every line, or the gold pages' only "
                             "(other outlets' prose, the lines the cleaner meets)")
    parser.add_argument("--sentence-weight", type=float, default=6.0,
                        help="weight of each body line's sentences, added as body lines of their own (0: not added)")
    parser.add_argument("--drop-corpus-body", action="store_true",
                        help="let the threshold fall below a corpus page's own body line (by default it never does: "
                             "analyze() of a team page finds every labelled sentence)")
    parser.add_argument("--hard-rounds", type=int, default=5,
                        help="refits that weigh up the corpus body lines the model would drop")
    parser.add_argument("--hard-factor", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=line_model.WEIGHTS)
    args = parser.parse_args(argv)
    parts = _blind_set().PARTS
    prefixes = parts["dev"] if args.gold_prefixes is None else tuple(p for p in args.gold_prefixes.split(",") if p)
    test_prefixes = parts["test"]
    if any(p.startswith(test_prefixes) or t.startswith(prefixes) for p in prefixes for t in test_prefixes):
        parser.error(f"the blind set's test pages ({', '.join(test_prefixes)}) are never trained on")
    lines, y, groups = labelled_lines(args.pages)
    corpus_rows = np.flatnonzero([label == 0 and not INTERVIEW_TURN.match(line) for line, label in zip(lines, y)])
    lines, y, groups = list(lines), list(y), [str(g) for g in groups]
    weight, is_gold = [1.0] * len(y), [False] * len(y)

    def add(more: list[str], labels, more_groups, w: float, gold: bool) -> None:
        lines.extend(more)
        y.extend(int(v) for v in labels)
        groups.extend(str(g) for g in more_groups)
        weight.extend([w] * len(more))
        is_gold.extend([gold] * len(more))

    if prefixes:
        more, labels, pages = gold_lines(args.gold_pages, prefixes)
        add(more, labels, [f"gold:{p}" for p in pages], args.gold_weight, True)
    if args.sentence_weight > 0:  # not gold: the threshold is set on whole page lines
        more, more_groups = sentences_of_body_lines(lines, y, groups)
        add(more, [0] * len(more), more_groups, args.sentence_weight, False)
    y, groups, weight, is_gold = np.asarray(y), np.asarray(groups), np.asarray(weight), np.asarray(is_gold)
    x = line_model.features(lines)
    held_out = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        held_out[test] = _fit(x[train], y[train], weight[train], args.C).predict_proba(x[test])[:, 1]
    judged = is_gold if args.recall_on == "gold" and is_gold.any() else np.ones(len(y), bool)
    body = np.sort(held_out[(y == 0) & judged])
    threshold = float(max(0.5, body[int(np.ceil(args.body_recall * len(body))) - 1] + 1e-6))
    model = _fit(x, y, weight, args.C)
    for _ in range(args.hard_rounds if not args.drop_corpus_body else 0):
        # a corpus body line the model would drop is a hard example: weigh it up and refit, so the
        # threshold need not rise to it (one ambiguous line would otherwise set it for every page)
        flagged = corpus_rows[model.predict_proba(x[corpus_rows])[:, 1] >= threshold]
        if not len(flagged):
            break
        weight[flagged] *= args.hard_factor
        model = _fit(x, y, weight, args.C)
    corpus_max = float(model.predict_proba(x[corpus_rows])[:, 1].max())
    if not args.drop_corpus_body:
        threshold = max(threshold, corpus_max + 1e-6)
    caught = float((held_out[(y == 1) & judged] >= threshold).mean())
    np.savez(args.out, coef=model.coef_.ravel().astype(np.float32), intercept=np.float32(model.intercept_[0]),
             threshold=np.float32(threshold))
    print(json.dumps({"lines": len(y), "furniture": int(y.sum()), "gold_prefixes": list(prefixes),
                      "threshold": round(threshold, 4), "corpus_body_max": round(corpus_max, 4),
                      "held_out_body_kept": round(float((body < threshold).mean()), 4),
                      "held_out_furniture_caught": round(caught, 4), "weights": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
