"""Publishing passes: what counts as changed, what is rewritten, and what stays put."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from feedsvc.db import transaction
from feedsvc.models import FeedDocument, utcnow
from feedsvc.publishing import run_pass, sections_due
from tests.helpers import new_article, new_section

BASE = "http://feeds.example.org/"


def _documents(app: Flask) -> dict[str, tuple[str, datetime]]:
    with transaction(app, write=False) as s:
        rows = s.execute(select(FeedDocument.path, FeedDocument.etag, FeedDocument.last_modified))
        return {path: (etag, modified) for path, etag, modified in rows}


def test_only_changed_sections_render(app: Flask) -> None:
    world, business = new_section(app, "World"), new_section(app, "Business")
    first = run_pass(app)
    assert sorted(first.sections_rendered) == [world, business] and first.site_rendered
    assert run_pass(app).sections_rendered == []  # nothing changed: nothing rendered
    new_article(app, business, "Markets")
    again = run_pass(app)
    assert again.sections_rendered == [business] and again.site_rendered


def test_every_document_is_stored_for_every_section(app: Flask) -> None:
    new_section(app, "World News")
    run_pass(app)
    assert set(_documents(app)) == {
        "sections/world-news/rss.xml",
        "sections/world-news/atom.xml",
        "sections/world-news/feed.json",
        "rss.xml",
        "atom.xml",
        "feed.json",
        "opml.xml",
    }


def test_full_rebuild_of_unchanged_data_rewrites_nothing(app: Flask) -> None:
    section = new_section(app, "World")
    new_article(app, section, "Story")
    run_pass(app)
    before = _documents(app)
    result = run_pass(app, full=True, now=utcnow() + timedelta(minutes=5))
    assert result.documents_changed == 0
    assert _documents(app) == before  # same ETags, same Last-Modified


def test_scheduled_article_makes_its_section_due_only_when_the_time_comes(app: Flask) -> None:
    world = new_section(app, "World")
    new_section(app, "Business")  # must never come due: the article is not in it
    at = utcnow() + timedelta(minutes=30)
    new_article(app, world, "Embargoed", when=at)
    run_pass(app)
    with transaction(app, write=False) as s:
        assert sections_due(s, at - timedelta(seconds=1)) == []
        assert sections_due(s, at) == [world]
    run_pass(app, now=at)
    with transaction(app, write=False) as s:
        assert sections_due(s, at + timedelta(minutes=1)) == []


def test_last_modified_only_moves_forward_with_content(app: Flask) -> None:
    section = new_section(app, "World")
    new_article(app, section, "One", when=datetime(2020, 1, 1, tzinfo=UTC))
    run_pass(app)
    first = _documents(app)["sections/world/atom.xml"]
    new_article(app, section, "Older, backdated", when=datetime(2019, 1, 1, tzinfo=UTC))
    run_pass(app)
    second = _documents(app)["sections/world/atom.xml"]
    assert second[0] != first[0]
    # Backdated content must still look newer to If-Modified-Since clients.
    assert second[1] >= first[1]
