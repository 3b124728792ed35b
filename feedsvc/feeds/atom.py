"""Atom 1.0 (RFC 4287) rendering through feedgen, with the fixes its 1.0.0 output needs."""

from __future__ import annotations

from collections.abc import Sequence

from feedgen.feed import FeedGenerator

from .model import FeedItem, FeedMeta
from .xmltext import build_tree, serialize

# What feeds.fragments.split_xml cuts a document at: <entry> elements sit last in <feed>.
ENTRY_START, ENTRY_END, CLOSING = b"<entry>", b"</entry>", b"</feed>"


def render_atom(meta: FeedMeta, cleaned: Sequence[FeedItem]) -> bytes:
    """Render an Atom 1.0 document (UTF-8 bytes): one <entry> per item, in the given order.

    ``meta`` and ``cleaned`` have been through xmltext.clean_meta and clean_item.
    """
    fg = FeedGenerator()
    fg.id(meta.id)
    fg.title(meta.title)
    # RFC 4287 §4.2.15; feedgen would default it to now(), breaking determinism and, for an
    # empty feed, telling readers something changed when nothing did.
    fg.updated(meta.updated)
    # §4.1.1: a feed SHOULD have rel="self"; rel="alternate" points at the HTML page it mirrors.
    fg.link(href=meta.home_url, rel="alternate", type="text/html")
    fg.link(href=meta.self_url, rel="self", type="application/atom+xml")
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
        fe.id(item.id)
        fe.title(item.title)
        fe.updated(item.updated)
        fe.published(item.published)
        fe.link(href=item.url, rel="alternate", type="text/html")
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
    for entry in root.iterfind("entry"):
        title = entry.find("title")
        if title is not None:
            title.set("type", "text")
        # feedgen 1.0.0's FeedEntry.atom_entry() rebinds its loop variable `link` to the new
        # element before reading rel/type from it, so entry links lose both attributes.
        # Restore them: §4.2.7.2 alternate, §4.2.7.3 the media type of the article page.
        for link in entry.iterfind("link"):
            link.set("rel", "alternate")
            link.set("type", "text/html")
    return serialize(root)
