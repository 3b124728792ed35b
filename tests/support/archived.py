"""Archived feeds in tests: many articles in one INSERT, and passes until the archive settles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import insert, select, update

from feedsvc.storage.archives import ArchivePage, ArchiveScope
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section
from tests.support.published import publish

START = datetime(2025, 1, 1, tzinfo=UTC)


def bulk_articles(app: Flask, section_id: int, count: int, *, label: str) -> None:
    """count published articles (and a few drafts) in one INSERT: three share each minute,
    so the order's tie-break by id matters; the section's feeds are marked out of date."""
    rows = []
    for i in range(count + count // 20):
        draft = i >= count
        rows.append(
            {
                "guid": uuid.uuid4().urn,
                "section_id": section_id,
                "title": f"{label} {i}",
                "body_source": f"Body {i}.",
                "body_html": f"<p>Body {i}.</p>",
                "summary_source": "",
                "summary": f"Body {i}.",
                "author": "",
                "status": "draft" if draft else "published",
                "publish_at": None if draft else START + timedelta(minutes=i // 3),
                "created_at": START,
                "updated_at": START,
            }
        )
    with transaction(app) as s:
        s.execute(insert(Article), rows)
        s.execute(
            update(Section).where(Section.id == section_id).values(revision=Section.revision + 1)
        )


def settle(app: Flask) -> None:
    """Passes until the archive has caught up (a backfill spreads over several)."""
    for _ in range(20):
        publish(app)
        with transaction(app, write=False) as s:
            busy = s.scalar(select(ArchiveScope.feed_key).where(ArchiveScope.backlog).limit(1))
            dirty = s.scalar(select(ArchivePage.feed_key).where(ArchivePage.dirty).limit(1))
            opening = s.scalar(
                select(ArchiveScope.feed_key).where(ArchiveScope.open_dirty).limit(1)
            )
        if busy is None and dirty is None and opening is None:
            return
    raise AssertionError("the archive did not settle in 20 passes")
