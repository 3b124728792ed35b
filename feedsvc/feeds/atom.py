"""Atom 1.0 (RFC 4287) rendering through feedgen, with the fixes its 1.0.0 output needs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from feedgen.feed import FeedGenerator
from lxml import etree

from . import updates
from .history import add_archive
from .media import add_media_elements, atom_links, declare
from .model import DeletedEntry, FeedItem, FeedMeta
from .xmltext import build_tree, rfc3339, serialize

# What feeds.fragments.split_xml cuts a document at: <entry> elements sit last in <feed>.
ENTRY_START, ENTRY_END, CLOSING = b"<entry>", b"</entry>", b"</feed>"
# RFC 6721 §2: the namespace of at:deleted-entry.
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
# An absolute IRI (RFC 3987 §2.2: a scheme, then no spaces, controls or the characters IRIs
# exclude), what RFC 4287 §4.2.6 requires of atom:id.
_IRI = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+\Z")
# The fixed namespace of the UUIDs that stand for ids that are no IRI (never change it: the
# ids readers hold are made from it).
_ID_NAMESPACE = uuid.UUID("5f0b8a5e-2b77-4c1e-9d0e-6a3b0f4c9e21")


def atom_id(item_id: str) -> str:
    """The atom:id of an item: its id itself when that is an IRI (our urn:uuid: ids, an
    imported URL or tag: URI), else urn:uuid: of the UUID v5 (RFC 4122 §4.3) of the id in
    _ID_NAMESPACE: an RSS guid such as "1234" is kept as is by RSS and JSON Feed, and gets
    the same IRI in Atom, render after render (RFC 4287 §4.2.6 requires an IRI)."""
    if _IRI.fullmatch(item_id):
        return item_id
    return uuid.uuid5(_ID_NAMESPACE, item_id).urn


def render_atom(meta: FeedMeta, cleaned: Sequence[FeedItem]) -> bytes:
    """Render an Atom 1.0 document (UTF-8 bytes): one <entry> per item, in the given order.

    ``meta`` and ``cleaned`` have been through xmltext.clean_meta and clean_item.
    """
    fg = FeedGenerator()
    declare(fg)  # xmlns:media, for the lead image
    fg.id(meta.id)
    fg.title(meta.title)
    # RFC 4287 §4.2.15; feedgen would default it to now(), breaking determinism and, for an
    # empty feed, telling readers something changed when nothing did.
    fg.updated(meta.updated)
    # §4.1.1: a feed SHOULD have rel="self"; rel="alternate" points at the HTML page it mirrors.
    fg.link(href=meta.home_url, rel="alternate", type="text/html")
    fg.link(href=meta.self_url, rel="self", type="application/atom+xml")
    for hub in meta.hubs:
        fg.link(href=hub, rel="hub")  # WebSub §4: the hubs to subscribe at, for the self URL
    updates.register(fg, meta, rss=False)  # sy: update hints
    # §4.1.1: a feed-level author covers every entry that has none of its own.
    fg.author(name=meta.author)
    # feedgen's default carries its own version and URI; ours does not churn on upgrades.
    fg.generator("feedsvc")
    if meta.description:
        fg.subtitle(meta.description)  # §4.2.12 is optional: omit rather than leave it empty
    if meta.language:
        fg.language(meta.language)  # becomes xml:lang on atom:feed (XML 1.0 §2.12)

    for item in cleaned:
        # feedgen's default order="prepend" would reverse the caller's newest-first order.
        fe = fg.add_entry(order="append")
        fe.id(atom_id(item.id))
        fe.title(item.title)
        fe.updated(item.updated)
        fe.published(item.published)
        for attrs in atom_links(item):  # the article page, and the attachment if any
            fe.link(**attrs)
        if item.author:
            fe.author(name=item.author)
        if item.summary:
            fe.summary(item.summary, type="text")
        if item.content_html:
            # §4.1.3.1 type="html": escaped markup, which (unlike CDATA) may contain "]]>".
            fe.content(item.content_html, type="html")
        if item.category:
            fe.category(term=item.category)
        for tag in item.tags:  # RFC 4287 §4.2.2: any number of atom:category elements
            fe.category(term=tag)

    # feedgen builds Atom elements without a namespace (it writes xmlns as a plain attribute),
    # so the fixes below find them by their bare names; the serialised document is the same.
    root = build_tree(fg, "atom")
    # Text constructs default to type="text" (§3.1.1) and feedgen omits the attribute; saying it
    # explicitly leaves readers that guess no room to treat "A &amp; B < C" as markup.
    for text in (root.find("title"), root.find("subtitle")):
        if text is not None:
            text.set("type", "text")
    for item, entry in zip(cleaned, root.iterfind("entry"), strict=True):
        title = entry.find("title")
        if title is not None:
            title.set("type", "text")
        # feedgen 1.0.0's FeedEntry.atom_entry() rebinds its loop variable `link` to the new
        # element before reading rel/type/length from it, so entry links lose all three.
        # Restore them in the order they were given: §4.2.7.2 alternate (the article page,
        # §4.2.7.3 text/html) and enclosure (the attachment, its type and §4.2.7.6 length).
        for link, given in zip(entry.iterfind("link"), atom_links(item), strict=True):
            for name in ("rel", "type", "length"):
                if name in given:
                    link.set(name, given[name])
        add_media_elements(entry, item)
    _add_tombstones(root, meta.deleted)
    add_archive(root, "entry", meta.archive, "application/atom+xml")
    return serialize(root, meta.stylesheet_url)


def _add_tombstones(root: etree._Element, deleted: Sequence[DeletedEntry]) -> None:
    """RFC 6721 §3: one at:deleted-entry per removed entry, `ref` its atom:id exactly as
    published and `when` an RFC 3339 date-time. Extension elements of atom:feed (RFC 4287
    §6.4); placed before the first entry, where feeds.fragments.split_xml keeps the head."""
    if not deleted:
        return
    first = root.find("entry")
    at = len(root) if first is None else root.index(first)
    for offset, tombstone in enumerate(deleted):
        element = etree.Element(f"{{{TOMBSTONES_NS}}}deleted-entry", nsmap={"at": TOMBSTONES_NS})
        element.set("ref", atom_id(tombstone.ref))  # the entry's atom:id, as published
        element.set("when", rfc3339(tombstone.when))
        root.insert(at + offset, element)
