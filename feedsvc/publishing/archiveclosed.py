"""Closed RFC 5005 archive pages waiting to be rendered (new, or an article of theirs changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import Flask
from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.orm import Session

from feedsvc.publishing.archivelinks import Key, read_states
from feedsvc.publishing.archivescopes import page_docs, page_rows, read_scopes
from feedsvc.publishing.snapshot import Rendered
from feedsvc.publishing.store import write_documents
from feedsvc.storage.archives import ArchivePage
from feedsvc.storage.db import transaction

# Built once, values bound per call (publishing/archivequeries.py says why).
_DIRTY = (
    select(ArchivePage.feed_key, ArchivePage.page)
    .where(ArchivePage.feed_key.in_(bindparam("keys", expanding=True)), ArchivePage.dirty)
    .order_by(ArchivePage.feed_key, ArchivePage.page)
    .limit(bindparam("budget", type_=Integer))
)
_BOUNDS = select(ArchivePage.page, ArchivePage.bound_publish_at, ArchivePage.bound_id).where(
    ArchivePage.feed_key == bindparam("key"),
    ArchivePage.page.in_(bindparam("pages", expanding=True)),
)
_RENDERED = (
    update(ArchivePage)
    .where(ArchivePage.feed_key == bindparam("key"), ArchivePage.page == bindparam("number"))
    .values(dirty=False)
)


def render_closed(
    app: Flask, keys: Sequence[str], now: datetime, budget: int, token: int | None
) -> None:
    """Render (at most budget of) the active feeds' dirty closed pages and store them."""
    if not keys:
        return
    config = app.config
    max_age = int(config["ARCHIVE_MAX_AGE"])
    docs: list[Rendered] = []
    with transaction(app, write=False) as s:
        c = s.connection()
        dirty = [(k, p) for k, p in c.execute(_DIRTY, {"keys": list(keys), "budget": budget})]
        if not dirty:
            return
        feeds = sorted({key for key, _page in dirty})
        scopes, states = read_scopes(c, config, feeds), read_states(c, feeds)
        for key, page in dirty:
            scope = scopes[key]
            if scope is None:
                continue
            bounds: dict[int, Key] = {
                p: (at, i)
                for p, at, i in c.execute(_BOUNDS, {"key": key, "pages": [page - 1, page]})
            }
            rows = page_rows(c, scope, now, bounds.get(page - 1), bounds[page])
            docs += page_docs(config, scope, states[key], page, rows, max_age, app)

    def mark(session: Session, _changed: int) -> None:
        session.connection().execute(_RENDERED, [{"key": k, "number": p} for k, p in dirty])

    write_documents(app, [], docs, token=token, before_commit=mark)
