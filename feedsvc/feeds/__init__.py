"""Pure, deterministic rendering of RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from . import atom, jsonfeed, rss
from .fragments import FragmentCache, ItemKey, split_xml
from .model import ArchiveLinks, Attachment, DeletedEntry, FeedItem, FeedMeta, Image
from .reuse import Previous, entries_in, entry_digest, index_of, item_digest
from .xmltext import clean_item, clean_meta

__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "FRAGMENTS",
    "ArchiveLinks",
    "Attachment",
    "DeletedEntry",
    "Document",
    "FeedItem",
    "FeedMeta",
    "Image",
    "Previous",
    "render",
    "render_all",
    "render_documents",
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

# Fewer missing entries than this are rendered rather than looked for in a stored document:
# a tick's one new article costs feedgen less than reading and decompressing the document
# (about 0.4 ms for a 190 KB feed) that cannot hold it anyway.
REUSE_FROM: Final = 4

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
    """Render the same items in several formats, each with its own FeedMeta (see render)."""
    return {fmt: doc.body for fmt, doc in render_documents(metas, items).items()}


@dataclass(frozen=True, slots=True)
class Document:
    """A rendered feed and its entry index (reuse.index_of), kept with it for later renders."""

    body: bytes
    index: bytes


# Where an entry of each format starts and ends, to check a stored entry before reuse.
_ENDS: Final[dict[str, tuple[bytes, bytes]]] = {
    "rss": (rss.ENTRY_START, rss.ENTRY_END),
    "atom": (atom.ENTRY_START, atom.ENTRY_END),
    "json": (b'{"id":', b"}"),
}


def render_documents(
    metas: Mapping[str, FeedMeta],
    items: Sequence[FeedItem],
    previous: Previous | None = None,
) -> dict[str, Document]:
    """Render the same items in several formats, each with its own FeedMeta (see render).

    The bytes equal a single feedgen render of the whole list: entries are cut from feedgen's
    own output and an entry's bytes depend only on its item (and, in RSS, on the feed author
    that stands in for a missing one), so cached and fresh entries join seamlessly.

    previous(fmt), asked only when some entry is in no cache of this process, gives stored
    documents in that format with their indexes (the feed's own, say): entries whose item,
    format, context and renderer are unchanged come from them instead of feedgen. A scheduler
    that restarts, or a feed last rendered long ago, renders only what is new.
    """
    for fmt in metas:
        if fmt not in FORMATS:
            raise ValueError(f"Unknown feed format {fmt!r}; expected one of {FORMATS}.")
    cleaned: dict[int, FeedItem] = {}  # cleaned once, whatever the number of formats
    item_keys = [ItemKey(item) for item in items]  # hashed once, whatever the formats
    cached = FRAGMENTS.lookup(item_keys)  # found once, whatever the formats
    item_digests: dict[int, bytes] = {}  # the same, for the stable digests
    out: dict[str, Document] = {}
    for fmt, raw_meta in metas.items():
        meta = clean_meta(raw_meta)
        # RSS names the feed's author on items without one (dc:creator): part of the entry.
        context = meta.author if fmt == "rss" else None
        variant = (fmt, context)
        found = [variants.get(variant) for variants in cached]
        entries: list[bytes | None] = [hit[0] if hit else None for hit in found]
        digests: list[bytes | None] = [hit[1] if hit else None for hit in found]
        missing = [i for i, entry in enumerate(entries) if entry is None]
        FRAGMENTS.count(len(items) - len(missing), len(missing))
        for i in missing:
            if i not in item_digests:
                item_digests[i] = item_digest(items[i])
            digests[i] = entry_digest(fmt, context, item_digests[i])
        if len(missing) >= REUSE_FROM and previous is not None:
            missing = _reuse(previous, variant, missing, item_keys, entries, digests)
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
            FRAGMENTS.put(item_keys[i], variant, (entry, _known(digests[i])))
        done = [_known(e) for e in entries]
        out[fmt] = Document(
            head + separator.join(done) + tail,
            index_of(len(head), done, [_known(d) for d in digests], len(separator)),
        )
    return out


def _known(value: bytes | None) -> bytes:
    if value is None:  # every slot is filled above; this is for the type checker
        raise RuntimeError("an entry was left unrendered")
    return value


def _reuse(
    previous: Previous,
    variant: tuple[str, str | None],
    missing: list[int],
    keys: Sequence[ItemKey],
    entries: list[bytes | None],
    digests: Sequence[bytes | None],
) -> list[int]:
    """Fill missing entries from the stored document; return those still missing."""
    fmt = variant[0]
    stored = previous(fmt)
    if not stored:
        return missing
    start, end = _ENDS[fmt]
    by_digest = {
        digest: entry
        for document, index in stored
        for digest, entry in entries_in(document, index)
        # A damaged row must not put a torn entry into a feed: it is rendered again instead.
        if entry.startswith(start) and entry.endswith(end)
    }
    still = []
    for i in missing:
        digest = _known(digests[i])
        entry = by_digest.get(digest)
        if entry is None:
            still.append(i)
            continue
        entries[i] = entry
        FRAGMENTS.put(keys[i], variant, (entry, digest))
    return still
