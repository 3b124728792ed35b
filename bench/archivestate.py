"""A generated archive's RFC 5005 pages closed in SQL, as a long-running scheduler leaves them.

The scheduler closes a feed's archive pages a few per pass (publishing/archives.py), and at 1M
articles that first backfill renders about 50,000 pages: close to an hour on two cores. The
tick benchmark only needs the state those passes leave (each feed's closed pages and their
bounds, its open page's bound); it never reads a closed page's documents. So this computes
the same bounds with window functions over the same (publish_at, id) order and stores them
as rendered (not dirty), without rendering the pages' documents: a closed page's are never
read by a tick, and an open page's are rendered when a step of new items reaches it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from flask import Flask

# Per kind of feed: the key's prefix, its items (rank by publish_at, id) and its partition.
_RANKED = {
    "site": (
        "SELECT 0, publish_at, id, row_number() OVER (ORDER BY publish_at, id), "
        "count(*) OVER () FROM articles WHERE status = 'published' AND publish_at <= :now"
    ),
    "section": (
        "SELECT section_id, publish_at, id, "
        "row_number() OVER (PARTITION BY section_id ORDER BY publish_at, id), "
        "count(*) OVER (PARTITION BY section_id) "
        "FROM articles WHERE status = 'published' AND publish_at <= :now"
    ),
    "topic": (
        "SELECT topic_id, publish_at, article_id, "
        "row_number() OVER (PARTITION BY topic_id ORDER BY publish_at, article_id), "
        "count(*) OVER (PARTITION BY topic_id) "
        "FROM article_topics WHERE status = 'published' AND publish_at <= :now"
    ),
}


def close_pages(app: Flask, now: datetime) -> int:
    """Close every feed's full pages as the passes would by `now`; return the pages closed.

    Does nothing (0) on a database whose archive already has state."""
    from sqlalchemy import func, select, text

    from bench.datasets import _sqlite_datetime
    from feedsvc.publishing.archivelinks import step_for
    from feedsvc.publishing.archivescopes import fingerprint, held_open, scope_of
    from feedsvc.publishing.topicfeeds import TOPIC_FEED_ITEMS
    from feedsvc.storage.archives import ArchiveScope
    from feedsvc.storage.db import transaction
    from feedsvc.storage.models import Section
    from feedsvc.storage.topics import Topic

    config = app.config
    page, step = int(config["ARCHIVE_PAGE_ITEMS"]), int(config["ARCHIVE_OPEN_STEP"])
    pages_rows: list[dict[str, Any]] = []
    scope_rows: list[dict[str, Any]] = []
    with transaction(app) as s:
        if s.scalar(select(func.count()).select_from(ArchiveScope)):
            return 0
        c = s.connection()
        windows = {
            "site": {0: int(config["SITE_FEED_ITEMS"])},
            "section": dict(c.execute(select(Section.id, Section.items_per_feed)).all()),
            "topic": defaultdict(lambda: TOPIC_FEED_ITEMS),
        }
        kinds = dict(c.execute(select(Topic.id, Topic.kind)).all())
        for kind, ranked in _RANKED.items():
            window_of = windows[kind]
            # The ranks that can be a bound: multiples of a page or of the open page's step.
            grain = math.gcd(page, *(step_for(w, step) for w in set(window_of.values()) or {1}))
            if kind == "topic":
                grain = math.gcd(page, step_for(TOPIC_FEED_ITEMS, step))
            found: dict[int, dict[int, tuple[Any, int]]] = defaultdict(dict)
            totals: dict[int, int] = {}
            raw = text(
                f"WITH r(part, at, ident, rank_, total_) AS ({ranked}) "
                "SELECT part, at, ident, rank_, total_ FROM r "
                "WHERE rank_ % :grain = 0 OR rank_ = total_"
            )
            params = {"now": _sqlite_datetime(now), "grain": grain}
            for part, at, ident, rank, total in c.execute(raw, params):
                found[part][rank] = (at, ident)
                totals[part] = total
            for part, total in totals.items():
                window = window_of[part]
                closed = max(0, (total - window) // page)
                key = _key(kind, part, kinds)
                for n in range(1, closed + 1):
                    at, ident = found[part][n * page]
                    pages_rows.append({"k": key, "p": n, "at": at, "id": ident})
                held = held_open(total - closed * page, window, step_for(window, step))
                bound = found[part][closed * page + held] if held else (None, None)
                scope_rows.append(
                    {
                        "k": key,
                        "closed": closed,
                        "open": total > window,
                        "at": bound[0],
                        "id": bound[1],
                    }
                )
        for row in scope_rows:
            scope = scope_of(s, config, row["k"])
            row["print"] = fingerprint(config, scope) if scope is not None else ""
        c.execute(
            text(
                "INSERT INTO archive_pages (feed_key, page, bound_publish_at, bound_id, dirty) "
                "VALUES (:k, :p, :at, :id, 0)"
            ),
            pages_rows,
        )
        c.execute(
            text(
                "INSERT INTO archive_scopes (feed_key, closed, open_page, backlog, fingerprint, "
                "open_bound_publish_at, open_bound_id, open_dirty) "
                "VALUES (:k, :closed, :open, 0, :print, :at, :id, 0)"
            ),
            scope_rows,
        )
    return len(pages_rows)


def _key(kind: str, part: int, kinds: dict[int, str]) -> str:
    if kind == "site":
        return "site"
    if kind == "section":
        return f"section:{part}"
    return f"{kinds[part]}:{part}"
