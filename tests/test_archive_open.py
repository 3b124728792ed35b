"""The open archive page moves in steps: most new articles leave it alone, history stays whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, insert, select, update

from feedsvc.articles import delete_article, input_of, update_article
from feedsvc.settings import SettingsError
from feedsvc.storage.archives import ArchiveScope
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, FeedDocument
from tests.support.app import SITE_URL, make_app
from tests.support.archived import bulk_articles, settle
from tests.support.archivewalk import FILES, get, read, walk
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.published import publish

WINDOW, PAGE, STEP = 25, 40, 5
FEED = f"{SITE_URL}/sections/steps/atom.xml"


@pytest.fixture
def stepped(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, int]]:
    """A section whose feed shows 25 items, archived in pages of 40, its open page in steps
    of 5; 77 articles to start with (one closed page, the rest in the feed and open page)."""
    app = make_app(
        database_url, tmp_path, ARCHIVE_PAGE_ITEMS=PAGE, ARCHIVE_OPEN_STEP=STEP, SITE_FEED_ITEMS=25
    )
    section = make_section(app, "Steps", slug="steps", items_per_feed=WINDOW)
    bulk_articles(app, section, 77, label="Old")
    settle(app)
    yield app, section
    database(app).dispose()


def published_guids(app: Flask) -> list[str]:
    with transaction(app, write=False) as s:
        return sorted(s.scalars(select(Article.guid).where(Article.status == "published")))


def check_whole(app: Flask, client: FlaskClient) -> list[str]:
    """Every format's walk from the feed meets each published article exactly once; returns
    the archive page URLs (Atom), newest first."""
    pages: list[str] = []
    for fmt, name in FILES.items():
        for feed in (f"{SITE_URL}/sections/steps/{name}", f"{SITE_URL}/{name}"):
            ids, found = walk(client, fmt, feed)
            assert sorted(ids) == published_guids(app), (fmt, feed)
            if fmt == "atom" and "steps" in feed:
                pages = found
    return pages


def feed_size(client: FlaskClient) -> int:
    return len(read("atom", get(client, FEED).get_data())[0])


def test_new_articles_move_the_open_page_once_per_step(stepped: tuple[Flask, int]) -> None:
    app, section = stepped
    client = app.test_client()
    open_url = check_whole(app, client)[0]
    versions = [get(client, open_url).headers["ETag"]]
    sizes = [feed_size(client)]
    for i in range(2 * STEP):
        make_article(app, section, f"New {i}")
        settle(app)
        pages = check_whole(app, client)
        if pages[0] != open_url:  # a page closed: the open page is a new number now
            break
        versions.append(get(client, open_url).headers["ETag"])
        sizes.append(feed_size(client))
    # The feed never shows fewer than its window nor a whole step more.
    assert all(WINDOW <= n < WINDOW + STEP for n in sizes), sizes
    # Ten new articles: the open page took a step of items at most twice, and the feed
    # grew between steps rather than pushing one item out each time.
    changes = sum(a != b for a, b in pairwise(versions))
    assert 1 <= changes <= 2, versions
    assert len(set(sizes)) > 2, sizes


def test_a_page_still_closes_and_history_stays_whole(stepped: tuple[Flask, int]) -> None:
    app, section = stepped
    client = app.test_client()
    before = len(check_whole(app, client))
    for i in range(PAGE):
        make_article(app, section, f"Later {i}")
    settle(app)
    assert len(check_whole(app, client)) == before + 1


def test_deleting_from_the_feed_pulls_items_back_from_the_open_page(
    stepped: tuple[Flask, int],
) -> None:
    app, _section = stepped
    client = app.test_client()
    check_whole(app, client)
    newest = read("atom", get(client, FEED).get_data())[0]
    with transaction(app, write=False) as s:
        ids = [s.scalar(select(Article.id).where(Article.guid == g)) for g in newest]
    # Delete all but the window's last few: the feed must still show its window.
    for article_id in ids[: len(ids) - WINDOW + STEP]:
        with transaction(app) as s:
            assert article_id is not None
            delete_article(s, article_id)
    settle(app)
    check_whole(app, client)
    assert feed_size(client) >= WINDOW


def test_editing_an_article_on_the_open_page_renders_it_again(
    stepped: tuple[Flask, int],
) -> None:
    app, _section = stepped
    client = app.test_client()
    open_url = check_whole(app, client)[0]
    on_page = read("atom", get(client, open_url).get_data())[0]
    assert on_page, "the open page holds items"
    with transaction(app) as s:
        article = s.scalar(select(Article).where(Article.guid == on_page[0]))
        assert article is not None
        update_article(
            s,
            article.id,
            replace(input_of(article), title="Fixed on the open page"),
            base_url=BASE_URL,
        )
    settle(app)
    assert b"Fixed on the open page" in get(client, open_url).get_data()
    check_whole(app, client)


def test_an_open_page_left_waiting_is_rendered_by_the_next_pass(
    stepped: tuple[Flask, int],
) -> None:
    # As an upgrade leaves it (migration 0015): the open page flagged, its documents missing.
    app, _section = stepped
    client = app.test_client()
    open_url = check_whole(app, client)[0]
    page = open_url.removeprefix(f"{SITE_URL}/").rsplit("/", 1)[0]
    with transaction(app) as s:
        s.execute(delete(FeedDocument).where(FeedDocument.path.startswith(f"{page}/")))
        s.execute(update(ArchiveScope).values(open_dirty=True))
    publish(app)  # nothing else is due: the flag alone brings the page back
    with transaction(app, write=False) as s:
        stored = s.scalars(select(FeedDocument.path).where(FeedDocument.path.startswith(page)))
        assert sorted(stored) == sorted(f"{page}/{name}" for name in FILES.values())
    assert check_whole(app, client)[0] == open_url


def test_a_waiting_open_page_of_a_feed_that_is_gone_is_dropped(
    stepped: tuple[Flask, int],
) -> None:
    # A tag removed by hand from the database, its open page still waiting to be rendered.
    app, _section = stepped
    with transaction(app) as s:
        s.execute(insert(ArchiveScope).values(feed_key="tag:999", open_page=True, open_dirty=True))
    publish(app)  # no failure: the feed is skipped, its flag cleared
    with transaction(app, write=False) as s:
        flagged = s.scalars(select(ArchiveScope.feed_key).where(ArchiveScope.open_dirty)).all()
    assert flagged == []
    check_whole(app, app.test_client())


def test_step_one_keeps_the_feed_at_exactly_its_window(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, ARCHIVE_PAGE_ITEMS=PAGE, ARCHIVE_OPEN_STEP=1)
    try:
        section = make_section(app, "Steps", slug="steps", items_per_feed=WINDOW)
        bulk_articles(app, section, 77, label="Old")
        settle(app)
        client = app.test_client()
        for i in range(3):
            make_article(app, section, f"New {i}")
            settle(app)
            assert feed_size(client) == WINDOW
            ids, _pages = walk(client, "atom", FEED)
            assert len(ids) == len(set(ids)) == 77 + i + 1
    finally:
        database(app).dispose()


@pytest.mark.parametrize("step", [0, PAGE + 1])
def test_a_step_outside_one_to_a_page_is_refused(
    database_url: str, tmp_path: Path, step: int
) -> None:
    with pytest.raises(SettingsError, match="ARCHIVE_OPEN_STEP"):
        make_app(database_url, tmp_path, ARCHIVE_PAGE_ITEMS=PAGE, ARCHIVE_OPEN_STEP=step)
