"""The team's boilerplate cases: furniture is named by kind, prose is left alone."""

from pathlib import Path

import pytest
import yaml

from peacestance.data.articles import clean_text, strip_dateline
from peacestance.data.furniture import classify_line

CASES = yaml.safe_load((Path(__file__).parent / "data" / "furniture_cases.yaml").read_text(encoding="utf-8"))


def test_there_are_at_least_15_furniture_cases():
    assert sum(1 for _, kind in CASES if kind) >= 15


@pytest.mark.parametrize(("line", "kind"), CASES, ids=[c[0][:40] for c in CASES])
def test_classify_line(line, kind):
    assert classify_line(line) == kind


def test_video_promo_block_drops_title_and_blurb():
    title, body, dropped = clean_text("# T\n\nWATCH: Leaders in Paris\nThe summit in two minutes.\n2:41\n\nReal prose follows here.")
    assert body == ["Real prose follows here."]
    assert dropped["video"] == 3


@pytest.mark.parametrize(("paragraph", "want"), [
    ("PARIS, Jan 6 (Eurowire) - Leaders met.", "Leaders met."),
    ("KYIV — Ukraine's minister spoke.", "Ukraine's minister spoke."),
    ("BRUSSELS/KYIV, 4 September (BPS) – Allies met.", "Allies met."),
    ("NATO said on Friday it would help.", "NATO said on Friday it would help."),
])
def test_strip_dateline(paragraph, want):
    assert strip_dateline(paragraph) == want


def test_subheading_and_title_are_not_body():
    title, body, dropped = clean_text("Allies agree on a plan\n\nFirst paragraph here.\n\nWhat happens next\n\nSecond one.")
    assert title == "Allies agree on a plan"
    assert body == ["First paragraph here.", "Second one."]
    assert dropped["heading"] == 1


def test_hard_wrapped_paragraph_is_joined():
    _, body, _ = clean_text("# T\n\nThe coalition of the willing met again on Tuesday in a long session\nthat ended with a short statement.")
    assert body == ["The coalition of the willing met again on Tuesday in a long session that ended with a short statement."]


def test_short_wrapped_line_joins_its_continuation():
    _, body, _ = clean_text("# T\n\nThe coalition met on Tuesday\nand agreed on a plan.\n\n## Next steps\n\nMore prose.")
    assert body == ["The coalition met on Tuesday and agreed on a plan.", "More prose."]


def test_author_bio_without_sentence_end_is_not_body():
    _, body, dropped = clean_text("# T\n\nProse that ends well.\n\nFiona Ashcombe is a former defence correspondent and a columnist for The Ledger\n")
    assert body == ["Prose that ends well."]
    assert dropped["bio"] == 1  # named by the bio rule (before it existed, dropped as an unterminated heading)


@pytest.mark.parametrize(("paragraph", "want"), [
    ("HANOVER, Germany — On the first Sunday I stood in a church.", "On the first Sunday I stood in a church."),
    ("NATO — the alliance says — will not take part.", "NATO — the alliance says — will not take part."),
])
def test_dateline_with_region_and_acronym_guard(paragraph, want):
    assert strip_dateline(paragraph) == want


def test_headline_repeated_in_body_is_dropped_even_with_a_question_mark():
    _, body, dropped = clean_text("Who will guard the ceasefire?\n\nProse follows here.", title="Who will guard the ceasefire?")
    assert body == ["Prose follows here."]
    assert dropped["heading"] == 1


def test_question_under_a_live_blog_timestamp_is_the_entry_heading_even_with_text_right_below():
    _, body, dropped = clean_text("# Live: talks in Paris\n\n2h ago\nWhat is in the declaration?\n"
                                  "The text commits signatories to binding guarantees after a ceasefire.")
    assert body == ["The text commits signatories to binding guarantees after a ceasefire."]
    assert dropped["timestamp"] == 1 and dropped["heading"] == 1


def test_question_inside_a_list_of_related_links_is_dropped_but_a_question_in_prose_is_kept():
    page = ("# Allies weigh a force\n\nMost viewed\nStorm hits the north\nWhy are egg prices rising again?\n"
            "The winners in full\n\nWill the allies send troops?\nMinisters said they would decide in March.\n\n"
            "Prose ends here.")
    _, body, _ = clean_text(page)
    assert body == ["Will the allies send troops? Ministers said they would decide in March.", "Prose ends here."]


