"""Old public URLs: a section's old slug answers 301 to its current one; what was deleted, 410."""

from __future__ import annotations

from flask import abort, current_app, redirect
from sqlalchemy import exists, select
from werkzeug.wrappers import Response

from feedsvc import sectionhistory, tombstones, urls
from feedsvc.storage.db import get_session
from feedsvc.storage.history import RetiredSlug
from feedsvc.storage.models import Section

SECTION_GONE = "This section was deleted: its page and its feeds are gone for good."
ARTICLE_GONE = "This article was withdrawn: it is no longer published here."


# What a slug is, for a feed path with no stored document (cached per path and generation).
LIVE, RETIRED, UNKNOWN = "live", "retired", ""


def section_kind(slug: str) -> str:
    """LIVE: a section answers to slug; RETIRED: one did (301 or 410); UNKNOWN: never."""
    # One statement: a made-up slug costs the same single question it did before redirects.
    # A slug is never both (a section taking a retired slug deletes its row).
    live = exists().where(Section.slug == slug)
    retired = exists().where(RetiredSlug.slug == slug)
    found = get_session().execute(select(live, retired)).one()
    return LIVE if found[0] else RETIRED if found[1] else UNKNOWN


def old_section_url(slug: str, rest: str) -> Response | None:
    """301 to the section's current URL (rest: "", or a feed's file name) when slug is an old
    one; 410 Gone when its section was deleted; None when slug was never retired.

    One hop, always: a retired slug names its section, whose slug is read now. Cached by
    readers and proxies for one tick only, since a new section may take the slug over.
    """
    moved = sectionhistory.resolve(get_session(), slug)
    if moved is None:
        return None
    if moved.slug is None:
        abort(410, SECTION_GONE)
    site = current_app.config["SITE_URL"]
    target = urls.absolute(site, f"sections/{moved.slug}/{rest}")
    response = redirect(target, 301)
    tick = max(1, round(float(current_app.config["TICK_SECONDS"])))
    response.headers["Cache-Control"] = f"public, max-age={tick}"
    return response


def article_gone(article_id: int) -> None:
    """410 Gone for an article readers saw that is deleted or a draft again; else nothing."""
    if tombstones.is_gone(get_session(), article_id):
        abort(410, ARTICLE_GONE)
