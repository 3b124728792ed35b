"""What readers and their software fetch: stored feeds, the HTML pages, OPML and health."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select, text
from werkzeug.wrappers import Response

from feedsvc import articles, urls
from feedsvc.limits import SLUG_RE, valid_id
from feedsvc.storage.db import get_session
from feedsvc.storage.models import RENDER_LEASE, Article, SchedulerLease, Section, utcnow
from feedsvc.web.conditional import respond
from feedsvc.web.documents import cache

bp = Blueprint("public", __name__)
PAGE_ITEMS = 30
# The feed file names as a Werkzeug `any` converter: "<any(rss.xml, atom.xml, feed.json):name>".
# The rule text is also the route label /metrics counts requests under.
_FEED_NAME = f"<any({', '.join(urls.FEED_FILES.values())}):name>"


def _serve(path: str, *, section_slug: str | None = None) -> Response:
    """Stored bytes only: a request never renders a feed.

    Normally feedsvc.fastpath answers these before Flask sees them; Flask serves them only
    when the document was missing a moment ago, and answers 404 or 503 when it still is.
    """
    if section_slug is not None and not SLUG_RE.fullmatch(section_slug):
        abort(404)  # no section has that slug, and PostgreSQL's text refuses a NUL
    doc = cache(current_app).get(path)
    if doc is None:
        exists = section_slug is None or get_session().scalar(
            select(Section.id).where(Section.slug == section_slug)
        )
        if not exists:
            abort(404)
        # Known but not rendered yet (a section created seconds ago): ask to come back.
        tick = max(1, round(float(current_app.config["TICK_SECONDS"])))
        response = Response(
            "This feed is being generated; try again in a few seconds.\n",
            status=503,
            mimetype="text/plain",
        )
        response.headers["Retry-After"] = str(tick)
        return response
    status, headers, body = respond(
        doc,
        if_none_match=request.headers.get("If-None-Match"),
        if_modified_since=request.headers.get("If-Modified-Since"),
        accept_encoding=request.headers.get("Accept-Encoding"),
    )
    # HEAD: Werkzeug drops the body and keeps the headers, Content-Length included.
    return Response(body, status=status, headers=headers)


@bp.route(f"/{_FEED_NAME}")
def site_feed(name: str) -> Response:
    return _serve(name)


@bp.route(f"/sections/<slug>/{_FEED_NAME}")
def section_feed(slug: str, name: str) -> Response:
    return _serve(f"sections/{slug}/{name}", section_slug=slug)


@bp.route(f"/{urls.OPML_PATH}")
def opml() -> Response:
    return _serve(urls.OPML_PATH)


@bp.route("/")
def index() -> str:
    session = get_session()
    return render_template(
        "index.html",
        sections=list(session.scalars(select(Section).order_by(Section.name, Section.id))),
        latest=articles.published_everywhere(session, utcnow(), PAGE_ITEMS),
        feed_files=urls.FEED_FILES,
        opml_path=urls.OPML_PATH,
    )


@bp.route("/sections/<slug>/")
def section_page(slug: str) -> str:
    if not SLUG_RE.fullmatch(slug):
        abort(404)  # no section has that slug, and PostgreSQL's text refuses a NUL
    session = get_session()
    section = session.scalar(select(Section).where(Section.slug == slug))
    if section is None:
        abort(404)
    items = articles.published_in_section(session, section.id, utcnow(), PAGE_ITEMS)
    return render_template("section.html", section=section, articles=items)


@bp.route("/articles/<int:article_id>")
def article_page(article_id: int) -> str:
    session = get_session()
    article = session.get(Article, article_id) if valid_id(article_id) else None
    if article is None or not articles.is_public(article, utcnow()):
        abort(404)
    return render_template("article.html", article=article, section=article.section)


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers; the scheduler's last success and its age, for monitors."""
    try:
        session = get_session()
        session.execute(text("SELECT 1"))
        lease = session.get(SchedulerLease, RENDER_LEASE)
    except Exception as exc:  # any database failure is "not ready", reported, not raised
        current_app.logger.warning("health check: database unreachable: %s", exc)
        return jsonify(status="unavailable", database="unreachable"), 503
    now = datetime.now(UTC)
    scheduler: dict[str, object] = {"leader": None, "last_success": None, "age_seconds": None}
    if lease is not None:
        alive = lease.expires_at is not None and lease.expires_at > now
        scheduler["leader"] = lease.holder if alive else None
        if lease.last_success_at is not None:
            scheduler["last_success"] = lease.last_success_at.isoformat()
            scheduler["age_seconds"] = round((now - lease.last_success_at).total_seconds(), 1)
        scheduler["last_error"] = lease.last_error or None
    stale_after = 3 * float(current_app.config["TICK_SECONDS"]) + float(
        current_app.config["LEASE_SECONDS"]
    )
    age = scheduler["age_seconds"]
    scheduler["ok"] = isinstance(age, float) and age <= stale_after
    # 200 either way: this instance can serve (the last good feeds) without a scheduler, so a
    # load balancer must not pull it; monitors alert on "degraded" / scheduler.ok instead.
    status = "ok" if scheduler["ok"] else "degraded"
    return jsonify(status=status, database="ok", scheduler=scheduler), 200
