"""Deletions readers can see: RFC 6721 at:deleted-entry in the Atom feeds, 410 for the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from feedsvc import feeds
from feedsvc.storage.db import transaction
from feedsvc.storage.history import Tombstone
from feedsvc.storage.models import utcnow
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.forms import delete_article, edit_article
from tests.support.published import fetch, publish
from tests.support.tombstones import entry_ids, tombstones

WORLD, SPORT, SITE = "/sections/world-news/atom.xml", "/sections/sport/atom.xml", "/atom.xml"


def two_sections(app: Flask) -> tuple[int, int]:
    return make_section(app, "World News"), make_section(app, "Sport")


def test_a_deleted_article_is_announced_in_the_atom_feeds_that_carried_it(
    editor: FlaskClient, app: Flask
) -> None:
    world, sport = two_sections(app)
    hour_ago = utcnow() - timedelta(hours=1)
    gone = make_article(app, world, "Withdrawn", when=hour_ago)
    make_article(app, world, "Stays", when=hour_ago)
    make_article(app, sport, "Match report", when=hour_ago)
    publish(app)
    published_ids = entry_ids(editor, WORLD)
    assert len(published_ids) == 2 and tombstones(editor, WORLD) == {}
    withdrawn = feedparser.parse(fetch(editor, WORLD)).entries
    ref = next(e.id for e in withdrawn if e.title == "Withdrawn")
    assert ref in published_ids

    before = utcnow()
    delete_article(editor, gone)
    publish(app)
    after = utcnow()
    for path in (WORLD, SITE):
        found = tombstones(editor, path)
        assert list(found) == [ref], path  # the id exactly as the entry carried it
        assert before <= found[ref] <= after
        assert ref not in entry_ids(editor, path)
    # The other section's feed never carried it; RSS and JSON Feed stay valid without it.
    assert tombstones(editor, SPORT) == {}
    check_rss(fetch(editor, "/sections/world-news/rss.xml"))
    check_json(fetch(editor, "/sections/world-news/feed.json"))
    page = editor.get(f"/articles/{gone}")
    assert page.status_code == 410 and page.mimetype == "text/html"
    assert "withdrawn" in page.get_data(as_text=True)


def test_unpublishing_announces_it_and_republishing_brings_it_back_newer(
    editor: FlaskClient, app: Flask
) -> None:
    world, _sport = two_sections(app)
    story = make_article(app, world, "Second thoughts", when=utcnow() - timedelta(hours=2))
    publish(app)
    [ref] = entry_ids(editor, WORLD)
    assert editor.get(f"/articles/{story}").status_code == 200

    edit_article(editor, story, Status="draft")
    publish(app)
    assert list(tombstones(editor, WORLD)) == [ref] and list(tombstones(editor, SITE)) == [ref]
    assert entry_ids(editor, WORLD) == []
    assert app.test_client().get(f"/articles/{story}").status_code == 410

    edit_article(editor, story, Status="published")
    publish(app)
    assert tombstones(editor, WORLD) == {} and tombstones(editor, SITE) == {}
    assert entry_ids(editor, WORLD) == [ref]  # the same id: the same story, back
    assert editor.get(f"/articles/{story}").status_code == 200
    # A reader that kept the tombstone compares its "when" with the entry's updated (RFC 6721
    # §3): the entry it sees again must be the newer of the two.
    [entry] = feedparser.parse(fetch(editor, WORLD)).entries
    back = datetime(*entry.updated_parsed[:6], tzinfo=UTC)
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0
    assert back >= utcnow() - timedelta(minutes=1)


def test_a_draft_nobody_saw_leaves_no_tombstone_and_its_page_is_not_found(
    editor: FlaskClient, app: Flask
) -> None:
    world, _sport = two_sections(app)
    draft = make_article(app, world, "Unfinished", status="draft")
    scheduled = make_article(app, world, "Tomorrow", when=utcnow() + timedelta(days=1))
    publish(app)
    delete_article(editor, draft)
    edit_article(editor, scheduled, Status="draft")
    publish(app)
    assert tombstones(editor, WORLD) == {} and tombstones(editor, SITE) == {}
    assert editor.get(f"/articles/{draft}").status_code == 404
    assert app.test_client().get(f"/articles/{scheduled}").status_code == 404


def test_a_moved_article_is_announced_in_the_section_it_left_only(
    editor: FlaskClient, app: Flask
) -> None:
    world, sport = two_sections(app)
    story = make_article(app, world, "Filed in the wrong place", when=utcnow())
    publish(app)
    [ref] = entry_ids(editor, WORLD)
    edit_article(editor, story, Section=str(sport))
    publish(app)
    assert list(tombstones(editor, WORLD)) == [ref]
    assert tombstones(editor, SPORT) == {} and tombstones(editor, SITE) == {}
    assert entry_ids(editor, SPORT) == [ref] and ref in entry_ids(editor, SITE)
    # Moved back: back in World (its tombstone there goes), and now it has left Sport.
    edit_article(editor, story, Section=str(world))
    publish(app)
    assert tombstones(editor, WORLD) == {} and list(tombstones(editor, SPORT)) == [ref]
    assert entry_ids(editor, WORLD) == [ref] and tombstones(editor, SITE) == {}


def test_tombstones_leave_after_the_period_and_renders_within_a_day_agree(
    editor: FlaskClient, app: Flask
) -> None:
    app.config["TOMBSTONE_DAYS"] = 2
    world, _sport = two_sections(app)
    story = make_article(app, world, "Old news", when=utcnow() - timedelta(days=1))
    make_article(app, world, "Current", when=utcnow() - timedelta(days=1))
    publish(app)
    delete_article(editor, story)
    publish(app)
    deleted = tombstones(editor, WORLD)
    assert len(deleted) == 1
    first = fetch(editor, WORLD)
    # Later the same day, a full rebuild: the same bytes (the cut-off moves by whole days).
    end_of_day = utcnow().replace(hour=23, minute=59, second=0)
    publish(app, full=True, now=max(end_of_day, utcnow()))
    assert fetch(editor, WORLD) == first
    # Two whole days after the deletion's day, still shown; on the third, gone from every feed.
    day = utcnow().replace(hour=12, minute=0, second=0)
    publish(app, full=True, now=day + timedelta(days=2))
    assert len(tombstones(editor, WORLD)) == 1 and len(tombstones(editor, SITE)) == 1
    publish(app, full=True, now=day + timedelta(days=3))
    assert tombstones(editor, WORLD) == {} and tombstones(editor, SITE) == {}
    assert len(entry_ids(editor, WORLD)) == 1
    with transaction(app, write=False) as s:  # and the full rebuild deleted the rows
        assert s.scalar(select(func.count()).select_from(Tombstone)) == 0


def test_tombstones_sit_in_the_head_so_cached_entries_join_as_one_render_would() -> None:
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    items = [
        feeds.FeedItem(
            id=f"urn:uuid:{n:08d}-0000-4000-8000-000000000000",
            url=f"https://example.org/articles/{n}",
            title=f"Story {n}",
            content_html="<p>Text.</p>",
            summary="Text.",
            published=when,
            updated=when,
            author=None,
            category="World",
        )
        for n in range(3)
    ]
    meta = feeds.FeedMeta(
        id="urn:uuid:feed",
        title="World",
        description="",
        home_url="https://example.org/",
        self_url="https://example.org/atom.xml",
        language="en",
        updated=when,
        author="Newsroom",
        deleted=(feeds.DeletedEntry("urn:uuid:gone", when + timedelta(hours=1)),),
    )
    feeds.FRAGMENTS.clear()
    cold = feeds.render("atom", meta, items)
    warm = feeds.render("atom", meta, items)  # every entry from the cache this time
    assert warm == cold
    root = check_atom(cold)
    children = [etree.QName(child).localname for child in root]
    assert children.index("deleted-entry") < children.index("entry")
    # RSS and JSON Feed have no tombstones: their bytes do not depend on them.
    plain = feeds.FeedMeta(**{**{f: getattr(meta, f) for f in meta.__slots__}, "deleted": ()})
    for fmt in ("rss", "json"):
        assert feeds.render(fmt, meta, items) == feeds.render(fmt, plain, items)
