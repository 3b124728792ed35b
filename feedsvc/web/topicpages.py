"""Tags' and authors' pages and feeds: stored bytes for the feeds, a list for the page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from werkzeug.wrappers import Response

from feedsvc import urls
from feedsvc.limits import SLUG_MAX, SLUG_RE
from feedsvc.scopes import Scope, scope_rows
from feedsvc.storage.db import get_session
from feedsvc.storage.models import utcnow
from feedsvc.storage.topics import AUTHOR, TAG
from feedsvc.topics import find_topic
from feedsvc.web.documents import cache
from feedsvc.web.public import PAGE_ITEMS, _serve

bp = Blueprint("topics", __name__)
_FEED_NAME = f"<any({', '.join(urls.FEED_FILES.values())}):name>"


def _feed(kind: str, slug: str, name: str) -> Response:
    """The stored feed; 404 for a tag or author that does not exist, asked once per path
    until a publishing change (web/documents.py), so polls of made-up slugs cost no query."""
    if len(slug) > SLUG_MAX or not SLUG_RE.fullmatch(slug):
        abort(404)  # not a slug any topic can have: nothing to ask the database
    path = urls.topic_doc_path(kind, slug, urls.FILE_FORMATS[name])
    docs = cache(current_app)
    if docs.get(path) is None and not docs.owner_exists(
        path, lambda: find_topic(get_session(), kind, slug) is not None
    ):
        abort(404)
    return _serve(path)


def _archive(kind: str, slug: str, page: int, name: str) -> Response:
    """An RFC 5005 archive page of the topic's feed. The fast path answers these first; here
    a page not stored yet (a backfill under way) gets 503 with Retry-After, like a section's."""
    if not 1 <= page < 10**9 or len(slug) > SLUG_MAX or not SLUG_RE.fullmatch(slug):
        abort(404)
    base = urls.topic_base(kind, slug)
    path = urls.archive_doc_path(base, page, urls.FILE_FORMATS[name])
    docs = cache(current_app)
    if docs.get(path) is None and not docs.owner_exists(
        path, lambda: find_topic(get_session(), kind, slug) is not None
    ):
        abort(404)
    return _serve(path)


@bp.route(f"/tags/<slug>/{urls.ARCHIVE_DIR}/<int:page>/{_FEED_NAME}")
def tag_archive(slug: str, page: int, name: str) -> Response:
    return _archive(TAG, slug, page, name)


@bp.route(f"/authors/<slug>/{urls.ARCHIVE_DIR}/<int:page>/{_FEED_NAME}")
def author_archive(slug: str, page: int, name: str) -> Response:
    return _archive(AUTHOR, slug, page, name)


@bp.route(f"/tags/<slug>/{_FEED_NAME}")
def tag_feed(slug: str, name: str) -> Response:
    return _feed(TAG, slug, name)


@bp.route(f"/authors/<slug>/{_FEED_NAME}")
def author_feed(slug: str, name: str) -> Response:
    return _feed(AUTHOR, slug, name)


def _page(kind: str, slug: str) -> str:
    session = get_session()
    topic = find_topic(session, kind, slug)
    if topic is None:
        abort(404)
    articles = scope_rows(session, Scope(kind, topic.id), utcnow(), PAGE_ITEMS)
    site = current_app.config["SITE_URL"]
    feeds = {
        fmt: urls.absolute(site, urls.topic_doc_path(kind, slug, fmt)) for fmt in urls.FEED_FILES
    }
    return render_template("topic.html", topic=topic, articles=articles, feeds=feeds)


@bp.route("/tags/<slug>/")
def tag_page(slug: str) -> str:
    return _page(TAG, slug)


@bp.route("/authors/<slug>/")
def author_page(slug: str) -> str:
    return _page(AUTHOR, slug)
