"""JSON Feed 1.1 rendering by hand (feedgen has no JSON Feed support)."""

from __future__ import annotations

import json
from typing import Any

from .model import FeedItem, FeedMeta
from .xmltext import rfc3339

VERSION = "https://jsonfeed.org/version/1.1"
SEPARATORS = (",", ":")  # compact: readers poll these bytes thousands of times an hour


def _item(item: FeedItem) -> dict[str, Any]:
    # Keys in the order the JSON Feed 1.1 spec lists them; dicts keep insertion order, so the
    # bytes are stable without sort_keys (which would bury "id" in the middle).
    out: dict[str, Any] = {"id": item.id, "url": item.url, "title": item.title}
    # The spec requires content_html or content_text; fall back to the plain summary (or the
    # title) as content_text rather than emit an empty body.
    if item.content_html:
        out["content_html"] = item.content_html
    else:
        out["content_text"] = item.summary or item.title
    if item.summary:
        out["summary"] = item.summary
    out["date_published"] = rfc3339(item.published)
    out["date_modified"] = rfc3339(item.updated)
    if item.author:
        # Without "authors" an item inherits the feed's (JSON Feed 1.1, "authors").
        out["authors"] = [{"name": item.author}]
    if item.category:
        out["tags"] = [item.category]
    return out


def render_entry(item: FeedItem) -> bytes:
    """One cleaned item as the UTF-8 JSON object that goes into "items"."""
    return json.dumps(_item(item), ensure_ascii=False, separators=SEPARATORS).encode("utf-8")


def render_frame(meta: FeedMeta) -> tuple[bytes, bytes]:
    """The document around its items, as (head, tail): head + b",".join(entries) + tail.

    ``meta`` has been through xmltext.clean_meta (the same cleaning as the XML formats: the
    text is identical in every format, and without lone surrogates UTF-8 encoding cannot fail).
    """
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.self_url,
    }
    if meta.description:
        feed["description"] = meta.description
    if meta.language:
        feed["language"] = meta.language
    feed["authors"] = [{"name": meta.author}]
    feed["items"] = []  # last, so the entries go between "[" and "]}"
    empty = json.dumps(feed, ensure_ascii=False, separators=SEPARATORS).encode("utf-8")
    assert empty.endswith(b"[]}")
    return empty[:-2], empty[-2:]
