"""What readers and their software fetch: stored feeds, the HTML pages and OPML."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    g,
    make_response,
    render_template,
    request,
)
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from feedsvc import reading, topics, urls
from feedsvc.content.html import parse_fragment, sanitise
from feedsvc.content.text import NOT_XML_TEXT, ContentError
from feedsvc.limits import SLUG_MAX, SLUG_RE, valid_id
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article, Section, utcnow
from feedsvc.web import gone, polling, readercount
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
    Whether a missing feed's section exists is asked once per path until a publishing change
    (web/documents.py keeps the answer), so polls of made-up slugs cost no query.
    """
    if section_slug is not None and (
        len(section_slug) > SLUG_MAX or not SLUG_RE.fullmatch(section_slug)
    ):
        abort(404)  # not a slug any section can have: nothing to ask the database
    docs = cache(current_app)
    doc = docs.get(path)
    if doc is None:
        kind = gone.LIVE
        if section_slug is not None:
            kind = docs.owner_exists(path, lambda: gone.section_kind(section_slug))
        if kind == gone.UNKNOWN:
            abort(404)
        if kind == gone.RETIRED:  # an old slug: 301 to the current one, or 410
            assert section_slug is not None
            # What follows "sections/<slug>/": a feed's file name, or an archive page's path.
            moved = gone.old_section_url(section_slug, path[len(urls.section_base(section_slug)) :])
            if moved is not None:
                return moved
            # Else a new section took the slug since this worker asked: its feeds come soon.
        # Known but not rendered yet (a section created seconds ago): ask to come back.
        tick = max(1, round(float(current_app.config["TICK_SECONDS"])))
        response = Response(
            "This feed is being generated; try again in a few seconds.\n",
            status=503,
            mimetype="text/plain",
        )
        response.headers["Retry-After"] = str(tick)
        return response
    if_none_match = request.headers.get("If-None-Match")
    if_modified_since = request.headers.get("If-Modified-Since")
    polls = polling.limiter(current_app)
    if polls is not None:
        wait = polls.wait(request.remote_addr or "", path, if_none_match, if_modified_since)
        if wait:
            return polling.refusal_response(wait)
    status, headers, body = respond(
        doc,
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
        accept_encoding=request.headers.get("Accept-Encoding"),
        accept=request.headers.get("Accept"),
    )
    # Counted where the fast path counts, so a poll counts once whichever answers it.
    readers = readercount.of(current_app)
    if readers is not None:
        readers.count(path, request.remote_addr or "", request.headers.get("User-Agent", ""))
    # HEAD: Werkzeug drops the body and keeps the headers, Content-Length included.
    return Response(body, status=status, headers=headers)


@bp.route(f"/{_FEED_NAME}")
def site_feed(name: str) -> Response:
    return _serve(name)


@bp.route(f"/sections/<slug>/{_FEED_NAME}")
def section_feed(slug: str, name: str) -> Response:
    return _serve(f"sections/{slug}/{name}", section_slug=slug)


@bp.route(f"/{urls.ARCHIVE_DIR}/<int:page>/{_FEED_NAME}")
def site_archive(page: int, name: str) -> Response:
    # The fast path answers these first; here a page not stored yet (a backfill still
    # under way) gets a 503 with Retry-After, an impossible page number a 404.
    if not 1 <= page < 10**9:
        abort(404)
    return _serve(f"{urls.ARCHIVE_DIR}/{page}/{name}")


@bp.route(f"/sections/<slug>/{urls.ARCHIVE_DIR}/<int:page>/{_FEED_NAME}")
def section_archive(slug: str, page: int, name: str) -> Response:
    if not 1 <= page < 10**9:
        abort(404)
    return _serve(f"sections/{slug}/{urls.ARCHIVE_DIR}/{page}/{name}", section_slug=slug)


@bp.route(f"/{urls.OPML_PATH}")
def opml() -> Response:
    return _serve(urls.OPML_PATH)


@bp.route("/")
def index() -> str:
    session = get_session()
    return render_template(
        "index.html",
        sections=list(session.scalars(select(Section).order_by(Section.name, Section.id))),
        latest=reading.published_everywhere(session, utcnow(), PAGE_ITEMS),
        feed_files=urls.FEED_FILES,
        opml_path=urls.OPML_PATH,
    )


@bp.route("/sections/<slug>/")
def section_page(slug: str) -> str | Response:
    if not SLUG_RE.fullmatch(slug):
        abort(404)  # no section has that slug, and PostgreSQL's text refuses a NUL
    session = get_session()
    section = session.scalar(select(Section).where(Section.slug == slug))
    if section is None:
        return gone.old_section_url(slug, "") or abort(404)
    items = reading.published_in_section(session, section.id, utcnow(), PAGE_ITEMS)
    return render_template("section.html", section=section, articles=items)


# An article page readers may not see yet: kept by no cache, shared or the browser's own
# (RFC 9111 §5.2.2.3, §5.2.2.7), so it never reaches the public and never outlives the login.
PRIVATE = "private, no-store"
# The public's 404 (or 410) for an id that is not published: stored nowhere either (both are
# heuristically cacheable, RFC 9110 §15.1), so a publication is seen at the next request.
NOT_YET = "no-store"


def _not_stored(response: Response) -> Response:
    response.headers["Cache-Control"] = NOT_YET
    return response


@bp.route("/articles/<int:article_id>")
def article_page(article_id: int) -> Response:
    session = get_session()
    article = session.get(Article, article_id) if valid_id(article_id) else None
    now = utcnow()
    public = article is not None and reading.is_public(article, now)
    if article is None or (not public and g.get("user") is None):
        after_this_request(_not_stored)  # runs for the error handler's page too
        if valid_id(article_id):  # no article ever had an id out of the column's range
            gone.article_gone(article_id)  # 410 when readers saw it
        abort(404)
    assert article is not None  # for mypy: the branch above always raises
    response = make_response(
        render_template(
            "article.html",
            article=article,
            section=article.section,
            body=_body(article),
            topics=topics.article_topics(session, article.id),  # its tags' and author's pages
            unpublished=not public,  # an editor's look at a draft or a scheduled article
            now=now,
        )
    )
    if not public:
        response.headers["Cache-Control"] = PRIVATE
    return response


def _body(article: Article) -> Markup:
    """The stored body sanitised again with the current policy, the page's one HTML sink.

    Storage is not trusted alone: a row written before a policy change (and before the next
    full rebuild cleans it) or by hand still shows only allowed markup. Under a millisecond
    for a typical body. HTML the policy refuses outright (nested too deep, which no render
    stores) shows as its text.
    """
    base_url = current_app.config["SITE_URL"] + "/"
    try:
        return Markup(sanitise(article.body_html, base_url=base_url))
    except ContentError:
        current_app.logger.warning("article %s: stored body refused; shown as text", article.id)
        text = parse_fragment(NOT_XML_TEXT.sub("", article.body_html)).text_content()
        return Markup("<p>{}</p>").format(text)
