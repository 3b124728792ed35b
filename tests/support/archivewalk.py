"""Reading RFC 5005 archived feeds as a reader does: follow prev-archive, page by page."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from lxml import etree

from tests.support.app import SITE_URL
from tests.support.feedcheck import check_atom, check_json, check_rss

A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
FILES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}


def get(client: FlaskClient, url: str) -> Any:
    assert url.startswith(SITE_URL + "/"), url
    response = client.get(url[len(SITE_URL) :])
    assert response.status_code == 200, (url, response.status_code)
    return response


def read(fmt: str, body: bytes) -> tuple[list[str], dict[str, str], bool]:
    """(entry ids, archive links by rel, has fh:archive), each document checked as valid."""
    if fmt == "json":
        feed = check_json(body)
        links = {"prev-archive": feed["next_url"]} if "next_url" in feed else {}
        return [i["id"] for i in feed["items"]], links, False
    if fmt == "atom":
        check_atom(body)
        head = etree.fromstring(body)
        ids = [e.findtext(f"{A}id") for e in head.iterfind(f"{A}entry")]
    else:
        check_rss(body)
        channel = etree.fromstring(body).find("channel")
        assert channel is not None
        head = channel
        ids = [e.findtext("guid") for e in head.iterfind("item")]
    links = {
        link.get("rel", ""): link.get("href", "")
        for link in head.iterfind(f"{A}link")
        if link.get("rel") in ("current", "prev-archive", "next-archive")
    }
    return [i for i in ids if i], links, head.find(f"{FH}archive") is not None


def walk(client: FlaskClient, fmt: str, feed_url: str) -> tuple[list[str], list[str]]:
    """Follow prev-archive from the subscription document: (every id met, archive page URLs)."""
    body = get(client, feed_url).get_data()
    ids, links, archived = read(fmt, body)
    assert not archived, "the subscription document is not an archive page"
    pages: list[str] = []
    url = links.get("prev-archive")
    newer = ""
    while url:
        assert url not in pages, f"a loop at {url}"
        pages.append(url)
        page_ids, page_links, archived = read(fmt, get(client, url).get_data())
        ids += page_ids
        if fmt != "json":
            assert archived, f"{url} lacks fh:archive"
            assert page_links["current"] == feed_url
            # Each page links back to the newer one it was reached from (RFC 5005 §4).
            assert page_links.get("next-archive", "") == newer
        newer = url
        url = page_links.get("prev-archive", "")
    return ids, pages
