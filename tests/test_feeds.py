"""Renderer tests: real RSS/Atom/JSON output, parsed back and validated; no app needed."""

from __future__ import annotations

import html
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from lxml import etree

from feedsvc.feeds import CONTENT_TYPES, FORMATS, FRAGMENTS, FeedItem, FeedMeta, render
from feedsvc.feeds.xmltext import xml_safe
from tests.support.feedcheck import check_atom, check_json, check_rss, entries, feed_title
from tests.support.feeditems import BAD, CHECKS, META, MIXED, T0, dirty, item

A = "{http://www.w3.org/2005/Atom}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_typical_feed_round_trips_through_a_parser(fmt: str) -> None:
    items = [item(n) for n in range(3)]
    got = entries(fmt, render(fmt, META, items))
    assert [r.id for r in got] == [i.id for i in items]
    assert [r.url for r in got] == [i.url for i in items]
    assert [r.title for r in got] == [i.title for i in items]
    assert [r.content for r in got] == [i.content_html for i in items]
    assert [r.summary for r in got] == [i.summary for i in items]
    assert [r.published for r in got] == [i.published for i in items]
    assert [r.author for r in got] == ["Example Desk", "Writer 1", "Example Desk"]
    assert all(r.tags == ["World"] for r in got)
    if fmt != "rss":  # RSS 2.0 has no per-item modification date
        assert [r.updated for r in got] == [i.updated for i in items]


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_renders_are_byte_identical(fmt: str) -> None:
    first = render(fmt, META, [item(n) for n in range(3)])
    rendered_at = datetime.now(UTC)
    while datetime.now(UTC) == rendered_at:  # a leaked now() would differ from here on
        pass
    assert render(fmt, replace(META), [item(n) for n in range(3)]) == first


