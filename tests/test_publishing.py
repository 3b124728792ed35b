"""Publishing passes: what counts as changed, what is rewritten, and what stays put."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc.publishing import store
from feedsvc.publishing.changes import sections_due
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument, utcnow
from tests.support.factories import make_article, make_section

BASE = "http://feeds.example.org/"


def _documents(app: Flask) -> dict[str, tuple[str, datetime]]:
    with transaction(app, write=False) as s:
        rows = s.execute(select(FeedDocument.path, FeedDocument.etag, FeedDocument.last_modified))
        return {path: (etag, modified) for path, etag, modified in rows}


def test_only_changed_sections_render(app: Flask) -> None:
    world, business = make_section(app, "World"), make_section(app, "Business")
    first = run_pass(app)
    assert sorted(first.sections_rendered) == [world, business] and first.site_rendered
    assert run_pass(app).sections_rendered == []  # nothing changed: nothing rendered
    make_article(app, business, "Markets")
    again = run_pass(app)
    assert again.sections_rendered == [business] and again.site_rendered


def test_every_document_is_stored_for_every_section(app: Flask) -> None:
    make_section(app, "World News")
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
    section = make_section(app, "World")
    make_article(app, section, "Story")
    run_pass(app)
    before = _documents(app)
    result = run_pass(app, full=True, now=utcnow() + timedelta(minutes=5))
    assert result.documents_changed == 0
    assert _documents(app) == before  # same ETags, same Last-Modified


def test_scheduled_article_makes_its_section_due_only_when_the_time_comes(app: Flask) -> None:
    world = make_section(app, "World")
    make_section(app, "Business")  # must never come due: the article is not in it
    at = utcnow() + timedelta(minutes=30)
    make_article(app, world, "Embargoed", when=at)
    run_pass(app)
    with transaction(app, write=False) as s:
        assert sections_due(s, at - timedelta(seconds=1)) == []
        assert sections_due(s, at) == [world]
    run_pass(app, now=at)
    with transaction(app, write=False) as s:
        assert sections_due(s, at + timedelta(minutes=1)) == []


def test_last_modified_only_moves_forward_with_content(app: Flask) -> None:
    section = make_section(app, "World")
    make_article(app, section, "One", when=datetime(2020, 1, 1, tzinfo=UTC))
    run_pass(app)
    first = _documents(app)["sections/world/atom.xml"]
    make_article(app, section, "Older, backdated", when=datetime(2019, 1, 1, tzinfo=UTC))
    run_pass(app)
    second = _documents(app)["sections/world/atom.xml"]
    assert second[0] != first[0]
    # Backdated content must still look newer to If-Modified-Since clients.
    assert second[1] >= first[1]


def test_a_large_pass_is_stored_in_batches_and_a_failed_batch_is_retried(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc.publishing import passes, store

    monkeypatch.setattr(passes, "BATCH_SECTIONS", 2)
    ids = [make_section(app, f"Section {n}") for n in range(5)]
    for section_id in ids:
        make_article(app, section_id, "Story")
    real = store.store_documents

    def failing(session: Any, docs: Any, **kw: Any) -> tuple[list[store.Stored], list[str]]:
        owners = kw.get("owners") or {}
        if any(owners.get(doc.path, (None,))[0] == ids[2] for doc in docs):
            raise RuntimeError("disk full")
        return real(session, docs, **kw)

    monkeypatch.setattr(store, "store_documents", failing)
    result = run_pass(app)
    # Batches of two: [0, 1] stored, [2, 3] rolled back together, [4] stored with the site.
    assert sorted(result.sections_rendered) == [ids[0], ids[1], ids[4]]
    assert set(result.failures) == {f"section:{ids[2]}", f"section:{ids[3]}"}
    assert result.site_rendered
    stored = {p.split("/")[1] for p in _documents(app) if p.startswith("sections/")}
    assert stored == {"section-0", "section-1", "section-4"}
    monkeypatch.setattr(store, "store_documents", real)
    retry = run_pass(app)  # the rolled-back sections are still due, and nothing else is
    assert sorted(retry.sections_rendered) == [ids[2], ids[3]] and not retry.failures
    assert len([p for p in _documents(app) if p.startswith("sections/")]) == 15


def test_feed_rows_are_plain_values_newest_first(app: Flask) -> None:
    from feedsvc.reading import FeedRow, feed_rows
    from feedsvc.storage.models import Article

    world, sport = make_section(app, "World"), make_section(app, "Sport")
    earlier = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    make_article(app, world, "Older", body="*Old* news.", when=earlier)
    make_article(app, sport, "Newer", when=earlier + timedelta(hours=1))
    make_article(app, world, "Scheduled", when=utcnow() + timedelta(days=1))
    with transaction(app, write=False) as s:
        site = feed_rows(s, utcnow(), 10)
        section = feed_rows(s, utcnow(), 10, world)
        stored = s.scalars(select(Article).order_by(Article.id)).all()
    assert [r.title for r in site] == ["Newer", "Older"]  # the scheduled one is not due
    assert [r.title for r in section] == ["Older"]
    older = stored[0]
    assert section[0] == FeedRow(
        id=older.id,
        guid=older.guid,
        title="Older",
        body_html=older.body_html,
        summary=older.summary,
        publish_at=earlier,
        revised_at=older.updated_at,
        author="",
        section_id=world,
    )
    assert "<em>Old</em>" in section[0].body_html and section[0].publish_at.tzinfo is not None


def test_the_run_record_rides_in_the_last_write_else_stands_alone_and_is_written_once(
    app: Flask,
) -> None:
    from sqlalchemy.orm import Session

    from feedsvc.publishing.passes import PassResult

    section = make_section(app, "World")
    run_pass(app)
    path = "sections/world/atom.xml"
    by_path = select(FeedDocument.etag).where(FeedDocument.path == path)
    seen: list[tuple[list[int], int, str | None, str | None]] = []

    def record(s: Session, outcome: PassResult) -> None:
        # What the record's own transaction sees, and what everyone else sees meanwhile.
        with transaction(app, write=False) as other:
            theirs = other.scalar(by_path)
        seen.append(
            (outcome.sections_rendered, outcome.documents_changed, s.scalar(by_path), theirs)
        )

    make_article(app, section, "Breaking")
    before = _documents(app)[path][0]
    result = run_pass(app, record=record)
    after = _documents(app)[path][0]
    # Recorded once, inside the write that stored the documents, before it committed.
    assert seen == [([section], 6, after, before)] and after != before
    assert result.sections_rendered == [section] and result.documents_changed == 6

    seen.clear()
    assert run_pass(app, record=record).sections_rendered == []  # nothing to write
    assert seen == [([], 0, after, after)]  # recorded once, in a transaction of its own

    seen.clear()
    make_article(app, section, "Later")
    lost = run_pass(app, keep_leading=lambda: False, record=record)
    assert lost.sections_rendered == [] and not lost.site_rendered
    assert seen == [([], 0, after, after)]  # nothing stored, still recorded once


def test_a_pass_while_the_interpreter_exits_still_stores_its_documents(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once Python begins to exit (a scheduler stopped mid-pass), thread pools refuse new
    # work; the pass digests its documents itself instead of failing with a traceback.
    closed = ThreadPoolExecutor(2)
    closed.shutdown()
    monkeypatch.setattr(store, "_DIGEST_POOL", closed)
    monkeypatch.setattr(store, "DIGEST_THREADS", 2)
    world = make_section(app, "World")
    make_article(app, world, "Story")
    result = run_pass(app)
    assert result.failures == {} and result.documents_changed > 0
    assert "sections/world/atom.xml" in _documents(app)
