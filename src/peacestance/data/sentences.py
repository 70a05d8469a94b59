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
    return _BACKENDS[name]()


def _split_after_country_abbrev(piece: str) -> list[str]:
    """Split "... from the U.S. Europe cannot ..." where the backend saw an abbreviation only."""
    out, start = [], 0
    for match in _COUNTRY_ABBREV.finditer(piece):
        if match.group(2) not in _ABBREV_MODIFIES:
            out.append(piece[start:match.end(1)])
            start = match.end()
    out.append(piece[start:])
    return out


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
                or (last_word == "no." and piece[:1].isdigit())
                or re.fullmatch(r"(\w\.)", last_word)  # a lone initial: "Timothy D."
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
