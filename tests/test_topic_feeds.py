"""Tag and author feeds: what they hold, when they are rendered, where they are served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import event, select

from feedsvc import nginxconf
from feedsvc.articles import (
    ArticleInput,
    create_article,
    delete_article,
    get_article,
    input_of,
    update_article,
)
from feedsvc.publishing.passes import run_pass
from feedsvc.scopes import Scope, scope_rows
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, FeedDocument, utcnow
from feedsvc.storage.topics import Topic
from feedsvc.web.fastpath import document_path
from tests.support.app import make_app
from tests.support.factories import BASE_URL, make_section
from tests.support.feedcheck import entries, feed_title

FORMATS = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def store(app: Flask, section_id: int, title: str, tags: tuple[str, ...] = (), **kw: Any) -> int:
    data = ArticleInput(title=title, section_id=section_id, body=f"{title}.", tags=tags, **kw)
    with transaction(app) as s:
        return create_article(s, data, base_url=BASE_URL).id


def edit(app: Flask, article_id: int, **changes: Any) -> None:
    with transaction(app) as s:
        current = input_of(get_article(s, article_id))
        fields = {**current.__dict__, **changes}
        update_article(s, article_id, ArticleInput(**fields), base_url=BASE_URL)


def document(app: Flask, path: str) -> bytes:
    with transaction(app, write=False) as s:
        doc = s.get(FeedDocument, path)
        assert doc is not None, f"{path} is not stored"
        return doc.body


def titles(app: Flask, path: str, fmt: str = "atom") -> list[str]:
    return [e.title for e in entries(fmt, document(app, path))]


def topic_id(app: Flask, kind: str, slug: str) -> int:
    with transaction(app, write=False) as s:
        return s.scalars(select(Topic.id).where(Topic.kind == kind, Topic.slug == slug)).one()


@pytest.fixture
def newsroom(app: Flask) -> Flask:
    """Two sections; tags "Fares" and "Cities"; authors Ana López and Bo."""
    world, city = make_section(app, "World"), make_section(app, "City")
    store(app, world, "Oldest fares", ("Fares",), author="Ana López", publish_at=T0)
    store(
        app,
        city,
        "City fares",
        ("Cities", "Fares"),
        author="Bo",
        publish_at=T0 + timedelta(hours=1),
    )
    store(app, city, "Draft fares", ("Fares",), status="draft")
    store(
        app,
        world,
        "Newest fares",
        ("fares",),
        author="ana lopez",
        publish_at=T0 + timedelta(hours=2),
    )
    store(app, world, "Untagged", author="Bo", publish_at=T0 + timedelta(hours=3))
    store(app, world, "Scheduled", ("Fares",), publish_at=utcnow() + timedelta(days=1))
    return app


def test_tag_and_author_feeds_hold_exactly_their_articles_newest_first(newsroom: Flask) -> None:
    run_pass(newsroom)
    expected = {
        "tags/fares": ["Newest fares", "City fares", "Oldest fares"],
        "tags/cities": ["City fares"],
        "authors/ana-lopez": ["Newest fares", "Oldest fares"],
        "authors/bo": ["Untagged", "City fares"],
    }
    for folder, wanted in expected.items():
        for fmt, name in FORMATS.items():
            body = document(newsroom, f"{folder}/{name}")  # valid: entries() checks it
            assert [e.title for e in entries(fmt, body)] == wanted, (folder, fmt)
    assert feed_title("atom", document(newsroom, "tags/fares/atom.xml")).endswith(": Fares")
    assert "Ana López" in feed_title("rss", document(newsroom, "authors/ana-lopez/rss.xml"))


def test_every_item_carries_its_section_then_its_tags_as_categories(newsroom: Flask) -> None:
    run_pass(newsroom)
    for path in ("sections/city", "tags/fares", "authors/bo", ""):
        for fmt, name in FORMATS.items():
            body = document(newsroom, f"{path}/{name}".lstrip("/"))
            by_title = {e.title: e.tags for e in entries(fmt, body)}
            if "City fares" in by_title:
                assert by_title["City fares"] == ["City", "Cities", "Fares"], (path, fmt)
    rss = etree.fromstring(document(newsroom, "tags/cities/rss.xml"))
    assert rss.xpath("//item/category/text()") == ["City", "Cities", "Fares"]
    atom = etree.fromstring(document(newsroom, "tags/cities/atom.xml"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert atom.xpath("//a:entry/a:category/@term", namespaces=ns) == ["City", "Cities", "Fares"]


def test_an_edit_renders_its_tag_feeds_again_and_a_removed_tag_drops_it(newsroom: Flask) -> None:
    run_pass(newsroom)
    fares, cities = topic_id(newsroom, "tag", "fares"), topic_id(newsroom, "tag", "cities")
    bo = topic_id(newsroom, "author", "bo")
    assert run_pass(newsroom).topics_rendered == []  # nothing changed: nothing rendered
    article = _article_id(newsroom, "City fares")
    edit(newsroom, article, title="City fares, revised")
    result = run_pass(newsroom)
    assert sorted(result.topics_rendered) == sorted([fares, cities, bo])
    assert titles(newsroom, "tags/cities/atom.xml") == ["City fares, revised"]
    edit(newsroom, article, tags=("Fares",))  # "Cities" removed
    result = run_pass(newsroom)
    assert cities in result.topics_rendered
    # Its last article went: the feed stays, empty and valid (subscriptions keep working).
    for fmt, name in FORMATS.items():
        assert entries(fmt, document(newsroom, f"tags/cities/{name}")) == []
    assert "City fares, revised" in titles(newsroom, "tags/fares/atom.xml")


def test_deleting_an_article_drops_it_from_its_tag_and_author_feeds(newsroom: Flask) -> None:
    run_pass(newsroom)
    with transaction(newsroom) as s:
        delete_article(s, _article_id(newsroom, "Newest fares"))
    run_pass(newsroom)
    assert titles(newsroom, "tags/fares/atom.xml") == ["City fares", "Oldest fares"]
    assert titles(newsroom, "authors/ana-lopez/rss.xml", "rss") == ["Oldest fares"]


def test_a_scheduled_article_comes_due_in_its_tag_feed(app: Flask) -> None:
    world = make_section(app, "World")
    now = utcnow()
    store(app, world, "Now", ("Energy",), publish_at=now - timedelta(minutes=1))
    store(app, world, "Embargoed", ("Energy",), publish_at=now + timedelta(minutes=30))
    run_pass(app, now=now)
    assert titles(app, "tags/energy/atom.xml") == ["Now"]
    energy = topic_id(app, "tag", "energy")
    assert energy not in run_pass(app, now=now + timedelta(minutes=29)).topics_rendered
    due = run_pass(app, now=now + timedelta(minutes=30))
    assert energy in due.topics_rendered
    assert titles(app, "tags/energy/atom.xml") == ["Embargoed", "Now"]


def test_a_full_rebuild_renders_topics_and_unchanged_ones_rewrite_nothing(newsroom: Flask) -> None:
    run_pass(newsroom)
    result = run_pass(newsroom, full=True)
    with transaction(newsroom, write=False) as s:
        assert sorted(result.topics_rendered) == sorted(s.scalars(select(Topic.id)))
    assert result.documents_changed == 0


def test_scope_rows_of_every_kind(newsroom: Flask) -> None:
    fares = topic_id(newsroom, "tag", "fares")
    with transaction(newsroom, write=False) as s:

        def read(key: str, limit: int = 50) -> list[str]:
            return [r.title for r in scope_rows(s, Scope.parse(key), utcnow(), limit)]

        assert read(f"tag:{fares}") == ["Newest fares", "City fares", "Oldest fares"]
        assert read(f"tag:{fares}", 2) == ["Newest fares", "City fares"]
        assert read("site")[:2] == ["Untagged", "Newest fares"]
        assert read("section:2") == ["City fares"]


def test_opml_lists_tag_and_author_feeds_in_folders(newsroom: Flask) -> None:
    run_pass(newsroom)
    opml = etree.fromstring(document(newsroom, "opml.xml"))
    groups = {
        g.get("text"): [(o.get("text"), o.get("xmlUrl")) for o in g.iterfind("outline")]
        for g in opml.iterfind("body/outline")
        if g.get("xmlUrl") is None
    }
    site = "http://feeds.example.org"
    assert groups == {
        "Tags": [
            ("Cities", f"{site}/tags/cities/rss.xml"),
            ("Fares", f"{site}/tags/fares/rss.xml"),
        ],
        "Authors": [
            ("Ana López", f"{site}/authors/ana-lopez/rss.xml"),
            ("Bo", f"{site}/authors/bo/rss.xml"),
        ],
    }
    # A new tag puts the OPML list on the next pass's work.
    store(newsroom, 1, "Energy story", ("Energy",))
    run_pass(newsroom)
    assert f"{site}/tags/energy/rss.xml".encode() in document(newsroom, "opml.xml")


def test_the_fast_path_and_flask_serve_topic_feeds(newsroom: Flask) -> None:
    for kind in ("tags", "authors"):
        for name in FORMATS.values():
            assert document_path(f"/{kind}/a-b/{name}") == (
                f"{kind}/a-b/{name}",
                f"/{kind}/<slug>/{name}",
            )
    for other in ("/tags/A/rss.xml", "/tags/a/b/rss.xml", "/tag/a/rss.xml", "/tags/a/opml.xml"):
        assert document_path(other) is None
    run_pass(newsroom)
    client = newsroom.test_client()
    response = client.get("/tags/fares/atom.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    assert response.get_data() == document(newsroom, "tags/fares/atom.xml")
    etag = response.headers["ETag"]
    assert client.get("/tags/fares/atom.xml", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/authors/bo/feed.json").status_code == 200
    for url in ("/tags/nope/rss.xml", "/authors/fares/rss.xml", "/tags/" + "a" * 81 + "/rss.xml"):
        assert client.get(url).status_code == 404


def test_an_unknown_tag_is_asked_about_once_then_answered_without_a_query(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(database_url, tmp_path, DOCUMENT_CACHE_SECONDS=60.0)
    make_section(app, "World")
    run_pass(app)
    client = app.test_client()
    client.get("/rss.xml")
    assert client.get("/tags/nope/rss.xml").status_code == 404
    with _queries(app) as statements:
        for _ in range(5):
            assert client.get("/tags/nope/rss.xml").status_code == 404
    assert statements == []
    database(app).dispose()


def test_the_export_and_nginx_serve_topic_feeds(database_url: str, tmp_path: Path) -> None:
    export = tmp_path / "export"
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(export))
    store(app, make_section(app, "World"), "Story", ("Fares",), author="Bo")
    run_pass(app)
    for path in ("tags/fares/atom.xml", "authors/bo/feed.json", "tags/fares/rss.xml.gz"):
        assert (export / path).is_file(), path
    assert (export / "tags/fares/atom.xml").read_bytes() == document(app, "tags/fares/atom.xml")
    database(app).dispose()
    conf = nginxconf.TEMPLATE.read_text()
    patterns = re.findall(r"location ~ (\^/\S+\$) \{", conf)
    for url in ("/tags/fares/rss.xml", "/authors/bo/atom.xml", "/sections/world/feed.json"):
        assert sum(bool(re.fullmatch(p.strip("^$"), url)) for p in patterns) == 1, url


def _article_id(app: Flask, title: str) -> int:
    with transaction(app, write=False) as s:
        return s.scalars(select(Article.id).where(Article.title == title)).one()


@contextmanager
def _queries(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = database(app).engine

    def listener(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _topic_documents(app: Flask) -> dict[str, bytes]:
    with transaction(app, write=False) as s:
        docs = s.scalars(select(FeedDocument).where(FeedDocument.path.like("%s/%/%")))
        return {d.path: d.body for d in docs if d.path.startswith(("tags/", "authors/"))}


def test_topics_rendered_in_processes_are_the_bytes_of_one_process(
    newsroom: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc.publishing import renderpool

    run_pass(newsroom, full=True)  # a handful of topics: rendered in this process
    serial = _topic_documents(newsroom)
    assert len(serial) == 4 * 3
    with transaction(newsroom) as s:
        for path in serial:
            s.delete(s.get(FeedDocument, path))
    monkeypatch.setattr(renderpool, "MIN_SECTIONS", 2)
    newsroom.config["RENDER_PROCESSES"] = 2
    result = run_pass(newsroom, full=True)
    assert not result.failures and len(result.topics_rendered) == 4
    assert _topic_documents(newsroom) == serial
