"""The WSGI fast path: feed polls answered from memory, no query on a cache hit, no cookies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database
from feedsvc.web.documents import cache
from feedsvc.web.fastpath import document_path
from tests.support.app import make_app
from tests.support.factories import make_section


@pytest.fixture
def cached_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, DOCUMENT_CACHE_SECONDS=60.0)
    make_section(app, "World News")
    run_pass(app)
    yield app
    database(app).dispose()


# The URL contract, spelled out here on purpose: the code builds it from urls.FEED_FILES,
# urls.OPML_PATH and limits.SLUG_PATTERN, and must keep serving exactly these.
SITE_URLS = ["/rss.xml", "/atom.xml", "/feed.json", "/opml.xml"]
SECTION_FILES = ["rss.xml", "atom.xml", "feed.json"]


def test_every_feed_url_of_the_contract_maps_to_its_document() -> None:
    for url in SITE_URLS:
        assert document_path(url) == (url[1:], url)
    for name in SECTION_FILES:
        for slug in ["a", "world-news", "2026-elections"]:
            assert document_path(f"/sections/{slug}/{name}") == (
                f"sections/{slug}/{name}",
                f"/sections/<slug>/{name}",
            )
    for url in ["/index.xml", "/rss.json", "/sections/a/opml.xml", "/sections/a-/rss.xml"]:
        assert document_path(url) is None


def test_feed_urls_map_to_documents_and_nothing_else_does() -> None:
    assert document_path("/atom.xml") == ("atom.xml", "/atom.xml")
    assert document_path("/sections/world-news/feed.json") == (
        "sections/world-news/feed.json",
        "/sections/<slug>/feed.json",
    )
    for other in [
        "/",
        "/admin/",
        "/sections/world-news/",
        "/sections/../atom.xml",
        "/sections/World/atom.xml",
        "/sections/a/b/atom.xml",
        "/atom.xml/",
    ]:
        assert document_path(other) is None


def test_a_cache_hit_runs_no_query(cached_app: Flask) -> None:
    client = cached_app.test_client()
    assert client.get("/sections/world-news/atom.xml").status_code == 200  # fills the cache
    statements: list[str] = []
    engine = database(cached_app).engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(20):
            response = client.get("/sections/world-news/atom.xml")
            assert response.status_code == 200
            etag = response.headers["ETag"]
            assert (
                client.get(
                    "/sections/world-news/atom.xml", headers={"If-None-Match": etag}
                ).status_code
                == 304
            )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


def test_feed_responses_set_no_cookie_and_do_not_vary_on_it(cached_app: Flask) -> None:
    client = cached_app.test_client()
    client.get("/admin/login")  # a session cookie exists in this client now
    response = client.get("/rss.xml")
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"  # shared caches can keep it


def test_post_to_a_feed_url_is_not_served_from_the_cache(cached_app: Flask) -> None:
    response = cached_app.test_client().post("/atom.xml")
    assert response.status_code == 405


def test_cache_stays_within_its_byte_budget(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app = make_app(database_url, tmp_path, DOCUMENT_CACHE_SECONDS=60.0, DOCUMENT_CACHE_MB=0.01)
    request.addfinalizer(database(app).dispose)
    for n in range(6):
        make_section(app, f"Section {n}")
    run_pass(app)
    client = app.test_client()
    documents = cache(app)
    for n in range(6):
        for name in ["rss.xml", "atom.xml", "feed.json"]:
            assert client.get(f"/sections/section-{n}/{name}").status_code == 200
    assert 0 < documents.size_bytes <= 0.01 * 1024 * 1024
    # A flood of made-up paths is remembered as misses, but only up to the budget.
    for n in range(500):
        assert client.get(f"/sections/nope-{n}/atom.xml").status_code == 404
    assert documents.size_bytes <= 0.01 * 1024 * 1024
    assert len(documents) < 500
