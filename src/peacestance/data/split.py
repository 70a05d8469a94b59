"""Split labelled rows into train/validation/test, grouped so nothing leaks.

Articles that share a sentence text are one group (union-find), so neither an
article nor a sentence ever sits in two splits. Groups are then placed greedily,
largest first, into the split that brings every split's (target, label) counts
closest to its share: stratified as far as whole groups allow. Only primary rows count
toward placement; the rows that complete the target matrix go where their article goes.

Pages named by ``train_only`` (doc_id globs) always go to train and take no part in placement,
so adding such pages leaves the validation and test splits exactly as they were.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from fnmatch import fnmatchcase

from peacestance.data.annotations import normalize
from peacestance.schema import Annotation

SPLITS = ("train", "validation", "test")


def article_groups(rows: list[Annotation]) -> dict[str, str]:
    """Map each doc_id to a group id; docs sharing any normalised sentence share a group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_doc: dict[str, str] = {}
    for row in rows:
        find(row.doc_id)
        key = normalize(row.sentence)
        if key in first_doc:
            a, b = find(first_doc[key]), find(row.doc_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_doc[key] = row.doc_id
    return {doc: find(doc) for doc in sorted(parent)}


def grouped_split(rows: list[Annotation], fractions: dict[str, float], seed: int,
                  train_only: Sequence[str] = ()) -> dict[str, list[Annotation]]:
    """Assign every row to a split; deterministic for the same rows, fractions, seed and train_only globs."""
    missing = [s for s in SPLITS if s not in fractions]
    if missing:
        raise ValueError(f"split fractions missing {missing}; give {', '.join(SPLITS)}")
    total_fraction = sum(fractions[s] for s in SPLITS)
    if total_fraction <= 0 or any(fractions[s] < 0 for s in SPLITS):
        raise ValueError(f"split fractions must be non-negative and sum above 0, got {dict(fractions)}")
    share = {s: fractions[s] / total_fraction for s in SPLITS}

    group_of = article_groups(rows)
    members: dict[str, list[Annotation]] = defaultdict(list)
    for row in rows:
        members[group_of[row.doc_id]].append(row)
    forced = {group_of[doc] for doc in group_of if any(fnmatchcase(doc, pattern) for pattern in train_only)}
    pinned = [r for g in sorted(forced) for r in members.pop(g)]
    # Placement looks at the primary rows only: rows that complete the target matrix follow their
    # article, so adding them leaves the split (and every score on it) as it was.
    by_group = {g: [r for r in group if r.primary] or group for g, group in members.items()}
    rows = [r for group in by_group.values() for r in group]
    order = sorted(by_group)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda g: -len(by_group[g]))  # stable: equal sizes keep the seeded order

    strata = sorted({(r.target, r.label) for r in rows})
    totals = Counter((r.target, r.label) for r in rows)
    counts = {s: Counter() for s in SPLITS}
    sizes = Counter()
    n_rows = len(rows)
    assigned: dict[str, list[Annotation]] = {s: [] for s in SPLITS}
    for group in order:
        group_counts = Counter((r.target, r.label) for r in by_group[group])

        def cost(split: str) -> float:
            # Squared relative shortfall/excess per stratum plus overall size, after placing the group.
            c = 0.0
            for s in SPLITS:
                extra = group_counts if s == split else Counter()
                for k in strata:
                    want = share[s] * totals[k]
                    c += ((counts[s][k] + extra[k] - want) / (totals[k] or 1)) ** 2
                size = sizes[s] + (len(by_group[group]) if s == split else 0)
                c += 4 * ((size - share[s] * n_rows) / n_rows) ** 2
            return c

        best = min((s for s in SPLITS if share[s] > 0), key=lambda s: (cost(s), SPLITS.index(s)))
        counts[best].update(group_counts)
        sizes[best] += len(by_group[group])
        assigned[best].extend(members[group])
    assigned["train"].extend(pinned)
    return assigned
