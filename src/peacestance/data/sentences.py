"""Sentence segmentation for news prose.

A kept segmenter does the heavy lifting (chosen by ``benchmarks/segmenters.py``
on the team's cases in ``tests/data/segmentation_cases.yaml``); a thin layer of
rules repairs the two mistakes news text provokes most: a split before a
lower-case continuation (``"Never!" the deputy shouted.``) and a split after a
title or abbreviation that can never end a sentence (``Gen.``, ``Sen.``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

DEFAULT_SEGMENTER = "syntok"

# Abbreviations that, in news prose, are always followed by more of the same sentence.
_NEVER_FINAL = {
    "mr.", "mrs.", "ms.", "dr.", "gen.", "lt.", "col.", "maj.", "capt.", "sgt.", "adm.", "sen.", "rep.", "gov.",
    "pres.", "prof.", "st.", "vs.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.",
    "oct.", "nov.", "dec.", "ft.", "mt.", "fig.", "approx.",
}
# "U.S." ends a sentence unless the next word is one that it modifies ("U.S. President").
_COUNTRY_ABBREV = re.compile(r"\b(U\.S\.|U\.K\.|E\.U\.|U\.N\.)\s+(?=([A-Z][A-Za-z'’]*))")
_ABBREV_MODIFIES = {
    "President", "Vice", "Secretary", "Senator", "Sen", "Rep", "Representative", "Congress", "Senate", "House",
    "Army", "Navy", "Air", "Marines", "Marine", "Forces", "Force", "Defense", "Department", "State", "Treasury",
    "Embassy", "Ambassador", "Envoy", "Special", "General", "Gen", "Admiral", "Administration", "Government",
    "National", "Supreme", "Capitol", "Central", "Intelligence", "Joint", "European", "Command", "Commander",
    "Secretary-General", "Security", "Charter", "Mission", "Patriot", "Patriots", "Treasury", "Justice", "Trade",
    "Foreign", "Prime", "Minister", "Chancellor", "Parliament", "Strategic", "Cabinet", "Chief", "Chiefs",
    "Democrats", "Republicans", "Democratic", "Republican", "Olympic", "Open", "Navy's", "Army's",
}
# '"...?" Estonia's foreign minister wrote.': an attribution after a quoted question or exclamation.
_QUOTE_END = re.compile(r"[?!][\"'”’]$")
_ATTRIBUTION = re.compile(
    r"^([A-Z][\w'’.-]*,?\s+){0,7}(said|says|asked|asks|wrote|writes|told|tells|added|adds|replied|shouted|"
    r"insisted|warned|tweeted|posted|declared|argued|noted|quipped|joked|wondered)\b"
)
_LOWER_START = re.compile(r"^[\"'“”‘’(\[]*[a-z]")
_OPENING_ONLY = re.compile(r"^[\"'“”‘’)\]]+$")


def _pysbd() -> Callable[[str], list[str]]:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)
    return lambda text: seg.segment(text)


def _syntok() -> Callable[[str], list[str]]:
    from syntok import segmenter

    def split(text: str) -> list[str]:
        out = []
        for paragraph in segmenter.analyze(text):
            for sentence in paragraph:
                # syntok tokens keep their leading whitespace in `spacing`.
                out.append("".join(tok.spacing + tok.value for tok in sentence).strip())
        return out

    return split


def _blingfire() -> Callable[[str], list[str]]:
    import blingfire

    return lambda text: blingfire.text_to_sentences(text).split("\n")


def _sentencex() -> Callable[[str], list[str]]:
    from sentencex import segment

    return lambda text: list(segment("en", text))


_BACKENDS: dict[str, Callable[[], Callable[[str], list[str]]]] = {
    "pysbd": _pysbd,
    "syntok": _syntok,
    "blingfire": _blingfire,
    "sentencex": _sentencex,
}
SEGMENTERS: tuple[str, ...] = tuple(_BACKENDS)


@lru_cache(maxsize=None)
def _backend(name: str) -> Callable[[str], list[str]]:
    if name not in _BACKENDS:
        raise ValueError(f"unknown segmenter {name!r}; choose one of {', '.join(_BACKENDS)}")
    try:
        return _BACKENDS[name]()
    except ImportError as exc:  # syntok ships with the core install; the others come with the [corpus] extra
        raise ImportError(f"segmenter {name!r} is not installed ({exc.name}): pip install 'peacestance[corpus]'") from None


# "... wrote on X. Latvia ...": a lone capital after a lower-case word is a name (X, Plan B), not an initial.
_LONE_CAPITAL_END = re.compile(r"(?<=\s)([a-z]+\s+[A-Z]\.)\s+(?=[A-Z\"“])")


def _split_after_country_abbrev(piece: str) -> list[str]:
    """Split "... from the U.S. Europe cannot ..." where the backend saw an abbreviation only."""
    cuts = [m.end(1) for m in _COUNTRY_ABBREV.finditer(piece) if m.group(2) not in _ABBREV_MODIFIES]
    cuts += [m.end(1) for m in _LONE_CAPITAL_END.finditer(piece)]
    out, start = [], 0
    for cut in sorted(cuts):
        out.append(piece[start:cut])
        start = cut
    out.append(piece[start:])
    return [p.strip() for p in out]


def _after_initial(text: str) -> bool:
    """True when text ends in a middle initial of a name ("Timothy D."), not "on X." or "Plan B."."""
    words = text.split()
    return (len(words) >= 2 and re.fullmatch(r"[A-Z]\.", words[-1]) is not None
            and words[-2][:1].isupper() and not words[-2].endswith((".", ",", ";")))


def _repair(pieces: list[str]) -> list[str]:
    """Merge pieces the backend split where news prose does not end a sentence, split where it missed one."""
    out: list[str] = []
    pieces = [part for piece in pieces for part in _split_after_country_abbrev(piece)]
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if out:
            last_word = out[-1].rsplit(None, 1)[-1].lower()
            if (
                _LOWER_START.match(piece)
                or _OPENING_ONLY.match(piece)
                or last_word in _NEVER_FINAL
                or out[-1].endswith(";")
                or (last_word == "no." and piece[:1].isdigit())
                or (_QUOTE_END.search(out[-1]) and _ATTRIBUTION.match(piece))
                or _after_initial(out[-1])
            ):
                out[-1] = f"{out[-1]} {piece}" if not _OPENING_ONLY.match(piece) else out[-1] + piece
                continue
        out.append(piece)
    return out


def split_sentences(paragraph: str, segmenter: str = DEFAULT_SEGMENTER, repair: bool = True) -> list[str]:
    """Split one paragraph of prose into sentences, in order, whitespace-trimmed."""
    text = " ".join(paragraph.split())
    if not text:
        return []
    pieces = _backend(segmenter)(text)
    return _repair(pieces) if repair else [p.strip() for p in pieces if p.strip()]
