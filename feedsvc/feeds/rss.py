"""RSS 2.0 rendering through feedgen, with the fixes its 1.0.0 output needs."""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence

from feedgen.ext.dc import DcEntryExtension, DcExtension
from feedgen.feed import FeedGenerator

from . import updates
from .history import add_archive
from .htmltext import html_inert
from .media import add_media_elements, declare
from .model import FeedItem, FeedMeta
from .xmltext import build_tree, serialize

_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"

# feedgen formats RFC 822 dates by switching the process-wide locale to "C" and back
# (feedgen.util.formatRFC2822). Two threads interleaving that save/restore can leave the
# whole process in the "C" locale, so only one RSS serialisation runs at a time.
_LOCALE_SWITCH = threading.Lock()


# What feeds.fragments.split_xml cuts a document at: <item> elements sit last in <channel>.
ENTRY_START, ENTRY_END, CLOSING = b"<item>", b"</item>", b"</channel></rss>"


def render_rss(meta: FeedMeta, cleaned: Sequence[FeedItem]) -> bytes:
    """Render an RSS 2.0 document (UTF-8 bytes): one <item> per item, in the given order.

    ``meta`` and ``cleaned`` have been through xmltext.clean_meta and clean_item.
    """
    fg = FeedGenerator()
    # dc:creator, not <author>: RSS 2.0 <author> must be an e-mail address and the W3C
    # validator flags a bare name; the Dublin Core element carries a name.
    # What load_extension("dc") registers, without its import attempt of a "dc_entry" module
    # that does not exist: a failed import searches sys.path on every render.
    fg.register_extension("dc", DcExtension, DcEntryExtension, atom=False, rss=True)
    declare(fg)  # xmlns:media, for the lead image
    # Plain-text fields go through html_inert: RSS 2.0 does not say whether they are text or
    # HTML, and readers that guess HTML must see the same characters, never markup.
    fg.title(html_inert(meta.title))
    # feedgen writes the *last* link added as the channel <link> and the first rel="self" one
    # as <atom:link>, so the self link (RSS Best Practices: atom:link rel="self") goes first.
    fg.link(href=meta.self_url, rel="self", type="application/rss+xml")
    fg.link(href=meta.home_url, rel="alternate")
    # <description> is a required channel element (RSS 2.0 spec); the title stands in.
    fg.description(html_inert(meta.description or meta.title))
    if meta.language:
        fg.language(meta.language)
    # feedgen fills lastBuildDate with now(); set both dates so the output is deterministic.
    fg.lastBuildDate(meta.updated)
    fg.pubDate(meta.updated)
    # feedgen's default generator is "python-feedgen"; ours stays the same across upgrades.
    fg.generator("feedsvc")
    fg.docs("https://www.rssboard.org/rss-specification")
    if meta.ttl_minutes:
        fg.ttl(meta.ttl_minutes)
    updates.register(fg, meta, rss=True)  # WebSub rel="hub" links, sy: update hints

    for item in cleaned:
        # feedgen's default order="prepend" would reverse the caller's newest-first order.
        fe = fg.add_entry(order="append")
        fe.guid(item.id, permalink=False)  # a tag: URI is not a URL: isPermaLink="false"
        fe.title(html_inert(item.title))
        fe.link(href=item.url)
        if item.summary:
            # Readers treat <description> as HTML; escaping the plain-text summary once more
            # makes "<b>" show as text instead of turning into markup (or being stripped).
            fe.description(html.escape(item.summary, quote=False))
        if item.content_html:
            fe.content(item.content_html)  # escaped text; CDATA cannot hold "]]>"
        fe.pubDate(item.published)
        if item.category:
            fe.category(term=html_inert(item.category))
        for tag in item.tags:  # RSS 2.0 "category": an item may carry several
            fe.category(term=html_inert(tag))
        fe.dc.dc_creator(html_inert(item.author or meta.author))
        if item.attachment is not None:
            # RSS 2.0 "enclosure": url, length in bytes (0 when unknown) and type, all required.
            a = item.attachment
            fe.enclosure(a.url, str(a.length), a.media_type)

    with _LOCALE_SWITCH:
        root = build_tree(fg, "rss")
    channel = root[0]
    for item, element in zip(cleaned, channel.iterfind("item"), strict=True):
        add_media_elements(element, item)
        if item.content_html and not item.summary:
            # With no description feedgen moves the content into <description> and drops
            # content:encoded. We omit an empty description (the validator warns on empty
            # elements, and a copied title would show twice), so give the HTML its own element.
            description = element.find("description")
            if description is not None:
                description.tag = _CONTENT_ENCODED
    add_archive(channel, "item", meta.archive, "application/rss+xml")
    return serialize(root, meta.stylesheet_url)
