"""RFC 5005 §4 archived feeds: following prev-archive from a feed reaches every article once,
closed pages keep their bytes unless one of their own articles changes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc.articles import delete_article, input_of, update_article
from feedsvc.sections import SectionInput, update_section
from feedsvc.storage.archives import ArchivePage
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article
from feedsvc.web.fastpath import document_path
from tests.support.app import SITE_URL, make_app
from tests.support.archived import bulk_articles, settle
from tests.support.archivewalk import FILES, get, walk
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.published import publish

START = datetime(2025, 1, 1, tzinfo=UTC)
ARTICLES = 1000


def published_guids(app: Flask, section_id: int | None = None) -> set[str]:
    with transaction(app, write=False) as s:
        query = select(Article.guid).where(Article.status == "published")
        if section_id is not None:
            query = query.where(Article.section_id == section_id)
        return set(s.scalars(query))


@pytest.fixture
def archived(app: Flask) -> tuple[int, int]:
    """A section of 1,000 published articles (its feed shows 50) and a small second one."""
    big = make_section(app, "Archive Big", slug="big")
    small = make_section(app, "Archive Small", slug="small", items_per_feed=10)
    bulk_articles(app, big, ARTICLES, label="Big")
    bulk_articles(app, small, 30, label="Small")
    settle(app)
    return big, small


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_walking_prev_archive_reaches_every_article_once(
    app: Flask, client: FlaskClient, archived: tuple[int, int], fmt: str
) -> None:
    big, small = archived
    for feed_path, section_id in (
        (f"sections/big/{FILES[fmt]}", big),
        (f"sections/small/{FILES[fmt]}", small),
        (FILES[fmt], None),
    ):
        ids, pages = walk(client, fmt, f"{SITE_URL}/{feed_path}")
        assert len(ids) == len(set(ids)), f"{feed_path}: an article appears twice"
        assert set(ids) == published_guids(app, section_id), feed_path
        assert pages, f"{feed_path} has no archive"
        # Page n of the feed at n's URL, numbered from the oldest (page 1 links no older one).
        base = feed_path.rsplit("/", 1)[0] + "/" if "/" in feed_path else ""
        assert pages[-1] == f"{SITE_URL}/{base}archive/1/{FILES[fmt]}"
    # 1,000 items, 50 in the feed, 100 per closed page: 9 closed pages and the open one.
    assert len(walk(client, fmt, f"{SITE_URL}/sections/big/{FILES[fmt]}")[1]) == 10


def snapshot(client: FlaskClient, page: int) -> dict[str, tuple[str, bytes]]:
    """A closed page's ETag and bytes in every format."""
    out = {}
    for fmt, name in FILES.items():
        response = get(client, f"{SITE_URL}/sections/big/archive/{page}/{name}")
        out[fmt] = (response.headers["ETag"], response.get_data())
    return out


def guid_on_page(client: FlaskClient, page: int) -> str:
    body = get(client, f"{SITE_URL}/sections/big/archive/{page}/feed.json").get_data()
    return str(json.loads(body)["items"][10]["id"])


def article_id(app: Flask, guid: str) -> int:
    with transaction(app, write=False) as s:
        found = s.scalar(select(Article.id).where(Article.guid == guid))
        assert found is not None
        return found


def test_closed_pages_change_only_with_their_own_articles(
    app: Flask, client: FlaskClient, archived: tuple[int, int]
) -> None:
    big, _small = archived
    closed = get(client, f"{SITE_URL}/sections/big/archive/2/atom.xml")
    # A closed page may be kept long; the open (newest) page and the feed only for a tick.
    assert closed.headers["Cache-Control"] == "public, max-age=86400"
    open_page = get(client, f"{SITE_URL}/sections/big/archive/10/atom.xml")
    assert open_page.headers["Cache-Control"] == "public, max-age=5"
    page2 = snapshot(client, 2)

    # A newer article: pushes an item out of the feed into the open page, not into page 2.
    make_article(app, big, "Fresh news")
    settle(app)
    assert snapshot(client, 2) == page2

    # Deleting an article of page 5: page 5 changes, page 2 does not.
    page5 = snapshot(client, 5)
    gone = guid_on_page(client, 5)
    with transaction(app) as s:
        delete_article(s, article_id(app, gone))
    settle(app)
    assert snapshot(client, 2) == page2
    page5_after = snapshot(client, 5)
    assert page5_after != page5
    assert gone not in page5_after["json"][1].decode()

    # Editing an article of page 2 re-renders page 2 (and shows the new title).
    edited = guid_on_page(client, 2)
    with transaction(app) as s:
        article = s.get(Article, article_id(app, edited))
        assert article is not None
        data = replace(input_of(article), title="Corrected headline")
        update_article(s, article.id, data, base_url=BASE_URL)
    settle(app)
    after = snapshot(client, 2)
    assert after["atom"][0] != page2["atom"][0]
    assert b"Corrected headline" in after["atom"][1]
    assert snapshot(client, 5) == page5_after  # another page's edit leaves it alone

    # Still every article exactly once, in every format.
    for fmt in FILES:
        ids, _pages = walk(client, fmt, f"{SITE_URL}/sections/big/{FILES[fmt]}")
        assert sorted(ids) == sorted(published_guids(app, big))


