"""Pure, deterministic rendering of RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from .atom import render_atom
from .jsonfeed import render_json
from .model import FeedItem, FeedMeta
from .rss import render_rss

__all__ = ["CONTENT_TYPES", "FORMATS", "FeedItem", "FeedMeta", "render"]

_RENDERERS: Final[dict[str, Callable[[FeedMeta, Sequence[FeedItem]], bytes]]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}

FORMATS: Final[tuple[str, ...]] = tuple(_RENDERERS)

# The charset parameter matches the bytes render() returns (always UTF-8).
CONTENT_TYPES: Final[dict[str, str]] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def render(fmt: str, meta: FeedMeta, items: Sequence[FeedItem]) -> bytes:
    """Render ``items`` (kept in the given order) as a ``fmt`` feed: one of FORMATS.

    Raises ValueError for an unknown format, a naive datetime, or an id/URL/title that is
    empty once characters XML 1.0 forbids are removed; all of those are the caller's bugs.
    """
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"Unknown feed format {fmt!r}; expected one of {FORMATS}.") from None
    return renderer(meta, items)
