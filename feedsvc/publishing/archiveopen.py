"""The open RFC 5005 archive page: rendered when its items changed, stored with its feeds.

The open page (number closed + 1) holds the items above the floor up to the scope's open
bound, which archives.advance moves in steps of ARCHIVE_OPEN_STEP items (archivescopes.split):
a new article joins the subscription document, and only every STEP-th one moves a step of
older items from the document onto this page. So most passes leave the page alone, and the
feed's history is still whole at every commit: the page and the documents that continue it
are stored in one transaction, which also clears the page's open_dirty flag.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from feedsvc.publishing.archivelinks import History
from feedsvc.publishing.archives import Plan, opened
from feedsvc.publishing.archivescopes import Scope, page_docs, page_rows
from feedsvc.publishing.snapshot import Rendered
from feedsvc.publishing.store import Fenced, write_documents
from feedsvc.reading import FeedRow
from feedsvc.storage.db import transaction

log = logging.getLogger(__name__)

# Open pages rendered per batch: a first start or a full rebuild renders one per feed, and
# holding a thousand feeds' pages at once would multiply the scheduler's memory.
OPEN_BATCH = 50


def render_open(
    app: Flask, plan: Plan, now: datetime, *, token: int | None = None
) -> list[Rendered]:
    """The open pages plan names. The last batch is returned, for the pass to store with its
    last write beside the subscription documents they continue (plan.on_commit then clears
    their flags); any earlier ones (a pass over many feeds) are stored here."""
    pending = plan.open_pages
    while len(pending) > OPEN_BATCH:
        batch, pending = pending[:OPEN_BATCH], pending[OPEN_BATCH:]
        try:
            docs = _render_open(app, batch, now)
            keys = [scope.key for scope, _ in batch] if docs else []

            def mark(session: Session, _changed: int, keys: list[str] = keys) -> None:
                opened(session, keys)

            write_documents(app, [], docs, token=token, before_commit=mark)
        except Fenced:
            raise
        except Exception:  # these pages stay as they were; the next pass renders them again
            log.exception("storing open archive pages failed")
    docs = _render_open(app, pending, now)
    plan.opened = [scope.key for scope, _ in pending] if docs else []
    return docs


def _render_open(
    app: Flask, open_pages: Sequence[tuple[Scope, History]], now: datetime
) -> list[Rendered]:
    if not open_pages:
        return []
    config = app.config
    docs: list[Rendered] = []
    try:
        with transaction(app, write=False) as s:
            c = s.connection()
            for scope, history in open_pages:
                if history.open_bound is None:  # fewer than a step past the window: empty
                    rows: tuple[list[FeedRow], dict[int, str]] = ([], {})
                else:
                    rows = page_rows(c, scope, now, history.floor, history.open_bound)
                docs += page_docs(config, scope, history, history.closed + 1, rows, None, app)
    except Exception:
        log.exception("rendering the open archive pages failed; the next pass tries again")
        return []
    return docs
