"""Plain, frozen data that the renderers turn into feed documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
