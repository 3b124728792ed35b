"""Before a pass: deleted sections' exported files; old tombstones and reader counts."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy.orm import Session

from feedsvc import analytics, localtime, sectionhistory, tombstones, urls
from feedsvc.publishing import backlog, export
from feedsvc.storage.db import transaction

log = logging.getLogger(__name__)


def deleted_sections(session: Session) -> list[str]:
    """Slugs of deleted sections whose exported files are still to go (in the pass's read)."""
    return sectionhistory.pending_removals(session)


def before_pass(app: Flask, now: datetime, slugs: list[str], *, full: bool) -> bool:
    """Tidy what no revision announces; True when the site's feeds and OPML must be rendered.

    A deleted section's documents left the database with it (sectionhistory.delete_section);
    its exported files go here, after which nginx hands its URLs to the app (410 Gone), and
    the site's OPML is rendered without it. A full rebuild also deletes the tombstones no
    feed shows any more (tombstones.cutoff): the rebuild renders every feed without them.
    """
    if full:
        with transaction(app) as s:
            purged = tombstones.purge(s, now, int(app.config["TOMBSTONE_DAYS"]))
        if purged:
            log.info("%d tombstone(s) past TOMBSTONE_DAYS deleted", purged)
        # Subscriber analytics keep limits.ANALYTICS_DAYS days, counted in the site's zone.
        today = localtime.to_local(now, ZoneInfo(app.config["TIMEZONE"])).date()
        with transaction(app) as s:
            purged = analytics.purge(s, today)
        if purged:
            log.info("%d reader count row(s) past ANALYTICS_DAYS deleted", purged)
    if not slugs:
        return False
    with transaction(app) as s:
        sectionhistory.removals_done(s, slugs)
    paths = [urls.section_doc_path(slug, fmt) for slug in slugs for fmt in urls.FEED_FILES]
    paths += _exported_archive_pages(app, slugs)
    # Each path is checked against the database first: a section that took the slug since
    # keeps its files (export.export_paths); a failure is retried at the next tick.
    backlog.of(app).after_commit(app, [], paths, now)
    log.info("old or deleted section slug(s) %s: exported files removed", slugs)
    return True


def _exported_archive_pages(app: Flask, slugs: list[str]) -> list[str]:
    """The RFC 5005 archive pages exported under these slugs (their number is on disk only)."""
    root = export.export_root(app)
    if root is None:
        return []
    found = []
    for slug in slugs:
        folder = root / urls.section_base(slug) / urls.ARCHIVE_DIR
        if folder.is_dir() and not folder.is_symlink():
            found += [
                f.relative_to(root).as_posix()
                for f in sorted(folder.glob("*/*"))
                if f.name in urls.FILE_FORMATS and not f.is_symlink()
            ]
    return found
