"""The admin's article list: filters, search and keyset pages, newest first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc import search
from feedsvc.articles import WITH_PEOPLE
from feedsvc.content.slugs import slugify
from feedsvc.content.text import ContentError
from feedsvc.limits import ADMIN_PAGE_SIZE, STATUS_DRAFT, STATUS_PUBLISHED
from feedsvc.storage.models import Article, UTCDateTime
from feedsvc.storage.topics import AUTHOR, ArticleTopic, Topic

# The Status filter's values: a scheduled article is a published one whose time is to come.
DRAFT, SCHEDULED, PUBLISHED = "draft", "scheduled", "published"
LIST_STATUSES = (DRAFT, SCHEDULED, PUBLISHED)


@dataclass(frozen=True)
class Filters:
    """What the list shows: every field optional, combined freely (all must hold)."""

    section_id: int | None = None
    status: str | None = None  # one of LIST_STATUSES
    author: str = ""
    query: str = ""


@dataclass(frozen=True)
class Cursor:
    """A position in the list: an article's sort key and id; a page starts just past it."""

    key: datetime
    id: int

    def encode(self) -> str:
        return f"{self.key:%Y%m%dT%H%M%S.%f}_{self.id}"


_CURSOR = re.compile(r"\A(\d{8}T\d{6}\.\d{6})_(\d{1,10})\Z")


def decode_cursor(raw: str) -> Cursor | None:
    """The cursor a page link carries; None for anything else (edited or truncated links)."""
    found = _CURSOR.match(raw)
    if not found:
        return None
    try:
        key = datetime.strptime(found[1], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None
    article_id = int(found[2])
    return Cursor(key, article_id) if 1 <= article_id <= 2**31 - 1 else None


@dataclass(frozen=True)
class Page:
    articles: list[Article]
    older: Cursor | None  # the link to the next page down, None on the last
    newer: Cursor | None  # the link back up, None on the first
    searched: bool  # the query held words, so the search applied
    author_known: bool  # the Author filter names an author some article has


def _sort_key(filters: Filters) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    """When an article goes (or went) out, a draft without a time by when it was written.

    Published and scheduled articles always have publish_at, so the filters that read only
    those order by the column itself, and ix_articles_status_publish_at and
    ix_articles_section_feed serve them; the others read ix_articles_listed or
    ix_articles_section_listed (the same order, as an expression: storage/searchindex.py)."""
    if filters.status in (SCHEDULED, PUBLISHED):
        return Article.publish_at
    return func.coalesce(Article.publish_at, Article.created_at, type_=UTCDateTime)


def _author_topic(session: Session, author: str) -> int | None:
    """The author topic the Author filter names, found as topics are: by slug, any case."""
    try:
        slug = slugify(author)
    except ContentError:  # nothing a slug can be made of: no author has such a name
        return None
    return session.scalar(select(Topic.id).where(Topic.kind == AUTHOR, Topic.slug == slug))


def _by_author(session: Session, topic: int) -> ColumnElement[bool]:
    """One author's articles: a few thousand at most by id (ix_article_topics_feed gives
    them), then sorted; a more prolific author's by a probe per row along the list's order.
    A walk alone would read ~40,000 rows for a page of an author of one article in 700."""
    links = select(ArticleTopic.article_id).where(ArticleTopic.topic_id == topic)
    ids = list(session.scalars(links.limit(search.FEW_MATCHES)))
    if len(ids) < search.FEW_MATCHES:
        return Article.id.in_(ids)
    by = ArticleTopic.article_id == Article.id
    return exists().where(by, ArticleTopic.topic_id == topic)


def _conditions(session: Session, filters: Filters, now: datetime) -> tuple[list[Any], Page]:
    """The WHERE clauses, and a Page to return at once when nothing can match."""
    where: list[Any] = []
    nothing = Page([], None, None, searched=False, author_known=True)
    if filters.section_id is not None:
        where.append(Article.section_id == filters.section_id)
    if filters.status == DRAFT:
        where.append(Article.status == STATUS_DRAFT)
    elif filters.status == SCHEDULED:
        where += [Article.status == STATUS_PUBLISHED, Article.publish_at > now]
    elif filters.status == PUBLISHED:
        where += [Article.status == STATUS_PUBLISHED, Article.publish_at <= now]
    if filters.author.strip():
        topic = _author_topic(session, filters.author)
        if topic is None:
            return where, Page([], None, None, searched=False, author_known=False)
        where.append(_by_author(session, topic))
    found = search.matching(session, filters.query)
    if found is not None:
        where.append(found)
        nothing = Page([], None, None, searched=True, author_known=True)
    return where, nothing


def list_page(
    session: Session,
    filters: Filters,
    now: datetime,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = ADMIN_PAGE_SIZE,
) -> Page:
    """One page of the list, newest first: the first, the one below `before` (Older) or the
    one above `after` (Newer). Keyset paging (no OFFSET): a page costs the same at any depth,
    and articles added meanwhile neither repeat nor skip rows on the following pages."""
    where, empty = _conditions(session, filters, now)
    if not empty.author_known:
        return empty
    key = _sort_key(filters)
    position = tuple_(key, Article.id)
    base = select(Article.id).where(*where)
    if after is not None:
        # The plain bound beside the row value: SQLite reads an expression index's range
        # from a plain comparison only (the row value alone scans from the top, so a page
        # deep in the archive would cost more than the first).
        query = base.where(key >= _bound(after.key), position > tuple_(_bound(after.key), after.id))
        query = query.order_by(key.asc(), Article.id.asc()).limit(size + 1)
        rows = _load(session, list(session.scalars(query)))
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = bool(rows)  # the cursor's own row, at least, lies below
    else:
        query = (
            base
            if before is None
            else base.where(
                key <= _bound(before.key), position < tuple_(_bound(before.key), before.id)
            )
        )
        query = query.order_by(key.desc(), Article.id.desc()).limit(size + 1)
        rows = _load(session, list(session.scalars(query)))
        more_older = len(rows) > size
        rows = rows[:size]
        # The cursor's row lay above, so Newer is offered without asking again: a second
        # query would read a common word's matches twice (the rare cost: if every row above
        # was deleted meanwhile, Newer leads to a page that says so).
        more_newer = before is not None and bool(rows)
    return Page(
        rows,
        older=_cursor(rows[-1], filters) if more_older else None,
        newer=_cursor(rows[0], filters) if more_newer else None,
        searched=empty.searched,
        author_known=True,
    )


def _load(session: Session, ids: list[int]) -> list[Article]:
    """The page's articles with their sections and people, in the order of ids.

    The ids come first, from the order's index alone; joining the people into that query
    lets a planner sort the joined rows instead of reading the index in order."""
    query = select(Article).options(*WITH_PEOPLE).where(Article.id.in_(ids))
    loaded = {article.id: article for article in session.scalars(query)}
    return [loaded[i] for i in ids if i in loaded]


def _bound(key: datetime) -> ColumnElement[datetime]:
    return literal(key, UTCDateTime)


def _cursor(article: Article, filters: Filters) -> Cursor:
    key = article.publish_at or article.created_at  # _sort_key's value, for any filter
    return Cursor(key, article.id)