def test_a_small_feed_has_no_archive(app: Flask, client: FlaskClient) -> None:
    section = make_section(app, "Tiny", slug="tiny", items_per_feed=10)
    make_article(app, section, "Only one")
    publish(app)
    ids, pages = walk(client, "atom", f"{SITE_URL}/sections/tiny/atom.xml")
    assert len(ids) == 1 and pages == []
    assert client.get("/sections/tiny/archive/1/atom.xml").status_code in (404, 503)


def test_a_first_backfill_spreads_over_passes(app: Flask) -> None:
    section = make_section(app, "Backfill", slug="backfill")
    bulk_articles(app, section, ARTICLES, label="Old")
    publish(app)
    with transaction(app, write=False) as s:
        first = len(s.scalars(select(ArchivePage.page)).all())
    # ARCHIVE_PAGES_PER_PASS (8) pages in the first pass, of the 18 the two feeds need.
    assert first == 8
    settle(app)
    with transaction(app, write=False) as s:
        assert len(s.scalars(select(ArchivePage.page)).all()) == 18


def test_the_export_holds_the_archive_pages(database_url: str, tmp_path: Path) -> None:
    export = tmp_path / "export"
    app = make_app(
        database_url, tmp_path, EXPORT_DIR=str(export), ARCHIVE_PAGE_ITEMS=10, SITE_FEED_ITEMS=10
    )
    try:
        section = make_section(app, "Exported", slug="exported", items_per_feed=10)
        bulk_articles(app, section, 45, label="Exported")
        settle(app)
        client = app.test_client()
        for path in ("sections/exported/archive/1/atom.xml", "archive/2/feed.json"):
            served = client.get(f"/{path}")
            assert served.status_code == 200
            assert (export / path).read_bytes() == served.get_data()
    finally:
        database(app).dispose()


def test_a_renamed_section_renders_its_pages_again_at_the_new_path(
    app: Flask, client: FlaskClient
) -> None:
    app.config.update(ARCHIVE_PAGE_ITEMS=10)
    section = make_section(app, "Before", slug="before", items_per_feed=10)
    bulk_articles(app, section, 45, label="Item")
    settle(app)
    old = get(client, f"{SITE_URL}/sections/before/archive/1/atom.xml").get_data()
    with transaction(app) as s:
        update_section(s, section, SectionInput(name="After", slug="after", items_per_feed=10))
    settle(app)
    ids, pages = walk(client, "atom", f"{SITE_URL}/sections/after/atom.xml")
    assert sorted(ids) == sorted(published_guids(app, section))
    assert pages[-1] == f"{SITE_URL}/sections/after/archive/1/atom.xml"
    renamed = get(client, pages[-1]).get_data()
    assert b"After" in renamed and b"Before" not in renamed and renamed != old


def test_archive_urls_reach_the_fast_path_and_nothing_else(client: FlaskClient) -> None:
    assert document_path("/archive/3/atom.xml") == ("archive/3/atom.xml", "/archive/<n>/atom.xml")
    assert document_path("/sections/world/archive/12/feed.json") == (
        "sections/world/archive/12/feed.json",
        "/sections/<slug>/archive/<n>/feed.json",
    )
    for path in ("/archive/0/atom.xml", "/archive/x/atom.xml", "/archive/3/index.html"):
        assert document_path(path) is None
    # No such section: 404, as for its feeds; a page number no feed has: 404.
    assert client.get("/sections/nowhere/archive/1/rss.xml").status_code == 404
    assert client.get("/archive/0/rss.xml").status_code == 404
