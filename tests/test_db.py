"""The database layer: SQLite tuned for several processes, datetimes always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import text

from feedsvc.articles import ArticleInput, create_article
from feedsvc.sections import SectionInput, create_section
from feedsvc.storage.db import checkpoint, database, defer_checkpoints, transaction
from feedsvc.storage.models import Section
from tests.support.factories import make_section


def test_sqlite_runs_in_wal_with_a_busy_timeout(app: Flask) -> None:
    engine = database(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # FULL (2): every commit synced, so an acknowledged article survives a power cut.
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        # A database created by feedsvc has pages large enough for feed-sized blobs.
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16_384


def _sync_setting(app: Flask, **kind: bool) -> object:
    """What a commit of this kind of transaction waits for (SQLite: 2 = FULL, 1 = NORMAL;
    PostgreSQL: synchronous_commit)."""
    with transaction(app, **kind) as s:
        if s.get_bind().dialect.name == "sqlite":
            return s.execute(text("PRAGMA synchronous")).scalar()
        return s.execute(text("SHOW synchronous_commit")).scalar()


def test_editors_writes_wait_for_the_disk_rendered_documents_do_not(app: Flask) -> None:
    # An acknowledged article must survive a power cut; a rendered document is derived from
    # such articles and rendered again if a crash undoes its commit. Alternating, so the
    # setting a pooled connection was left with never leaks into the next transaction.
    engine = database(app).engine
    if engine.dialect.name == "sqlite":
        for _ in range(2):
            assert _sync_setting(app) == 2  # FULL
            assert _sync_setting(app, derived=True) == 1  # NORMAL
        assert _sync_setting(app) == 2
        return
    # PostgreSQL: the server's own setting for editors' writes (the suite's connections run
    # with synchronous_commit=off to save time, so it is read from a plain connection), and
    # off for derived ones, for that transaction only (SET LOCAL).
    with engine.connect() as conn:
        own = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
    for _ in range(2):
        assert _sync_setting(app) == own
        assert _sync_setting(app, derived=True) == "off"
    assert _sync_setting(app) == own


def test_datetimes_come_back_aware_and_in_utc(app: Flask) -> None:
    section_id = make_section(app, "World")
    with transaction(app) as s:
        section = s.get_one(Section, section_id)
        # Stored from another zone: the instant is kept, the zone normalised to UTC.
        section.updated_at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with transaction(app, write=False) as s:
        back = s.get_one(Section, section_id).updated_at
    assert back == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert back.utcoffset() == timedelta(0)


def test_a_naive_datetime_is_refused(app: Flask) -> None:
    section_id = make_section(app, "World")
    with pytest.raises(Exception, match="naive datetime"), transaction(app) as s:
        s.get_one(Section, section_id).updated_at = datetime(2026, 3, 1, 9, 30)
        s.flush()


def test_a_failed_transaction_leaves_nothing_behind(app: Flask) -> None:
    with pytest.raises(RuntimeError), transaction(app) as s:
        create_section(s, SectionInput(name="Half written"))
        raise RuntimeError("crash mid-transaction")
    with transaction(app, write=False) as s:
        assert s.execute(text("SELECT count(*) FROM sections")).scalar() == 0


def test_deferred_checkpoints_leave_the_wal_to_the_background_job(app: Flask) -> None:
    if database(app).engine.dialect.name != "sqlite":
        assert not defer_checkpoints(app)  # PostgreSQL: nothing to defer
        return
    with database(app).engine.connect() as conn:  # the default first: commits checkpoint
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    assert defer_checkpoints(app) and defer_checkpoints(app)  # idempotent
    with database(app).engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    section_id = make_section(app, "World")
    for n in range(60):  # ~24 MB through the WAL: past the default 1,000-page threshold
        with transaction(app) as s:
            body = f"Paragraph {n}. " + "word " * 39_000
            story = ArticleInput(title=f"Story {n}", section_id=section_id, body=body)
            create_article(s, story, base_url="http://feeds.example.org/")
    busy, frames, copied = checkpoint(app)
    # Auto-checkpoints would have restarted the log at ~1,000 pages; the job copies it all.
    assert busy == 0 and frames > 1100 and copied == frames
    with transaction(app) as s:  # the next writer starts the WAL from the beginning again
        story = ArticleInput(title="After", section_id=section_id, body="Short.")
        create_article(s, story, base_url="http://feeds.example.org/")
    assert checkpoint(app)[1] < 100
