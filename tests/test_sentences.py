"""The team's segmentation cases, run through the segmenter prepare uses."""

from pathlib import Path

import pytest
import yaml

from peacestance.data import split_article, split_sentences
from peacestance.data.sentences import DEFAULT_SEGMENTER, SEGMENTERS

CASES = yaml.safe_load((Path(__file__).parent / "data" / "segmentation_cases.yaml").read_text(encoding="utf-8"))


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_segmentation_case(case):
    assert split_sentences(case["text"]) == case["want"]


def test_default_segmenter_is_a_kept_library():
    assert DEFAULT_SEGMENTER in SEGMENTERS


def test_unknown_segmenter_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown segmenter 'nltk'.*syntok"):
        split_sentences("One. Two.", segmenter="nltk")


def test_split_article_keeps_order_and_drops_title_and_furniture():
    page = "\n".join([
        "Skip to content",
        "# Allies weigh a force for the day after",
        "By Anna Kowalczyk",
        "",
        "PARIS, Jan 6 (Eurowire) - Leaders met in Paris. The U.S. sent two envoys.",
        "",
        "Leaders pose before talks. (Reuters)",
        "",
        "\"Not before a ceasefire,\" Macron said. Gen. Burkhard agreed.",
        "#Ukraine #Peace",
    ])
    assert split_article(page) == [
        "Leaders met in Paris.",
        "The U.S. sent two envoys.",
        "\"Not before a ceasefire,\" Macron said.",
        "Gen. Burkhard agreed.",
    ]


def test_split_article_reads_html():
    html = """<!DOCTYPE html><html><head><title>Force plan</title></head><body>
    <header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
    <article><h1>Force plan takes shape</h1>
    <p>Britain and France will lead the force. Italy ruled out sending soldiers of its own.</p>
    <p>Moscow called any deployment unacceptable, a spokesman said on Friday.</p>
    <figure><img alt="Troops on parade"><figcaption>Troops on parade. (Reuters)</figcaption></figure>
    </article><footer>Share this article. © 2026 Eurowire</footer></body></html>"""
    sentences = split_article(html)
    assert sentences[:3] == [
        "Britain and France will lead the force.",
        "Italy ruled out sending soldiers of its own.",
        "Moscow called any deployment unacceptable, a spokesman said on Friday.",
    ]
    assert not any("Reuters" in s or "Share" in s for s in sentences)


def test_html_headline_longer_than_title_is_not_glued_to_the_first_paragraph():
    html = """<!DOCTYPE html><html><head><title>Lavrov says Russia wants a deal</title></head><body><article>
    <h1>Lavrov says Russia wants a deal, but rules out any European force as Washington argues over its role</h1>
    <p>MOSCOW — Russia wants a peace agreement, Lavrov said on Tuesday. He repeated old demands.</p>
    <p>European diplomats dismissed the remarks as familiar, saying nothing in them was new at all.</p>
    </article></body></html>"""
    assert split_article(html)[:2] == ["Russia wants a peace agreement, Lavrov said on Tuesday.", "He repeated old demands."]
