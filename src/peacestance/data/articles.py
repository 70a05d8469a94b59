"""Read raw news pages (txt, Markdown, HTML, JSONL) and strip page furniture.

The output of this module is a :class:`Page`: a title and the body paragraphs
that hold article prose, plus a count of every furniture line dropped, by kind.
:func:`split_article` is the public one-call path from a raw page to its clean
body sentences; prepare, predict's whole-article analysis and the corpus tests
all go through it, so a labelled sentence is always found the way it is served.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from peacestance.data.jsonl import iter_json_objects
from peacestance.data.furniture import classify_line, is_link_list_heading, is_video_promo, looks_like_byline
from peacestance.data.sentences import DEFAULT_SEGMENTER, split_sentences
from peacestance.errors import DataError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)
PAGE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES

_TERMINAL = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_MD_DECORATION = re.compile(r"^(\*{3,}|-{3,}|_{3,}|>+)\s*$")
# "PARIS, Jan 6 (Eurowire) - ", "KYIV — ", "BRUSSELS/KYIV, 4 September (BPS) – "
_DATELINE = re.compile(
    r"^(?!(?:NATO|EU|UN|US|UK|OSCE|G7|G20)\b)[A-Z][A-Z.'’/ -]{2,40}"
    r"(,\s*[A-Z][A-Za-z.'’ -]{1,25}(?=\s*[,(–—-]))?"
    r"(,\s*(?:[A-Z][a-z]{2,9}\.?\s+\d{1,2}|\d{1,2}\s+[A-Z][a-z]{2,9})(?:,?\s*\d{4})?)?"
    r"\s*(\([^()]{1,40}\))?\s*[-–—]+\s+(?=\S)"
)
_MAX_HEADING_WORDS = 12
# A promo block is its label line plus a short blurb: one line when the label line carries the
# promo's title, two when the label stands alone ("WATCH" / title / blurb). Bounded, and never a
# long line of prose, because pages without blank lines would otherwise lose what follows a promo.
_PROMO_BLURB_LINES = 2
_PROMO_BLURB_MAX_WORDS = 30


# Under a "Related" / "More from X" heading, the next short lines are links, until a blank line or prose
# (a line over _LINK_MAX_WORDS words, or a sentence with a full stop of at least _LINK_PROSE_WORDS words:
# a link is a headline, and headlines rarely end in a full stop).
_LINK_LIST_MAX_LINES = 8
_LINK_MAX_WORDS = 20
_LINK_PROSE_WORDS = 15


# A standfirst is at most this long, and a byline must follow within this many lines.
_STANDFIRST_MAX_WORDS = 45
_STANDFIRST_LOOKAHEAD = 4


def _is_standfirst(lines: list[str], i: int, sure_furniture: frozenset[str]) -> bool:
    """A line before any body text whose next lines, all furniture, reach a byline.

    That is the page head: headline, standfirst (dek), byline, date. A standfirst is written as
    prose, so only where it stands tells it from the article's lead.
    """
    if len(lines[i].split()) > _STANDFIRST_MAX_WORDS or _opens_with_dateline(lines[i]):
        return False
    ahead = [line for line in lines[i + 1:] if line][:_STANDFIRST_LOOKAHEAD]
    for line in ahead:
        kind = classify_line(line)
        if looks_like_byline(line, kind):  # not a timestamp: a live blog's first entry is followed by the next one's time
            return True
        if kind is None and line not in sure_furniture:
            return False
    return False


# A paragraph of one or two sentences this short, between two prose lines, is the writer's
# ("Is that realistic?", "This is real progress. It is also conditional in almost every direction.").
# Only between prose: under a headline, short whole sentences are as often a player's or an app's
# prompt ("Enable JavaScript to watch this video.").
_SHORT_PARAGRAPH_WORDS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# An interview's turns ("Q: Will Polish soldiers go?"): prose of the article, however short.
INTERVIEW_TURN = re.compile(r"^(Q|A)\s*(:|[-–—]\s)")


def _short_paragraph_in_prose(line: str, above_fate: str, below: list[str]) -> bool:
    """Short whole sentences with prose on both sides: the learned model, which reads one line at a
    time, takes such lines for furniture (comment prompts and tags are short too), so it may not drop them."""
    sentences = _SENTENCE_END.split(line)
    if (above_fate != "body" or ":" in line or len(sentences) > 2 or not _TERMINAL.search(line)
            or any(len(s.split()) > _SHORT_PARAGRAPH_WORDS for s in sentences)):
        return False
    after = next((b for b in below if b), "")
    return not after or (classify_line(after) is None and _TERMINAL.search(after) is not None)


def _promo_lines_after(label_line: str) -> int:
    return _PROMO_BLURB_LINES - 1 if len(label_line.split()) >= 3 else _PROMO_BLURB_LINES


@dataclass
class Page:
    """One article after furniture removal."""

    doc_id: str
    title: str
    paragraphs: list[str]
    dropped: Counter = field(default_factory=Counter)
    source: str = ""
    date: str = ""
    path: str = ""


def strip_dateline(paragraph: str) -> str:
    """Remove a wire dateline ("PARIS, Jan 6 (Eurowire) - ") from the start of a paragraph."""
    match = _DATELINE.match(paragraph)
    if match and any(ch.isalpha() for ch in match.group(0)):
        return paragraph[match.end():]
    return paragraph


def _opens_with_dateline(line: str) -> bool:
    return strip_dateline(line) != line


#: whether page cleaning for prediction (split_article, analyze) uses the learned line classifier too
LEARNED_DEFAULT = True
_PLAIN_SENTENCE = re.compile(r"[.][\"'”’)\]]*$")


def _looks_like_title(line: str) -> bool:
    """A heading, or a line that does not end like a sentence of running text (at least 8 words and a full stop)."""
    if _MD_HEADING.match(line):
        return True
    return not (_PLAIN_SENTENCE.search(line) and len(line.split()) >= 8)


def _question_heading(above: str, below: str, above_fate: str) -> bool:
    """A short question on its own line is a heading, not prose, when its neighbours say so.

    Standing alone between blank lines (a Q&A or explainer section); right under a live-blog
    timestamp (the entry's heading, even with the entry's text on the next line); or inside a
    block of dropped lines that runs on into another unterminated line (a list of related links).
    """
    if not above and not below:
        return True
    if above_fate == "timestamp":  # what clean_text already decided for the line above, not classified again
        return True
    return bool(above) and above_fate not in ("", "body", "title") and bool(below) and _TERMINAL.search(below) is None


def clean_text(text: str, title: str | None = None, may_wrap: bool = True, learned: bool = False,
               trace: list[tuple[str, str]] | None = None) -> tuple[str, list[str], Counter]:
    """Split a text page into (title, body paragraphs, dropped-line counts).

    When ``title`` is None the first line that is not furniture is the title
    (a ``# `` Markdown heading or a plain line); JSONL pages pass theirs in.
    ``may_wrap=False`` says each line is a whole paragraph (text extracted from
    HTML), so a line without a sentence end is always a heading. ``learned=True``
    also drops the lines the learned classifier is sure are furniture (``line_model``).
    ``trace`` collects (line, what became of it) for every non-blank line.
    """
    from peacestance.data import line_model

    given_title, traced = title, len(trace) if trace is not None else 0
    fate = ""  # what became of the line just above ("" after a blank line)
    last = ""  # what became of the last non-blank line

    def note(line: str, what: str) -> None:
        nonlocal fate, last
        fate = last = what
        if trace is not None:
            trace.append((line, what))

    dropped: Counter = Counter()
    paragraphs: list[str] = []
    current: list[str] = []
    promo_left = 0  # lines of a promo block still to drop
    links_left = 0  # lines of a list of links still to drop

    def close() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    lines = [raw.strip() for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    sure = line_model.sure_furniture(lines) if learned else frozenset()  # what the learned model drops
    for i, line in enumerate(lines):
        if not line or _MD_DECORATION.match(line):
            # a blank line right under a promo's label does not end the promo: pages with a blank
            # line between all lines put the blurb below one
            promo_left = min(promo_left, 1) if fate == "video" and not line else 0
            links_left = 0
            close()
            fate = "" if not promo_left else fate
            continue
        kind = classify_line(line)
        if promo_left and (len(line.split()) > _PROMO_BLURB_MAX_WORDS or (kind and kind != "video")):
            # (a duration line under the label is part of the block, and takes the blurb's place: the
            # corpus has "VIDEO: title" / "2:05" / body paragraph)
            promo_left = 0  # prose, or furniture of another kind: the promo's blurb has ended
        if links_left and (len(line.split()) > _LINK_MAX_WORDS or _opens_with_dateline(line)
                           or (line.endswith(".") and len(line.split()) >= _LINK_PROSE_WORDS)):
            links_left = 0  # prose again: the list has ended
        if links_left:
            links_left -= 1
            promo_left = _promo_lines_after(line) if is_video_promo(line) else promo_left  # a promo among the links
            dropped["link_list"] += 1
            note(line, "link_list")
            continue
        if promo_left:
            promo_left -= 1
            dropped["video"] += 1
            note(line, "video")
            continue
        # A wire dateline opens the story's body: the learned model never drops that line.
        if (not kind and learned and title is not None and not _opens_with_dateline(line)
                and not INTERVIEW_TURN.match(line) and not _short_paragraph_in_prose(line, last, lines[i + 1:])
                and line in sure):
            kind = "learned"
        if kind:
            dropped[kind] += 1
            promo = is_video_promo(line) or (kind == "learned" and line_model.looks_like_promo(line))
            promo_left = _promo_lines_after(line) if promo else 0
            links_left = _LINK_LIST_MAX_LINES if is_link_list_heading(line) else 0
            note(line, kind)
            close()
            continue
        if title is None:
            title = ""
            if _looks_like_title(line):
                title = _MD_HEADING.sub("", line).strip()
                note(line, "title")
                continue  # a plain text that opens with a sentence has no title: that sentence is body
        if title and _MD_HEADING.sub("", line).strip().casefold() == title.casefold():
            dropped["heading"] += 1  # the headline repeated in the body (HTML <h1> beside <title>)
            note(line, "heading")
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.endswith("?") and ":" not in line and len(line.split()) <= 8 and not current and _question_heading(
                lines[i - 1] if i else "", following, fate):
            dropped["heading"] += 1
            note(line, "heading")
            continue
        unterminated = _TERMINAL.search(line) is None
        if unterminated and not may_wrap:
            wrapped = False
        elif unterminated and not following:
            wrapped = False  # a line that ends its block without a sentence end: heading, bio, tagline
        elif unterminated and len(line.split()) > _MAX_HEADING_WORDS:
            # a long line running on into the next is hard-wrapped prose, unless what follows is furniture
            # (a standfirst under the headline, then the byline)
            wrapped = classify_line(following) is None
        else:
            wrapped = bool(following) and following[0].islower()
        if _MD_HEADING.match(line) or (unterminated and not wrapped):
            # An unterminated line is a subheading or a tagline, unless prose visibly continues.
            dropped["heading"] += 1
            note(line, "heading")
            close()
            continue
        if not paragraphs and not current and _is_standfirst(lines, i, sure):
            dropped["standfirst"] += 1
            note(line, "standfirst")
            continue
        note(line, "body")
        current.append(line)
    close()
    body = []
    for i, paragraph in enumerate(paragraphs):
        paragraph = strip_dateline(paragraph) if i == 0 else paragraph
        if paragraph.strip():
            body.append(paragraph)
    if not body and dropped["learned"]:
        # A page is there for its article: if the learned model leaves nothing, it was wrong about a
        # line (a short text of headline-like sentences), so the page keeps what the rules keep.
        if trace is not None:
            del trace[traced:]
        return clean_text(text, title=given_title, may_wrap=may_wrap, learned=False, trace=trace)
    return title or "", body, dropped


def html_to_text(html: str, source: str = "<html>") -> tuple[str, str]:
    """Extract (title, main text) from an HTML page with trafilatura, a kept boilerplate remover."""
    import trafilatura

    extracted = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=False, include_images=False, favor_precision=True,
        with_metadata=True,
    )
    text = getattr(extracted, "text", None) if extracted is not None else None
    if not text or not text.strip():
        raise DataError("HTML page has no article body that trafilatura could extract", path=source)
    title = getattr(extracted, "title", None) or ""
    return title.strip(), text


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in text[:2000].lower()


def split_article(page_text: str, segmenter: str = DEFAULT_SEGMENTER, learned: bool = LEARNED_DEFAULT) -> list[str]:
    """Return the clean body sentences of one raw page, in order.

    Accepts a text or Markdown page as a scraper gives it (title, navigation,
    captions, promos, hashtags, source lines) or a whole HTML document.
    ``learned``: also drop what the learned line classifier is sure is furniture.
    """
    if looks_like_html(page_text):
        title, text = html_to_text(page_text)
        _, paragraphs, _ = clean_text(text, title=title, may_wrap=False, learned=learned)
    else:
        _, paragraphs, _ = clean_text(page_text, learned=learned)
    return [s for p in paragraphs for s in split_sentences(p, segmenter)]


def page_sentences(page: Page, segmenter: str = DEFAULT_SEGMENTER) -> list[str]:
    return [s for p in page.paragraphs for s in split_sentences(p, segmenter)]


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read page: {exc.strerror}", path=path) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"not UTF-8 (byte {exc.start}); re-save the file as UTF-8", path=path, line=line) from exc
    if not text.strip():
        raise DataError("empty page", path=path)
    _check_control_characters(text, path)
    return text


MAX_CONTROL_SHARE = 0.001  # of a page's characters: a stray one is noise, more is a binary or corrupt file


def _check_control_characters(text: str, path: Path) -> None:
    """Valid UTF-8 full of control bytes is not a page: stop (or skip, with data.on_bad_page) naming the first."""
    controls = [i for i, ch in enumerate(text) if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"]
    if controls and len(controls) > max(2, MAX_CONTROL_SHARE * len(text)):
        line = text.count("\n", 0, controls[0]) + 1
        raise DataError(f"{len(controls)} control characters (first U+{ord(text[controls[0]]):04X}); a binary or "
                        "corrupt file, not a page", path=path, line=line)


def _page_from_text(doc_id: str, text: str, path: Path, title: str | None = None, line: int | None = None,
                    may_wrap: bool = True, **meta: str) -> Page:
    title, paragraphs, dropped = clean_text(text, title=title, may_wrap=may_wrap)
    if not paragraphs:
        raise DataError("page has no body paragraphs after removing furniture", path=path, line=line)
    return Page(doc_id=doc_id, title=title, paragraphs=paragraphs, dropped=dropped, path=str(path), **meta)


def read_page_file(path: Path) -> Iterator[Page]:
    """Yield the pages in one file: one for txt/md/html, one per line for JSONL."""
    suffix = path.suffix.lower()
    text = _read_text(path)
    if suffix in TEXT_SUFFIXES:
        yield _page_from_text(path.stem, text, path)
    elif suffix in HTML_SUFFIXES:
        title, body = html_to_text(text, source=str(path))
        yield _page_from_text(path.stem, body, path, title=title, may_wrap=False)
    elif suffix in JSONL_SUFFIXES:
        yield from _read_jsonl_pages(path, text)
    else:
        raise DataError(f"unsupported page type {suffix!r}; use one of {', '.join(PAGE_SUFFIXES)}", path=path)


def _read_jsonl_pages(path: Path, text: str) -> Iterator[Page]:
    for number, record in iter_json_objects(text, path):
        for key in ("id", "text"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise DataError("missing or empty string", path=path, line=number, field=key)
        yield _page_from_text(record["id"], record["text"], path, title=str(record.get("title") or ""), line=number,
                              source=str(record.get("source") or ""), date=str(record.get("date") or ""))


def iter_pages(folder: Path, on_error: str = "raise") -> Iterator[Page | DataError]:
    """Yield every page under ``folder`` in a stable (sorted) order.

    With ``on_error="skip"`` a bad file yields its :class:`DataError` instead of
    raising, so the caller can warn, count and carry on.
    """
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in PAGE_SUFFIXES)
    if not files:
        raise DataError(f"no pages found (looked for {', '.join(PAGE_SUFFIXES)})", path=folder)
    for path in files:
        try:
            yield from read_page_file(path)
        except DataError as exc:
            if on_error != "skip":
                raise
            yield exc