_RFC3339 = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^<\"]*")
_RFC822 = re.compile(rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("count", [0, 3])
def test_every_date_in_the_output_is_one_we_supplied(fmt: str, count: int) -> None:
    items = [item(n) for n in range(count)]
    body = render(fmt, META, items)
    supplied = {META.updated} | {d for i in items for d in (i.published, i.updated)}
    found = [datetime.fromisoformat(m.decode()) for m in _RFC3339.findall(body)]
    found += [parsedate_to_datetime(m.decode()) for m in _RFC822.findall(body)]
    assert set(found) <= supplied
    assert found or (fmt == "json" and not items)  # JSON Feed has no feed-level date


@pytest.mark.parametrize("fmt", FORMATS)
def test_items_keep_the_given_order(fmt: str) -> None:
    # Deliberately not sorted by date: the renderer must neither sort nor reverse.
    items = [item(n) for n in (2, 0, 4, 1, 3)]
    assert [r.id for r in entries(fmt, render(fmt, META, items))] == [i.id for i in items]


@pytest.mark.parametrize("fmt", FORMATS)
def test_markup_characters_in_titles_are_text(fmt: str) -> None:
    body = render(fmt, replace(META, title="A & B < C"), [item(1, title="A & B < C")])
    assert entries(fmt, body)[0].title == feed_title(fmt, body) == "A & B < C"
    if fmt == "atom":
        root = check_atom(body)
        assert root.find(f"{A}title").get("type") == "text"
        assert root.find(f"{A}entry/{A}title").get("type") == "text"


WORLD = "“Quotes” – dash 🎉 مرحبا بالعالم שלום עולם"


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_ascii_text_arrives_as_utf8_characters(fmt: str) -> None:
    one = item(1, title=WORLD, summary=WORLD, content_html=f"<p>{WORLD}</p>", author=WORLD)
    body = render(fmt, replace(META, title=WORLD), [replace(one, category=WORLD)])
    (got,) = entries(fmt, body)
    assert feed_title(fmt, body) == WORLD
    assert (got.title, got.summary, got.author, got.tags) == (WORLD, WORLD, WORLD, [WORLD])
    assert got.content == f"<p>{WORLD}</p>"
    assert WORLD.encode("utf-8") in body and b"&#" not in body and b"\\u" not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_characters_xml_forbids_are_removed_from_every_field(fmt: str) -> None:
    clean = item(1)
    body = render(fmt, dirty(META), [dirty(clean)])
    (got,) = entries(fmt, body)
    assert feed_title(fmt, body) == "Example News"
    assert (got.id, got.url) == (clean.id, clean.url)
    assert (got.title, got.summary, got.content) == ("Article 1", "Summary 1", clean.content_html)
    assert (got.author, got.tags) == ("Writer 1", ["World"])
    assert not any(ch.encode("utf-8", "surrogatepass") in body for ch in BAD)


@pytest.mark.parametrize("fmt", FORMATS)
def test_entries_reused_from_other_feeds_give_the_bytes_of_one_render(fmt: str) -> None:
    FRAGMENTS.clear()
    whole = render(fmt, META, MIXED)
    CHECKS[fmt](whole)
    FRAGMENTS.clear()
    # Some entries first rendered in other feeds, in another order and company.
    other = replace(META, title="Other", self_url="https://news.example.org/other", updated=T0)
    render(fmt, other, [MIXED[4], MIXED[1]])
    render(fmt, META, [MIXED[2]])
    hits = FRAGMENTS.hits
    assert render(fmt, META, MIXED) == whole
    assert FRAGMENTS.hits - hits == 3  # three entries reused, three rendered afresh
    assert render(fmt, META, MIXED[::-1]) != whole  # order still comes from the caller
    # Written out, not computed: MIXED holds items 1 to 6, the second one dirtied.
    assert [e.id for e in entries(fmt, render(fmt, META, MIXED[::-1]))] == [
        f"tag:news.example.org,2001:article-{n}" for n in (6, 5, 4, 3, 2, 1)
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_edited_item_or_feed_author_is_never_served_from_an_older_entry(fmt: str) -> None:
    original = item(7, author=None)
    render(fmt, META, [original])
    edited = replace(original, title="Corrected headline", summary="Corrected")
    (got,) = entries(fmt, render(fmt, META, [edited]))
    assert (got.title, got.summary) == ("Corrected headline", "Corrected")
    (got,) = entries(fmt, render(fmt, replace(META, author="Night Desk"), [original]))
    # RSS writes the stand-in author into the entry; Atom and JSON Feed leave it at feed level.
    assert got.author == "Night Desk"


def test_xml_safe_keeps_exactly_the_xml_1_0_char_production() -> None:
    allowed = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff é€𝄞"
    assert xml_safe(allowed) == allowed
    assert xml_safe("a" + BAD + "\x7f-ok") == "a\x7f-ok"  # U+007F is a legal (if odd) Char


def _is_xml_char(code: int) -> bool:
    """XML 1.0 §2.2 production [2] Char, written out as its numeric ranges."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def test_xml_safe_decides_every_character_alone_and_among_others() -> None:
    # Every BMP code point and a stride through the astral planes, each between clean ASCII
    # and clean non-ASCII text: a forbidden one goes, everything else stays byte for byte.
    for code in [*range(0x10000), *range(0x10000, 0x110000, 251)]:
        char = chr(code)
        expected = "a" + (char if _is_xml_char(code) else "") + "é"
        assert xml_safe("a" + char + "é") == expected, hex(code)
    assert xml_safe("\ud800\udc00 \ufffe\x00 ok") == "  ok"  # a surrogate pair stays split


@pytest.mark.timeout(15)  # well under a second each; a quadratic escape would hang here
@pytest.mark.parametrize("fmt", FORMATS)
def test_very_long_body_and_cdata_terminator_survive(fmt: str) -> None:
    body_html = "<p>" + ("x]]>y & <b>z</b> " * 7000)[:100_000] + "</p>"
    (got,) = entries(fmt, render(fmt, META, [item(1, content_html=body_html)]))
    assert got.content == body_html


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_feed_is_valid_and_dated_by_meta(fmt: str) -> None:
    body = render(fmt, META, [])
    assert entries(fmt, body) == []
    if fmt == "atom":
        assert datetime.fromisoformat(check_atom(body).findtext(f"{A}updated")) == T0
    elif fmt == "rss":
        assert datetime(*check_rss(body).feed.updated_parsed[:6], tzinfo=UTC) == T0
    else:
        assert check_json(body)["items"] == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("where", ["meta.updated", "item.published", "item.updated"])
def test_naive_datetime_is_rejected(fmt: str, where: str) -> None:
    naive = datetime(2001, 2, 3, 4, 5, 6)
    meta = replace(META, updated=naive) if where == "meta.updated" else META
    one = replace(item(1), **{where.split(".")[1]: naive}) if where != "meta.updated" else item(1)
    with pytest.raises(ValueError, match="naive datetime"):
        render(fmt, meta, [one])


@pytest.mark.parametrize("fmt", FORMATS)
def test_offset_datetimes_are_written_in_utc(fmt: str) -> None:
    cest = timezone(timedelta(hours=2))
    one = item(1, published=datetime(2001, 2, 3, 6, 5, 6, tzinfo=cest))
    body = render(fmt, META, [one])
    assert entries(fmt, body)[0].published == T0
    assert b"+02:00" not in body and b"+0200" not in body


def test_rss_channel_and_item_elements() -> None:
    body = render("rss", META, [item(1), item(2, summary="")])
    check_rss(body)
    channel = feedparser.parse(body).feed
    assert channel.link == META.home_url and channel.language == "en"
    assert channel.generator == "feedsvc" and channel.ttl == "30"
    assert [(link.rel, link.href, link.type) for link in channel.links if link.rel == "self"] == [
        ("self", META.self_url, "application/rss+xml")
    ]
    root = etree.fromstring(body)
    assert parsedate_to_datetime(root.findtext("channel/lastBuildDate")) == T0
    assert parsedate_to_datetime(root.findtext("channel/pubDate")) == T0
    first, second = root.iterfind("channel/item")
    assert first.find("guid").get("isPermaLink") == "false"
    # An empty summary leaves no <description>; the article body is still content:encoded.
    assert second.find("description") is None
    encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
    assert second.findtext(encoded) == item(2).content_html


def test_rss_summary_with_angle_brackets_is_shown_as_text() -> None:
    summary = "Use <b> for bold & <i> for italics"
    entry = check_rss(render("rss", META, [item(1, summary=summary)])).entries[0]
    assert "<b>" not in entry.summary  # a reader rendering the HTML would show the tag as text
    assert html.unescape(entry.summary) == summary


def test_atom_links_authors_and_text_types() -> None:
    root = check_atom(render("atom", replace(META, description=""), [item(1), item(2)]))
    links = [(ln.get("rel"), ln.get("type"), ln.get("href")) for ln in root.iterfind(f"{A}link")]
    assert sorted(links) == [
        ("alternate", "text/html", META.home_url),
        ("self", "application/atom+xml", META.self_url),
    ]
    assert root.find(f"{A}subtitle") is None
    assert root.findtext(f"{A}author/{A}name") == "Example Desk"
    assert root.findtext(f"{A}generator") == "feedsvc"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    first, second = root.iterfind(f"{A}entry")
    for entry, n in ((first, 1), (second, 2)):
        (link,) = entry.iterfind(f"{A}link")
        assert (link.get("rel"), link.get("type")) == ("alternate", "text/html")
        assert link.get("href") == item(n).url
        assert entry.find(f"{A}content").get("type") == "html"
        assert entry.find(f"{A}summary").get("type") == "text"
        assert entry.find(f"{A}category").get("term") == "World"
    assert first.findtext(f"{A}author/{A}name") == "Writer 1"
    assert second.find(f"{A}author") is None  # covered by the feed's author (RFC 4287 §4.1.1)


def test_json_feed_members() -> None:
    feed = check_json(render("json", META, [item(1), item(2, content_html="")]))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert list(feed)[:4] == ["version", "title", "home_page_url", "feed_url"]
    assert (feed["feed_url"], feed["authors"]) == (META.self_url, [{"name": "Example Desk"}])
    first, second = feed["items"]
    assert first["authors"] == [{"name": "Writer 1"}] and "authors" not in second
    assert first["tags"] == ["World"]
    assert "content_html" not in second and second["content_text"] == "Summary 2"


@pytest.mark.parametrize("fmt", FORMATS)
def test_blank_title_and_author_fall_back_instead_of_emitting_empty_elements(fmt: str) -> None:
    body = render(fmt, replace(META, author=" "), [item(2, title="\x00 ")])
    (got,) = entries(fmt, body)
    assert got.title == item(2).url and got.author == META.title


@pytest.mark.parametrize(
    "meta, items",
    [
        (replace(META, id=""), []),
        (replace(META, self_url="\x00"), []),
        (replace(META, language="en_GB"), []),
        (META, [item(1, id="")]),
        (META, [item(1, url=" ")]),
    ],
)
def test_unusable_values_raise_a_clear_value_error(meta: FeedMeta, items: list[FeedItem]) -> None:
    for fmt in FORMATS:
        with pytest.raises(ValueError, match=r"empty|language tag"):
            render(fmt, meta, items)


def test_formats_and_content_types() -> None:
    assert set(CONTENT_TYPES) == set(FORMATS) == {"rss", "atom", "json"}
    assert all(value.endswith("; charset=utf-8") for value in CONTENT_TYPES.values())
    with pytest.raises(ValueError, match="Unknown feed format"):
        render("rdf", META, [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_fifty_article_feed_renders_quickly(fmt: str) -> None:
    html_4k = "<p>" + "Lorem ipsum dolor sit amet. " * 146 + "</p>"
    items = [item(n, content_html=html_4k) for n in range(50)]
    start = time.perf_counter()
    body = render(fmt, META, items)
    elapsed = time.perf_counter() - start
    assert len(entries(fmt, body)) == 50
    assert elapsed < 0.5, f"{fmt}: {elapsed * 1000:.1f} ms for 50 items"  # generous: CI noise