def test_a_promo_block_ends_after_its_blurb_even_without_a_blank_line():
    # Pages dumped without blank lines: a promo used to swallow everything up to the next blank line.
    page = ("# Talks in Geneva\nVIDEO | Envoys arrive in Geneva\nThe delegations in ninety seconds.\n"
            "Negotiators from three countries met in Geneva on Wednesday for a third round of talks.\n"
            "Listen to article (6 min)\nLink Copied\n"
            "The talks ended without a breakthrough, according to two officials familiar with them, and "
            "the sides agreed to meet again in March after consulting their capitals about the draft.")
    _, body, dropped = clean_text(page)
    assert body == ["Negotiators from three countries met in Geneva on Wednesday for a third round of talks.",
                    "The talks ended without a breakthrough, according to two officials familiar with them, and "
                    "the sides agreed to meet again in March after consulting their capitals about the draft."]
    assert dropped["video"] == 2


def test_short_lines_under_a_link_list_heading_are_links_until_prose_returns():
    page = ("# Allies weigh a force\n\nThe first paragraph of the story is here.\nMore from Eurowire\n"
            "How many troops could Europe send?\nPutin and Trump met in Alaska. Here is what was agreed\n"
            "Ministers said on Tuesday that planners from more than twenty countries would meet in Paris next week "
            "to turn the pledges into a plan.")
    _, body, dropped = clean_text(page)
    assert body == ["The first paragraph of the story is here.",
                    "Ministers said on Tuesday that planners from more than twenty countries would meet in Paris next week "
                    "to turn the pledges into a plan."]
    assert dropped["link_list"] == 3


def test_a_standfirst_above_the_byline_is_dropped_but_a_lead_above_a_timestamp_is_kept():
    page = ("# Trump rules out ground troops\nThe remarks came a day after a White House meeting with European leaders.\n"
            "By Dana Whitcombe\nThe president ruled out American ground troops on Tuesday but left air support open.")
    _, body, dropped = clean_text(page)
    assert body == ["The president ruled out American ground troops on Tuesday but left air support open."]
    assert dropped["standfirst"] == 1
    live = ("# Talks in Berlin - live\n10:05\nEnvoys are back at the chancellery this morning for a second round.\n"
            "Share this post\n09:40\nThe first round lasted five hours.")
    _, body, _ = clean_text(live)
    assert body == ["Envoys are back at the chancellery this morning for a second round.", "The first round lasted five hours."]


def test_a_promo_blurb_below_a_blank_line_is_dropped_and_the_story_resumes_after_it():
    # Pages with a blank line between all lines put the promo's blurb one blank line under its label.
    page = ("# Coalition meets in Paris\n\nLeaders of the coalition met in Paris on Tuesday.\n\n"
            "WATCH: What would a reassurance force do?\n\nOur correspondent explains the three layers of the plan.\n\n"
            "Moscow rejected the plan within hours, the foreign ministry said.")
    _, body, dropped = clean_text(page)
    assert body == ["Leaders of the coalition met in Paris on Tuesday.",
                    "Moscow rejected the plan within hours, the foreign ministry said."]
    assert dropped["video"] == 2


def test_a_link_list_ends_at_a_long_sentence_and_a_promo_inside_it_keeps_its_blurb_out():
    page = ("# Envoys in Berlin\nRelated\nEurope sketches a force for Ukraine\n"
            "The chancellor, who hosted the meeting, called the American offer a serious step toward lasting guarantees.\n"
            "Recommended Stories\nWhy is the UAE hosting the talks?\nVideo · Oil edges up as traders watch Abu Dhabi\n"
            "Analysts see only a small chance of a truce this quarter.")
    _, body, dropped = clean_text(page)
    assert body == ["The chancellor, who hosted the meeting, called the American offer a serious step toward lasting guarantees."]
    assert dropped["link_list"] == 5  # a link, the second heading, a link, the promo and its blurb
