"""Plain, frozen data that the renderers turn into feed documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Image:
    """An item's lead image (Media RSS media:content / media:thumbnail, JSON Feed "image")."""

    url: str  # absolute http(s) URL
    alt: str = ""  # plain text; media:description / the <img alt> at the top of the HTML


@dataclass(frozen=True, slots=True)
class Attachment:
    """An item's enclosure (RSS 2.0 <enclosure>, RFC 4287 §4.2.7.2 rel="enclosure")."""

    url: str  # absolute http(s) URL
    media_type: str  # e.g. "audio/mpeg"; never empty (application/octet-stream at worst)
    length: int = 0  # bytes; 0 when unknown (RSS 2.0 requires the attribute, 0 is accepted)


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    """An entry gone from the feed, announced as RFC 6721 at:deleted-entry."""

    ref: str  # the entry's permanent id, exactly as it was published
    when: datetime  # aware UTC: when it was deleted or unpublished


@dataclass(frozen=True, slots=True)
class ArchiveLinks:
    """RFC 5005 §4 links: every value an absolute URL, or "" when there is none."""

    current: str = ""  # rel="current": the subscription document (set on archive pages)
    prev_archive: str = ""  # rel="prev-archive": the next older archive page
    next_archive: str = ""  # rel="next-archive": the next newer archive page
    is_archive: bool = False  # this document is an archive page (fh:archive)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One article as every feed format needs it: plain values, absolute URLs, aware UTC dates."""

    id: str  # permanent id (a tag: URI, RFC 4151), never derived from mutable fields
    url: str  # absolute URL of the article's HTML page
    title: str  # plain text, never markup
    content_html: str  # sanitised HTML with absolute URLs
    summary: str  # plain text
    published: datetime  # aware, UTC
    updated: datetime  # aware, UTC, >= published
    author: str | None  # display name; None means the feed's author stands in
    category: str  # the section's name
    tags: tuple[str, ...] = ()  # further categories (the article's tags), in display order
    image: Image | None = None
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a feed says about itself; the caller computes every value, the renderer invents none."""

    id: str  # permanent feed id (tag: URI)
    title: str
    description: str
    home_url: str  # absolute URL of the HTML page this feed mirrors (rel="alternate")
    self_url: str  # absolute URL of this very document (rel="self", JSON Feed "feed_url")
    language: str  # BCP 47 tag, e.g. "en"
    updated: datetime  # aware UTC; the newest item's updated, or a stored fallback when empty
    author: str  # publisher name; stands in for items without an author (RFC 4287 §4.1.1)
    ttl_minutes: int = 1  # RSS 2.0 <ttl>: how long a reader may cache before polling again
    # RSS 2.0 sy: (Syndication module) hints; "" leaves them out.
    update_period: str = ""  # hourly | daily | weekly | monthly | yearly
    update_frequency: int = 1  # times per update_period
    stylesheet_url: str = ""  # <?xml-stylesheet?> for browsers (RSS and Atom); "" for none
    hubs: tuple[str, ...] = ()  # WebSub hub URLs (rel="hub"; JSON Feed "hubs")
    archive: ArchiveLinks | None = None  # RFC 5005 links; None: not an archived feed
    deleted: tuple[DeletedEntry, ...] = ()  # RFC 6721 tombstones (Atom only)
