"""Page cleaning on pages the rules were not written from: furniture dropped, body sentences kept whole.

    python benchmarks/pages.py            # or: make bench-pages; writes benchmarks/pages.json

``data/pages/blind/*.txt`` are scraped-looking pages modelled on other outlets' layouts, written by
people who never saw the furniture rules or the corpus; each ``*.gold.json`` lists the page's body
sentences and its furniture lines. A furniture line counts as dropped when no output sentence
comes from it; a body sentence counts as kept whole when it is one output sentence exactly (a wire
dateline cut off the lead on purpose, "PARIS (MP) - ", still counts as whole).

The development part (rules were added from its leaks): the first writer's pages (``h1-*``, 11 pages,
4 layouts, session 3), two later writers' (``h4-*``, ``h5-*``, 16 pages, 16 kinds of outlet,
session 6), two more (``h6-*``, ``h7-*``, 16 pages, session 7) and two more (``h8-*``, ``h9-*``, 16 pages,
session 8). The learned line classifier learns from the development part's gold labels. The test part: the other two session-3 writers' pages (``h2-*``, ``h3-*``, 22 pages,
8 layouts), reported, never read line by line to change the rules.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "data" / "pages" / "blind"
PARTS = {"dev": ("h1-", "h4-", "h5-", "h6-", "h7-", "h8-", "h9-"), "test": ("h2-", "h3-")}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def score_page(page: Path, learned: bool) -> dict:
    from peacestance.data.articles import split_article, strip_dateline

    gold = json.loads(page.with_suffix(".gold.json").read_text(encoding="utf-8"))
    out = [_norm(s) for s in split_article(page.read_text(encoding="utf-8"), learned=learned)]
    kept = set(out)
    body = [_norm(s) for s in gold["body_sentences"]]
    furniture = [_norm(line) for line in gold["furniture_lines"]]
    # the cleaner cuts a wire dateline ("PARIS (MP) - ") off the lead on purpose: the sentence is whole without it
    whole = set(body) | {strip_dateline(s) for s in body}
    # leaked: an output sentence came from the line (is part of it), or the line was glued into a sentence;
    # a body sentence kept whole that merely names the line's words ("the Multinational Force Ukraine"
    # beside a tag line of that name) is not a glued line
    leaked = [line for line in furniture
              if any(s and (s in line or (len(line.split()) >= 3 and line in s and s not in whole)) for s in out)]
    broken = [s for s in body if s not in kept and strip_dateline(s) not in kept]
    return {"page": page.stem, "layout": gold.get("layout", ""), "body": len(body), "body_whole": len(body) - len(broken),
            "furniture": len(furniture), "furniture_dropped": len(furniture) - len(leaked),
            "leaked": leaked, "broken": broken}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=PAGES)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "pages.json")
    parser.add_argument("--show", action="store_true", help="print every leaked furniture line and broken sentence")
    args = parser.parse_args(argv)
    pages = sorted(p for p in args.pages.glob("*.txt") if p.with_suffix(".gold.json").is_file())
    if not pages:
        print(f"no pages with gold files in {args.pages}", file=sys.stderr)
        return 2
    results = {}
    for name, learned in (("rules", False), ("rules+learned", True)):
        rows = [score_page(p, learned) for p in pages]
        results[name] = {"per_page": rows}
        for part, prefixes in PARTS.items():
            chosen = [r for r in rows if r["page"].startswith(prefixes)]
            if not chosen:
                continue
            body, whole = sum(r["body"] for r in chosen), sum(r["body_whole"] for r in chosen)
            furn, dropped = sum(r["furniture"] for r in chosen), sum(r["furniture_dropped"] for r in chosen)
            results[name][part] = {"pages": len(chosen), "layouts": len({r["layout"] for r in chosen}),
                                   "body_sentences": body, "body_kept_whole": whole / body,
                                   "furniture_lines": furn, "furniture_dropped": dropped / furn}
            print(f"{name:<14} {part:<5} pages {len(chosen):>2}  furniture dropped {dropped}/{furn} = {dropped / furn:.3f}"
                  f"   body kept whole {whole}/{body} = {whole / body:.3f}")
        if args.show:  # the development part only: the test part is not read line by line
            for r in (r for r in rows if r["page"].startswith(PARTS["dev"])):
                for line in r["leaked"]:
                    print(f"  leaked  {r['page']}: {line[:110]}")
                for s in r["broken"]:
                    print(f"  broken  {r['page']}: {s[:110]}")
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
