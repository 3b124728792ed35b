"""html_inert: plain text that an HTML reading shows exactly as an XML reading does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser
import html5lib
import pytest
from lxml import etree

from feedsvc.feeds import FeedItem, FeedMeta, render
from feedsvc.feeds.htmltext import WORD_JOINER, html_inert
from feedsvc.feeds.xmltext import xml_safe
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.readings import as_html, corpus, feedparser_reading, visible

J = "\u2060"  # written out: the joiner the rule promises, not the module's constant

# Text a person types that no HTML parser reads as markup or as a reference: left exactly as is.
UNCHANGED = [
    "A < B",
    "Q&A",
    "AT&T",
    "5 > 3",
    "1 < 2 > 0",
    "Tom & Jerry",
    "R&D spending up 5%",
    "<3 love it",
    "<= >= <- <=>",
    "a&&b || c",
    "AT&Tab",  # "&Tab;" needs its ";" (not a legacy name)
    "&b and &c",  # no reference starts "b" or "c" (HTML's table)
    "& then some &",
    "Price <£5",  # "<" + a non-ASCII letter: text to HTML (tag open state wants ASCII)
    "<ſcript> and <İmg>",
    "\uff1cscript\uff1e",  # fullwidth look-alikes are ordinary characters
    "&é; and &_x;",  # not SGML names either
    "<\u2060b> typed with a joiner",  # already inert: nothing added
    "",
    "no markup at all",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_text_that_is_not_markup_is_left_exactly_as_typed(text: str) -> None:
    assert html_inert(text) == text


# (typed, inert): one joiner right after each "<" or "&" that would start markup or a reference.
CASES = [
    ("<script>alert(1)</script>", f"<{J}script>alert(1)<{J}/script>"),
    ("<ScRiPt>", f"<{J}ScRiPt>"),
    ("<details open ontoggle=alert(1)>x", f"<{J}details open ontoggle=alert(1)>x"),
    ('<a href="vbscript:msgbox(1)">x</a>', f'<{J}a href="vbscript:msgbox(1)">x<{J}/a>'),
    ("</ hidden>", f"<{J}/ hidden>"),  # a bogus comment in HTML: it would swallow the text
    ("</>", f"<{J}/>"),
    ("<!-- c -->", f"<{J}!-- c -->"),
    ("<![CDATA[x]]>", f"<{J}![CDATA[x]]>"),
    ("<!DOCTYPE html>", f"<{J}!DOCTYPE html>"),
    ("<?php ?>", f"<{J}?php ?>"),
    ("<>", f"<{J}>"),  # SGML's empty start tag, which sgmllib-based readers drop
    ("<<script>", f"<<{J}script>"),
    # A tag HTML never closes is dropped at the end of input: unmarked, "x<y" would show "x".
    ("x<y", f"x<{J}y"),
    ("Email <editor@example.org>", f"Email <{J}editor@example.org>"),
    ("std::vector<int>", f"std::vector<{J}int>"),
    # Named references, with ";" and the legacy ones HTML decodes without it.
    ("&lt;script&gt;", f"&{J}lt;script&{J}gt;"),
    ("&LT;b&GT;", f"&{J}LT;b&{J}GT;"),
    ("Fish &amp chips", f"Fish &{J}amp chips"),
    ("&amp;lt;", f"&{J}amp;lt;"),
    ("x &lt y", f"x &{J}lt y"),
    ("&copy 2024", f"&{J}copy 2024"),
    ("&copy2024", f"&{J}copy2024"),  # legacy names need no delimiter: "©2024"
    ("&notit;", f"&{J}notit;"),  # HTML reads "&not" + "it;": "¬it;"
    ("AT&THORN", f"AT&{J}THORN"),
    ("&Tab;&NewLine;", f"&{J}Tab;&{J}NewLine;"),
    ("&nbsp;", f"&{J}nbsp;"),
    # Numeric references, decimal and hex, any case, in or out of range.
    ("&#60;", f"&{J}#60;"),
    ("&#x3C;", f"&{J}#x3C;"),
    ("&#X3c", f"&{J}#X3c"),
    ("&#0000060", f"&{J}#0000060"),
    ("&#0;", f"&{J}#0;"),
    ("&#x110000;", f"&{J}#x110000;"),
    # Shapes only SGML-era parsers take as references ("&#" alone; "&name;" of any name).
    ("&#foo;", f"&{J}#foo;"),
    ("&#", f"&{J}#"),
    ("Q&A;", f"Q&{J}A;"),
    ("&bogus.name;", f"&{J}bogus.name;"),
    # Mixed: only the starts of markup change, the rest stays as typed.
    ("A < B & <b>C</b> &amp; AT&T", f"A < B & <{J}b>C<{J}/b> &{J}amp; AT&T"),
]


@pytest.mark.parametrize(("typed", "inert"), CASES)
def test_markup_and_references_get_a_word_joiner(typed: str, inert: str) -> None:
    assert WORD_JOINER == J
    assert html_inert(typed) == inert


def _all_cases() -> list[str]:
    return [typed for typed, _ in CASES] + UNCHANGED + [title for _, title in corpus()]


def test_html_reads_the_inert_text_as_text_showing_the_same_characters() -> None:
    for raw in _all_cases():
        # As render() passes it on (no NUL, which HTML drops), newlines as HTML normalises them.
        typed = xml_safe(raw).replace("\r\n", "\n").replace("\r", "\n")
        reading = as_html(html_inert(typed))
        assert not reading.live, (typed, reading.markup)
        assert visible(reading.text) == visible(typed), typed


def test_a_page_title_element_holds_the_inert_text_whole() -> None:
    # A reader may put the title in its page's <title> (RCDATA: only "</title" and "&" count).
    for raw in _all_cases():
        typed = xml_safe(raw).replace("\r\n", "\n").replace("\r", "\n")
        page = f"<!DOCTYPE html><title>{html_inert(typed)}</title><p>after"
        root: Any = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False)
        assert visible(root.findtext("head/title")) == visible(typed), typed
        assert [p.text for p in root.find("body")] == ["after"], typed


def test_removing_the_joiners_gives_back_the_text_and_a_second_pass_adds_none() -> None:
    for typed in _all_cases():
        inert = html_inert(typed)
        assert visible(inert) == visible(typed)
        assert inert.count(J) - typed.count(J) == len(inert) - len(typed)  # joiners only
        assert html_inert(inert) == inert


T0 = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
HOSTILE = '<a href="vbscript:msgbox(1)">x</a> &amp; Q&A'
META = FeedMeta(
    id="tag:news.example.org,2001:feed",
    title="<b>Example</b> News",
    description="<details open ontoggle=alert(1)>Everything",
    home_url="https://news.example.org/",
    self_url="https://news.example.org/feed",
    language="en",
    updated=T0,
    author="<i>Desk</i>",
)
ITEM = FeedItem(
    id="tag:news.example.org,2001:article-1",
    url="https://news.example.org/articles/1",
    title=HOSTILE,
    content_html="<p>Body.</p>",
    summary="Use <b> for bold",
    published=T0,
    updated=T0,
    author=None,
    category="<embed src=javascript:alert(1)>World",
)


def test_every_plain_text_rss_field_is_inert_and_reads_the_same_both_ways() -> None:
    body = render("rss", META, [ITEM, replace(ITEM, id=ITEM.id + "b", author="<u>Ana</u>")])
    channel = etree.fromstring(body).find("channel")
    assert channel is not None
    expected = {
        "title": META.title,
        "description": META.description,
        "item/title": HOSTILE,
        "item/category": ITEM.category,
        "item/{http://purl.org/dc/elements/1.1/}creator": META.author,  # stands in
    }
    for path, typed in expected.items():
        text = channel.findtext(path)
        assert text == html_inert(typed) != typed, path
        assert not as_html(text).live and visible(as_html(text).text) == typed, path
    assert channel.findall("item/{http://purl.org/dc/elements/1.1/}creator")[1].text == (
        f"<{J}u>Ana<{J}/u>"
    )
    # The summary was HTML-escaped before (RSS readers take <description> as HTML); unchanged.
    assert channel.findtext("item/description") == "Use &lt;b&gt; for bold"

    parsed = check_rss(body)  # strict XML, RSS 2.0 rules, feedparser without bozo
    entry = parsed.entries[0]
    for value, content_type, typed in [
        (parsed.feed.title, parsed.feed.title_detail.type, META.title),
        (parsed.feed.subtitle, parsed.feed.subtitle_detail.type, META.description),
        (entry.title, entry.title_detail.type, HOSTILE),
        (entry.author, "text/plain", META.author),
        (entry.tags[0].term, "text/plain", ITEM.category),
    ]:
        reading = feedparser_reading(value, content_type)
        assert not reading.live and visible(reading.text) == typed, (value, content_type)
        assert not as_html(value).live  # also for a reader that ignores feedparser's type


def test_atom_and_json_feed_carry_the_text_untouched() -> None:
    # Atom says type="text" (RFC 4287 §3.1.1) and feedparser never guesses for Atom; JSON Feed
    # 1.1 defines title as plain text. Neither gets joiners.
    atom = render("atom", META, [ITEM])
    check_atom(atom)
    parsed = feedparser.parse(atom)
    assert (parsed.feed.title, parsed.feed.title_detail.type) == (META.title, "text/plain")
    assert (parsed.entries[0].title, parsed.entries[0].title_detail.type) == (
        HOSTILE,
        "text/plain",
    )
    assert J.encode() not in atom
    feed = check_json(render("json", META, [ITEM]))
    assert (feed["title"], feed["items"][0]["title"]) == (META.title, HOSTILE)
