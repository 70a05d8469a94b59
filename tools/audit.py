"""Audit the labelled corpus for shortcuts a model could learn instead of stance.

    python tools/audit.py      # counts, names-only baseline, keyword leaks (JSON); corpus maintenance, not library

A names-only model (TF-IDF over the capitalised names in a sentence, plus the
target) should do little better than chance: if it did well, the corpus would
teach "Moscow means against" instead of reading the sentence.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from peacestance.schema import LABELS, TARGETS

_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+(?:\.[A-Z][a-zA-Z'’-]*)*(?:\s+[A-Z][a-zA-Z'’-]+)*")
_WORD = re.compile(r"[a-z][a-z'’-]+")


def names_in(sentence: str) -> str:
    """The capitalised names of a sentence (the first word only when it is clearly a name)."""
    found = []
    for match in _NAME.finditer(sentence):
        text = match.group(0)
        if match.start() == 0:
            words = text.split()
            if len(words) == 1:
                continue  # a capitalised first word is usually just a sentence start
            text = " ".join(words[1:]) if words[0].lower() in {"the", "a", "an", "but", "and", "if", "when"} else text
        found.append(text.replace(" ", "_"))
    return " ".join(found)


def names_only_baseline(processed_dir: str | Path) -> dict[str, float]:
    """Macro-F1 on test of a model that sees only names and the target, against chance."""
    data = {s: pd.read_parquet(Path(processed_dir) / f"{s}.parquet") for s in ("train", "test")}
    text = {s: [f"{names_in(x)} TARGET_{t}" for x, t in zip(d["sentence"], d["target"])] for s, d in data.items()}
    vec = TfidfVectorizer(lowercase=False, token_pattern=r"\S+")
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(vec.fit_transform(text["train"]), data["train"]["label"])
    pred = model.predict(vec.transform(text["test"]))
    chance = DummyClassifier(strategy="stratified", random_state=0).fit(text["train"], data["train"]["label"])
    majority = DummyClassifier(strategy="most_frequent").fit(text["train"], data["train"]["label"])
    macro = lambda p: float(f1_score(data["test"]["label"], p, labels=list(LABELS), average="macro", zero_division=0))  # noqa: E731
    return {"names_only_macro_f1": round(macro(pred), 4), "stratified_chance_macro_f1": round(macro(chance.predict(text["test"])), 4),
            "majority_macro_f1": round(macro(majority.predict(text["test"])), 4)}


def keyword_leaks(frame: pd.DataFrame, min_count: int = 20, max_precision: float = 0.8) -> list[dict]:
    """Words (and names) that, within one target, land on one label in more than max_precision of their rows."""
    leaks = []
    for target in TARGETS:
        rows = frame[frame["target"] == target]
        by_word: dict[str, Counter] = defaultdict(Counter)
        for sentence, label in zip(rows["sentence"], rows["label"]):
            for word in set(_WORD.findall(sentence.lower())) | set(names_in(sentence).split()):
                by_word[word][label] += 1
        base = rows["label"].value_counts(normalize=True)
        for word, counts in by_word.items():
            total = sum(counts.values())
            label, top = counts.most_common(1)[0]
            if total >= min_count and top / total > max_precision:
                leaks.append({"target": target, "word": word, "label": label, "rows": total,
                              "precision": round(top / total, 3), "label_base_rate": round(float(base[label]), 3)})
    return sorted(leaks, key=lambda r: (-r["precision"], -r["rows"]))


def counts(frame: pd.DataFrame) -> dict:
    table = {t: {l: int(((frame["target"] == t) & (frame["label"] == l)).sum()) for l in LABELS} for t in TARGETS}
    phenomena = Counter(p for ps in frame["phenomena"] for p in ps)
    return {"rows": len(frame), "per_target": table, "hard_case_rows": int(sum(len(p) > 0 for p in frame["phenomena"])),
            "phenomena": dict(sorted(phenomena.items()))}


def main(argv: list[str] | None = None) -> int:
    processed = Path((argv or sys.argv[1:] or ["data/processed"])[0])
    frame = pd.concat([pd.read_parquet(processed / f"{s}.parquet") for s in ("train", "validation", "test")])
    report = {**counts(frame), **names_only_baseline(processed), "keyword_leaks": keyword_leaks(frame)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
