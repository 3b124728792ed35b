"""HTTP caching semantics of served feeds: types, validators, 304s, HEAD, gzip (RFC 9110)."""

from __future__ import annotations

import gzip
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.factories import make_section
from tests.support.forms import add_article
from tests.support.published import publish

TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def published(editor: FlaskClient, app: Flask) -> FlaskClient:
    make_section(app)
    add_article(editor)
    publish(app)
    return editor


@pytest.mark.parametrize("name", sorted(TYPES))
def test_content_type_and_caching_headers(published: FlaskClient, name: str) -> None:
    response = published.get(f"/sections/world-news/{name}")
    assert response.headers["Content-Type"] == TYPES[name]
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert parsedate_to_datetime(response.headers["Last-Modified"]).tzinfo is not None
    cache_control = response.headers["Cache-Control"]
    assert "public" in cache_control and "max-age=5" in cache_control
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def test_if_none_match_gives_304_without_body(published: FlaskClient) -> None:
    first = published.get("/sections/world-news/atom.xml")
    again = published.get(
        "/sections/world-news/atom.xml", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = published.get("/sections/world-news/atom.xml", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_if_modified_since_gives_304_and_etag_takes_precedence(published: FlaskClient) -> None:
    first = published.get("/sections/world-news/rss.xml")
    since = first.headers["Last-Modified"]
    assert (
        published.get(
            "/sections/world-news/rss.xml", headers={"If-Modified-Since": since}
        ).status_code
        == 304
    )
    earlier = format_datetime(parsedate_to_datetime(since).replace(year=2000), usegmt=True)
    assert (
        published.get(
            "/sections/world-news/rss.xml", headers={"If-Modified-Since": earlier}
        ).status_code
        == 200
    )
    # RFC 9110 §13.2.2: a failing If-None-Match wins over a matching If-Modified-Since.
    both = published.get(
        "/sections/world-news/rss.xml",
        headers={"If-None-Match": '"stale"', "If-Modified-Since": since},
    )
    assert both.status_code == 200
    garbage = published.get("/sections/world-news/rss.xml", headers={"If-Modified-Since": "soon"})
    assert garbage.status_code == 200


def test_head_has_headers_and_no_body(published: FlaskClient) -> None:
    get = published.get("/sections/world-news/feed.json")
    head = published.head("/sections/world-news/feed.json")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


def test_gzip_when_accepted_with_its_own_etag(published: FlaskClient) -> None:
    plain = published.get("/sections/world-news/atom.xml")
    zipped = published.get(
        "/sections/world-news/atom.xml", headers={"Accept-Encoding": "gzip, deflate, br"}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    refused = published.get(
        "/sections/world-news/atom.xml", headers={"Accept-Encoding": "gzip;q=0, identity"}
    )
    assert "Content-Encoding" not in refused.headers
    revalidate = published.get(
        "/sections/world-news/atom.xml",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert revalidate.status_code == 304


def test_etag_and_last_modified_move_when_the_feed_changes(
    published: FlaskClient, app: Flask
) -> None:
    before = published.get("/sections/world-news/atom.xml")
    add_article(published, Title="A second story")
    publish(app)
    after = published.get(
        "/sections/world-news/atom.xml", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert parsedate_to_datetime(after.headers["Last-Modified"]) >= parsedate_to_datetime(
        before.headers["Last-Modified"]
    )


def test_serving_never_renders(published: FlaskClient, app: Flask) -> None:
    """An edit is invisible until a publishing pass runs: the web path only reads documents."""
    before = published.get("/sections/world-news/atom.xml").get_data()
    add_article(published, Title="Not yet rendered")
    assert published.get("/sections/world-news/atom.xml").get_data() == before
