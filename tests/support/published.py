"""The readers' side: run a publishing pass, fetch a feed, read its entries back."""

from __future__ import annotations

import feedparser
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.publishing.passes import run_pass
from tests.support.feedcheck import check_json

FEEDS = ["rss.xml", "atom.xml", "feed.json"]


def publish(app: Flask, **kw: object) -> None:
    """One publishing pass, as the scheduler runs it; every section must succeed."""
    result = run_pass(app, **kw)  # type: ignore[arg-type]
    assert not result.failures, result.failures


def fetch(client: FlaskClient, path: str) -> bytes:
    """The body of a page or feed that must be there (200)."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data()


class Entry:
    """One item, read back from any of the three formats the way a reader would see it."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


def entries(body: bytes) -> list[Entry]:
    """Items of a feed: feedparser for RSS/Atom, the JSON Feed 1.1 fields for JSON."""
    if body.lstrip().startswith(b"{"):
        items = check_json(body)["items"]
        return [
            Entry(
                title=i["title"],
                link=i["url"],
                id=i["id"],
                author=(i.get("authors") or [{}])[0].get("name"),
                content=i["content_html"],
                summary=i["summary"],
                tags=i.get("tags", []),
                published=i["date_published"],
            )
            for i in items
        ]
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [
        Entry(
            title=e.title,
            link=e.link,
            id=e.id,
            author=e.get("author"),
            content=e.content[0].value,
            summary=e.summary,
            tags=[t.term for t in e.get("tags", [])],
            published=e.published,
        )
        for e in parsed.entries
    ]
