"""Pure, deterministic rendering of RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from . import atom, jsonfeed, rss
from .fragments import FragmentCache, ItemKey, split_xml
from .model import ArchiveLinks, Attachment, DeletedEntry, FeedItem, FeedMeta, Image
from .xmltext import clean_item, clean_meta

__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "FRAGMENTS",
    "ArchiveLinks",
    "Attachment",
    "DeletedEntry",
    "FeedItem",
    "FeedMeta",
    "Image",
    "render",
    "render_all",
]

FORMATS: Final[tuple[str, ...]] = ("rss", "atom", "json")

# The charset parameter matches the bytes render() returns (always UTF-8).
CONTENT_TYPES: Final[dict[str, str]] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

# (whole document from cleaned meta and items, entry start tag, entry end tag, closing tags)
_XML: Final[
    dict[str, tuple[Callable[[FeedMeta, Sequence[FeedItem]], bytes], bytes, bytes, bytes]]
] = {
    "rss": (rss.render_rss, rss.ENTRY_START, rss.ENTRY_END, rss.CLOSING),
    "atom": (atom.render_atom, atom.ENTRY_START, atom.ENTRY_END, atom.CLOSING),
}

# Every entry rendered in this process, by value: a tick that adds one article to a 50-item
# feed renders one entry per format, not fifty; the site feed reuses its sections' entries.
FRAGMENTS: Final = FragmentCache()


def render(fmt: str, meta: FeedMeta, items: Sequence[FeedItem]) -> bytes:
    """Render ``items`` (kept in the given order) as a ``fmt`` feed: one of FORMATS.

    Raises ValueError for an unknown format, a naive datetime, or an id/URL/title that is
    empty once characters XML 1.0 forbids are removed; all of those are the caller's bugs.
    """
    return render_all({fmt: meta}, items)[fmt]


def render_all(metas: Mapping[str, FeedMeta], items: Sequence[FeedItem]) -> dict[str, bytes]:
    """Render the same items in several formats, each with its own FeedMeta (see render).

    The bytes equal a single feedgen render of the whole list: entries are cut from feedgen's
    own output and an entry's bytes depend only on its item (and, in RSS, on the feed author
    that stands in for a missing one), so cached and fresh entries join seamlessly.
    """
    for fmt in metas:
        if fmt not in FORMATS:
            raise ValueError(f"Unknown feed format {fmt!r}; expected one of {FORMATS}.")
    cleaned: dict[int, FeedItem] = {}  # cleaned once, whatever the number of formats
    item_keys = [ItemKey(item) for item in items]  # hashed once, whatever the formats
    out: dict[str, bytes] = {}
    for fmt, raw_meta in metas.items():
        meta = clean_meta(raw_meta)
        # RSS names the feed's author on items without one (dc:creator): part of the entry.
        context = meta.author if fmt == "rss" else None
        keys = [(fmt, context, key) for key in item_keys]
        entries = [FRAGMENTS.get(key) for key in keys]
        missing = [i for i, entry in enumerate(entries) if entry is None]
        for i in missing:
            if i not in cleaned:
                cleaned[i] = clean_item(items[i])
        if fmt == "json":
            head, tail = jsonfeed.render_frame(meta)
            fresh = [jsonfeed.render_entry(cleaned[i]) for i in missing]
            separator = b","
        else:
            render_xml, start, end, closing = _XML[fmt]
            document = render_xml(meta, [cleaned[i] for i in missing])
            head, fresh, tail = split_xml(document, start, end, closing)
            if len(fresh) != len(missing):
                raise RuntimeError(f"{fmt}: {len(missing)} items rendered as {len(fresh)} entries")
            separator = b""
        for i, entry in zip(missing, fresh, strict=True):
            entries[i] = entry
            FRAGMENTS.put(keys[i], entry)
        out[fmt] = head + separator.join(e for e in entries if e is not None) + tail
    return out
