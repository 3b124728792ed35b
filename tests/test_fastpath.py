"""The WSGI fast path: feed polls answered from memory, no query on a cache hit, no cookies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database
from feedsvc.web.documents import DocumentCache, cache
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
    assert response.headers["Vary"] == "Accept, Accept-Encoding"  # shared caches can keep it


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
    # A flood of made-up paths is remembered as misses, apart from the documents.
    kept = len(documents)
    for n in range(500):
        assert client.get(f"/sections/nope-{n}/atom.xml").status_code == 404
    assert documents.size_bytes <= 0.01 * 1024 * 1024
    assert len(documents) == kept
    assert documents.misses == 500


@contextmanager
def _queries(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs."""
    statements: list[str] = []
    engine = database(app).engine

    def listener(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _selects(statements: list[str]) -> list[str]:
    # SQLite's driver also shows its BEGINs: only what asks the database something counts.
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_a_made_up_slug_costs_queries_once_then_none(cached_app: Flask) -> None:
    client = cached_app.test_client()
    client.get("/rss.xml")  # the documents generation is read: nothing else left to ask
    with _queries(cached_app) as first:
        assert client.get("/sections/made-up/rss.xml").status_code == 404
    # The document (nothing stored) and the section (none such): asked once.
    selects = _selects(first)
    assert len(selects) == 2, selects
    assert "feed_documents" in selects[0] and "sections" in selects[1]
    with _queries(cached_app) as later:
        for _ in range(20):
            assert client.get("/sections/made-up/rss.xml").status_code == 404
            assert client.head("/sections/made-up/rss.xml").status_code == 404
    assert later == []
    assert cache(cached_app).misses == 1
    assert len(cache(cached_app)) == 1  # /rss.xml: misses take no room among the documents


def test_a_section_not_rendered_yet_is_asked_once_too(cached_app: Flask) -> None:
    make_section(cached_app, "Sport")  # no publishing pass: its feeds do not exist yet
    client = cached_app.test_client()
    assert client.get("/sections/sport/atom.xml").status_code == 503
    with _queries(cached_app) as later:
        for _ in range(10):
            response = client.get("/sections/sport/atom.xml")
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "5"  # one tick
    assert later == []


@pytest.mark.parametrize(
    "url",
    [
        "/sections/" + "a" * 81 + "/rss.xml",  # longer than any slug (limits.SLUG_MAX = 80)
        "/sections/World/rss.xml",
        "/sections/world_news/atom.xml",
        "/sections/-world/feed.json",
    ],
)
def test_a_slug_no_section_can_have_costs_no_query_at_all(cached_app: Flask, url: str) -> None:
    client = cached_app.test_client()
    client.get("/rss.xml")  # the documents generation is read: nothing else left to ask
    with _queries(cached_app) as statements:
        assert client.get(url).status_code == 404
    assert statements == []
    assert cache(cached_app).misses == 0


def test_a_flood_of_made_up_slugs_never_evicts_a_real_feed(
    cached_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = cached_app.test_client()
    documents = cache(cached_app)
    real = "/sections/world-news/atom.xml"
    body = client.get(real).get_data()
    assert len(documents) == 1
    # End to end, a few hundred (each first miss is two queries and a 404 page) ...
    for n in range(300):
        assert client.get(f"/sections/flood-{n}/rss.xml").status_code == 404
    assert documents.misses == 300
    # ... then 50 000 more straight at the cache, whose database knows none of them.
    asked: list[str] = []

    def nothing_stored(path: str, current: object) -> None:
        asked.append(path)

    with monkeypatch.context() as m:
        m.setattr(documents, "_load", nothing_stored)
        for n in range(50_000):
            assert documents.get(f"sections/more-{n}/rss.xml") is None
            assert documents.misses <= DocumentCache.MAX_MISSES
    assert len(asked) == 50_000  # each new path asked once, none of them kept as a document
    assert len(documents) == 1  # the real feed is still there: misses are kept apart
    with _queries(cached_app) as statements:
        response = client.get(real)
    assert (response.status_code, response.get_data()) == (200, body)
    assert statements == []  # from memory


def test_misses_are_asked_again_once_the_documents_change(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # DOCUMENT_CACHE_SECONDS 0: the generation is read on every request, nothing else.
    app = make_app(database_url, tmp_path)
    request.addfinalizer(database(app).dispose)
    client = app.test_client()
    assert client.get("/sections/sport/rss.xml").status_code == 404
    make_section(app, "Sport")
    # Still the remembered answer: creating a section changes no document. Its first
    # rendering does, moments later (WATCH_SECONDS), and the miss is forgotten then.
    assert client.get("/sections/sport/rss.xml").status_code == 404
    run_pass(app)
    assert client.get("/sections/sport/rss.xml").status_code == 200
    assert cache(app).misses == 0
