"""The admin's article list at scale: search, filters and pages on the 10k … 1M archives.

On each archive (bench/datasets.py, SQLite) the typical requests of an editor looking for
an article, each through feedsvc.listing.list_page (the very function the admin page calls,
ids from the index and then the page's rows with sections and people): the newest page, a
common word, a rare one, a word found nowhere, two words, a word within one section, the
second page of a common word, the scheduled articles, one author's. Median and p99 of
REPEATS runs each, after one untimed run (the page cache warm, as on a working server).

An archive cached before migration 0014 built the search index (stamped by the placeholder
0014, no index) gets the index when the scenario opens it: 0014's statements are run on it,
and the time they take is reported as `index_build_s`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select

from bench.context import Context, Skip, median, percentile
from bench.datasets import CHANGED_SECTION_ID, make_app, scale_db, scale_label

REPEATS = 30
COMMON, RARE, NOWHERE, TWO = "government", "december", "zeppelin", "storm flooding"


def ensure_index(engine: Any) -> float | None:
    """Build the search index on an archive that lacks it; the seconds it took, or None.

    What migration 0014 does (feedsvc/storage/searchindex.create), run on the file directly:
    an archive cached while 0014 was a placeholder is stamped at 0014 or later already."""
    from feedsvc.storage import searchindex

    with engine.connect() as conn:
        if searchindex.installed(conn):
            return None
        started = time.perf_counter()
        searchindex.create(conn)
        conn.commit()
    return time.perf_counter() - started


def _timed(app: Any, run: Any) -> dict[str, Any]:
    from feedsvc.storage.db import transaction

    with transaction(app, write=False) as s:
        found = run(s)  # untimed: warms the page cache, counts the rows
    times = []
    for _ in range(REPEATS):
        with transaction(app, write=False) as s:
            started = time.perf_counter()
            run(s)
            times.append((time.perf_counter() - started) * 1000)
    return {
        "ms": {"median": round(median(times), 2), "p99": round(percentile(times, 99), 2)},
        "rows": len(found.articles),
    }


def scale(ctx: Context, n_articles: int) -> dict[str, Any]:
    from feedsvc.listing import Filters, list_page
    from feedsvc.storage.db import database, transaction
    from feedsvc.storage.models import utcnow
    from feedsvc.storage.topics import AUTHOR, Topic

    path = scale_db(n_articles, log=ctx.log)
    app = make_app(f"sqlite:///{path}", ctx.workdir / f"instance-search-{n_articles}")
    logging.getLogger("feedsvc").setLevel(logging.WARNING)
    built = ensure_index(database(app).engine)
    if built is not None:
        ctx.log(f"    built the search index on the cached archive in {built:.0f} s")
    with transaction(app, write=False) as s:
        author = s.scalar(select(Topic.name).where(Topic.kind == AUTHOR).limit(1)) or ""
        now = utcnow()
        first = list_page(s, Filters(query=COMMON), now)
    cases: dict[str, tuple[Filters, Any]] = {
        "newest page": (Filters(), None),
        f"common word ({COMMON})": (Filters(query=COMMON), None),
        f"rare word ({RARE})": (Filters(query=RARE), None),
        f"no match ({NOWHERE})": (Filters(query=NOWHERE), None),
        f"two words ({TWO})": (Filters(query=TWO), None),
        f"{COMMON} in one section": (Filters(query=COMMON, section_id=CHANGED_SECTION_ID), None),
        f"{COMMON}, second page": (Filters(query=COMMON), first.older),
        "scheduled": (Filters(status="scheduled"), None),
        "one author": (Filters(author=author), None),
        "one author, published, a word": (
            Filters(author=author, status="published", query=COMMON),
            None,
        ),
    }
    out: dict[str, Any] = {
        "index_build_s": None if built is None else round(built, 1),
        "database_bytes": path.stat().st_size,
        "queries": {},
    }
    for name, (filters, before) in cases.items():
        r = _timed(app, lambda s, f=filters, b=before: list_page(s, f, now, before=b))
        out["queries"][name] = r
        ctx.log(f"    {name:36} {r['ms']['median']:8.1f} ms  p99 {r['ms']['p99']:8.1f}")
    database(app).dispose()
    return out


def run(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {
        "database": "SQLite (WAL), as `make run` uses",
        "page_size": 50,
        "repeats": REPEATS,
        "scales": {},
        "skipped_scales": {},
    }
    for n in sorted(ctx.options.scales):
        ctx.log(f"  admin list and search on the {scale_label(n)} archive")
        try:
            out["scales"][scale_label(n)] = scale(ctx, n)
        except Skip as exc:
            out["skipped_scales"][scale_label(n)] = str(exc)
            ctx.log(f"    skipped: {exc}")
    if not out["scales"]:
        raise Skip("no archive could be made: " + "; ".join(out["skipped_scales"].values()))
    return out
