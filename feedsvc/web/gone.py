"""Old public URLs: a section's old slug answers 301 to its current one; what was deleted, 410."""

from __future__ import annotations

from flask import abort, current_app, redirect
from sqlalchemy import select
from werkzeug.wrappers import Response

from feedsvc import sectionhistory, tombstones, urls
from feedsvc.storage.db import get_session
from feedsvc.storage.history import RetiredSlug
from feedsvc.storage.models import Section

SECTION_GONE = "This section was deleted: its page and its feeds are gone for good."
ARTICLE_GONE = "This article was withdrawn: it is no longer published here."


def section_known(slug: str) -> bool:
    """Whether some section answers to slug today, or once did (then: 301 or 410)."""
    session = get_session()
    if session.scalar(select(Section.id).where(Section.slug == slug)) is not None:
        return True
    return session.scalar(select(RetiredSlug.slug).where(RetiredSlug.slug == slug)) is not None


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
