"""OPML 2.0 subscription list of every section's feed, for one-click import into a reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from feedsvc.feeds.xmltext import xml_safe

OPML_CONTENT_TYPE = "text/x-opml; charset=utf-8"


@dataclass(frozen=True)
class OpmlEntry:
    title: str
    description: str
    html_url: str
    feed_url: str


def render_opml(
    site_name: str,
    entries: Sequence[OpmlEntry],
    groups: Sequence[tuple[str, Sequence[OpmlEntry]]] = (),
) -> bytes:
    """Deterministic OPML: no dateCreated/dateModified, so unchanged sections give equal bytes.

    entries (the sections' feeds) are top-level outlines; each of groups (e.g. "Tags") is an
    outline of its own holding its entries (OPML 2.0: outlines nest; readers show a folder).
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(f"{site_name}: all sections")
    body = etree.SubElement(root, "body")
    for e in entries:
        _feed_outline(body, e)
    for name, members in groups:
        if members:
            group = etree.SubElement(body, "outline")
            group.set("text", xml_safe(name))
            group.set("title", xml_safe(name))
            for e in members:
                _feed_outline(group, e)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _feed_outline(parent: etree._Element, e: OpmlEntry) -> None:
    # OPML 2.0 "subscription lists": type="rss" marks a feed outline whatever its format.
    outline = etree.SubElement(parent, "outline", type="rss", version="RSS2")
    # xml_safe, not the full clean_text: names were cleaned when stored; this only makes
    # sure nothing can make lxml refuse the document (and it is cheap for 1,000 sections).
    title = xml_safe(e.title)
    outline.set("text", title)
    outline.set("title", title)
    if e.description:
        outline.set("description", xml_safe(e.description))
    outline.set("xmlUrl", e.feed_url)
    outline.set("htmlUrl", e.html_url)
