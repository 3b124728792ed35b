"""The OPML subscription list: valid OPML 2.0, one outline per section, deterministic."""

from __future__ import annotations

from lxml import etree

from feedsvc.feeds.opml import OpmlEntry, render_opml


def test_opml_lists_sections_with_feed_and_page_urls() -> None:
    entries = [
        OpmlEntry(
            "World & More",
            "From <everywhere>",
            "https://x.org/sections/w/",
            "https://x.org/sections/w/rss.xml",
        ),
        OpmlEntry("Économie", "", "https://x.org/sections/e/", "https://x.org/sections/e/rss.xml"),
    ]
    body = render_opml("News\x00room", entries)
    doc = etree.fromstring(body)
    assert doc.get("version") == "2.0"
    assert doc.findtext("head/title") == "Newsroom: all sections"
    outlines = doc.findall("body/outline")
    assert [o.get("text") for o in outlines] == ["World & More", "Économie"]
    assert [o.get("xmlUrl") for o in outlines] == [e.feed_url for e in entries]
    assert all(o.get("type") == "rss" for o in outlines)
    assert render_opml("News\x00room", entries) == body  # same data, same bytes
