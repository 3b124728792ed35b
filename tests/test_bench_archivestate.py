"""The benchmark's archive, closed in SQL, is the archive the scheduler's own passes close."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.archivestate import close_pages
from bench.datasets import generate_archive, make_app
from feedsvc.publishing import archives
from feedsvc.publishing.changes import Due
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Section, utcnow
from feedsvc.storage.topics import Topic

pytestmark = pytest.mark.slow

# Small pages and a small step, so a 2,000-article archive closes pages in many feeds.
SETTINGS = {"ARCHIVE_PAGE_ITEMS": 20, "ARCHIVE_OPEN_STEP": 4, "ARCHIVE_PAGES_PER_PASS": 1000}
PAGES = "SELECT feed_key, page, bound_publish_at, bound_id FROM archive_pages ORDER BY 1, 2"
# Feeds with items (the passes also note every empty feed, which closes nothing).
SCOPES = (
    "SELECT feed_key, closed, open_page, backlog, fingerprint, open_bound_publish_at, "
    "open_bound_id FROM archive_scopes WHERE open_page OR closed ORDER BY 1"
)


def test_pages_closed_in_sql_match_the_passes(tmp_path: Path) -> None:
    logging.getLogger("feedsvc").setLevel(logging.WARNING)
    generated = tmp_path / "generated.sqlite3"
    generate_archive(2000, generated, log=lambda _message: None)
    by_passes = tmp_path / "passes.sqlite3"
    shutil.copyfile(generated, by_passes)
    now = utcnow()

    app = make_app(f"sqlite:///{generated}", tmp_path / "sql", **SETTINGS)
    closed = close_pages(app, now)
    assert close_pages(app, now) == 0, "a second call leaves the state alone"
    database(app).dispose()

    # The passes' archive step alone (publishing/archives.py), for every feed at once; the
    # feeds' own documents are not what is compared here.
    app = make_app(f"sqlite:///{by_passes}", tmp_path / "passes", **SETTINGS)
    with transaction(app, write=False) as s:
        due = Due(
            sections=list(s.scalars(select(Section.id))),
            site=True,
            opml=False,
            topics=list(s.scalars(select(Topic.id))),
        )
    archives.advance(app, due, now, token=None)  # 1,000 pages allowed: all of them close
    database(app).dispose()

    sql, passes = sqlite3.connect(generated), sqlite3.connect(by_passes)
    try:
        expected_pages = passes.execute(PAGES).fetchall()
        assert closed == len(expected_pages) > 50
        assert sql.execute(PAGES).fetchall() == expected_pages
        expected_scopes = passes.execute(SCOPES).fetchall()
        assert len(expected_scopes) > 10
        assert sql.execute(SCOPES).fetchall() == expected_scopes
    finally:
        sql.close()
        passes.close()
