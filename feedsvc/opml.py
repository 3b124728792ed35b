"""OPML 2.0 subscription list of every section's feed, for one-click import into a reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from feedsvc.content import clean_text

OPML_CONTENT_TYPE = "text/x-opml; charset=utf-8"


@dataclass(frozen=True)
class OpmlEntry:
    title: str
    description: str
    html_url: str
    feed_url: str


def render_opml(site_name: str, entries: Sequence[OpmlEntry]) -> bytes:
    """Deterministic OPML: no dateCreated/dateModified, so unchanged sections give equal bytes."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean_text(f"{site_name}: all sections")
    body = etree.SubElement(root, "body")
    for e in entries:
        # OPML 2.0 "subscription lists": type="rss" marks a feed outline whatever its format.
        outline = etree.SubElement(body, "outline", type="rss", version="RSS2")
        outline.set("text", clean_text(e.title))
        outline.set("title", clean_text(e.title))
        if e.description:
            outline.set("description", clean_text(e.description))
        outline.set("xmlUrl", e.feed_url)
        outline.set("htmlUrl", e.html_url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
