"""Feed-level update signals: WebSub hub links and Syndication-module polling hints."""

from __future__ import annotations

from typing import Final

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from .model import FeedMeta

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
# RSS 1.0 Syndication module: sy:updatePeriod, sy:updateFrequency. feedgen ships an extension
# for it, but 1.0.0 writes "UpdatePeriod" and "UpdateFrequency" (capitalised), which no
# reader knows; this one writes the module's own names.
SY_NS: Final = "http://purl.org/rss/1.0/modules/syndication/"
_NAME: Final = "feedsvc_updates"


class _Head(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Adds the elements to the feed's head; feedgen calls it before it appends the entries."""

    def __init__(self) -> None:
        self.meta: FeedMeta | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"sy": SY_NS} if self.meta is not None and self.meta.update_period else {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        if self.meta is not None:
            # WebSub §4 (Discovery): in RSS the hub is an atom:link rel="hub", beside the
            # rel="self" link that names the topic; feedgen writes only the self link.
            for hub in self.meta.hubs:
                etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
            self._hints(channel)
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        # The hub links are ordinary atom:link elements (atom.py); here only the hints, which
        # RFC 4287 §6.4 allows as foreign elements of atom:feed (the W3C validator checks them
        # in Atom as in RSS).
        self._hints(feed)
        return feed

    def _hints(self, parent: etree._Element) -> None:
        meta = self.meta
        if meta is None or not meta.update_period:
            return
        etree.SubElement(parent, f"{{{SY_NS}}}updatePeriod").text = meta.update_period
        etree.SubElement(parent, f"{{{SY_NS}}}updateFrequency").text = str(meta.update_frequency)


def register(fg: FeedGenerator, meta: FeedMeta, *, rss: bool) -> None:
    """Have ``fg`` write meta's hub links (RSS; Atom's come from atom.py) and update hints."""
    fg.register_extension(_NAME, _Head, None, atom=not rss, rss=rss)
    head = getattr(fg, _NAME)
    assert isinstance(head, _Head)
    head.meta = meta
