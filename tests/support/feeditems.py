"""Renderer inputs shared by the feed tests: a feed's metadata, items, and hostile items."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from feedsvc.feeds import FeedItem, FeedMeta
from tests.support.feedcheck import check_atom, check_json, check_rss

T0 = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
META = FeedMeta(
    id="tag:news.example.org,2001:feed",
    title="Example News",
    description="Everything that happened",
    home_url="https://news.example.org/",
    self_url="https://news.example.org/feed",
    language="en",
    updated=T0,
    author="Example Desk",
    ttl_minutes=30,
)


def item(n: int, **changes: Any) -> FeedItem:
    base = FeedItem(
        id=f"tag:news.example.org,2001:article-{n}",
        url=f"https://news.example.org/articles/{n}",
        title=f"Article {n}",
        content_html=f"<p>Body of article {n}.</p>",
        summary=f"Summary {n}",
        published=T0 - timedelta(days=n, hours=1),
        updated=T0 - timedelta(days=n),
        author=f"Writer {n}" if n % 2 else None,
        category="World",
    )
    return replace(base, **changes)


BAD = "\x00\x01\x08\x0b\x0c\x1f\ufffe\uffff\ud800\udfff"


def dirty(obj: Any) -> Any:
    """Return a copy of a FeedMeta/FeedItem with BAD characters around and inside every string."""
    strings = {f.name: getattr(obj, f.name) for f in fields(obj)}
    return replace(
        obj,
        **{k: f"{BAD}{v[:3]}{BAD}{v[3:]}{BAD}" for k, v in strings.items() if isinstance(v, str)},
    )


CHECKS = {"rss": check_rss, "atom": check_atom, "json": check_json}
# Items that exercise the cleaning: forbidden characters, markup in text, empty bodies, a
# CDATA terminator, a blank title and astral characters.
MIXED = [
    item(1),
    dirty(item(2)),
    item(3, title="A & B < C", summary="<b>bold?</b>", author=None),
    item(4, content_html="", summary=""),
    item(5, content_html="<p>x]]>y</p>", summary=""),
    item(6, title="  ", author="Ünïcødé 🗞 ﷽"),
]
