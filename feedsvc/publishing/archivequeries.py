"""The archive's article statements, built once per kind of feed, their values bound per call.

Every pass counts and bounds each changed feed's items (archives.advance) and reads its open
page (archiveopen). Built per call, a statement costs several times its own SQL on SQLite:
SQLAlchemy coerces its clauses and walks it for a cache key each time. Built once with named
bind parameters, its cache key is computed once and its compiled form comes from the engine's
cache, so a call costs little more than the query.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.publishing.archivelinks import Key
from feedsvc.reading import FEED_COLUMNS
from feedsvc.storage.models import Article
from feedsvc.storage.topics import ArticleTopic

SITE, SECTION, TOPIC = "site", "section", "topic"

# (status, publish_at, id) columns the queries filter and order on: the articles' own, or a
# topic's copies in article_topics, so that a tag's pages read one range of
# ix_article_topics_feed rather than walk every article of the site.
_ORDER: dict[str, tuple[Any, Any, Any]] = {
    SITE: (Article.status, Article.publish_at, Article.id),
    SECTION: (Article.status, Article.publish_at, Article.id),
    TOPIC: (ArticleTopic.status, ArticleTopic.publish_at, ArticleTopic.article_id),
}


def _scope_where(kind: str, *, rows: bool) -> tuple[ColumnElement[bool], ...]:
    """What narrows the published articles to one feed's (its id bound as scope_id).

    A topic's keys (counts, bounds) come from article_topics alone: it carries copies of the
    status and publish time (storage/topics.py), so no article row is read for them. Only
    its rows (page_statement) join the articles.
    """
    if kind == SECTION:
        return (Article.section_id == bindparam("scope_id"),)
    if kind == TOPIC:
        topic = ArticleTopic.topic_id == bindparam("scope_id")
        return (topic, ArticleTopic.article_id == Article.id) if rows else (topic,)
    return ()


def _published(
    kind: str, *, floor: bool, upper: bool = False, rows: bool = False
) -> list[ColumnElement[bool]]:
    """The feed's items published by :now; above (:floor_at, :floor_id) with floor, at or
    below (:upper_at, :upper_id) with upper.

    The plain publish_at bound comes first in each so both engines read an index range on
    (..., publish_at, id); the OR only sorts out the ties at the bound itself.
    """
    status, at, ident = _ORDER[kind]
    where = [status == STATUS_PUBLISHED, at <= bindparam("now"), *_scope_where(kind, rows=rows)]
    if upper:
        upper_at: BindParameter[Any] = bindparam("upper_at")
        where.append(and_(at <= upper_at, or_(at < upper_at, ident <= bindparam("upper_id"))))
    if floor:
        floor_at: BindParameter[Any] = bindparam("floor_at")
        where.append(and_(at >= floor_at, or_(at > floor_at, ident > bindparam("floor_id"))))
    return where


@cache
def count_statement(kind: str, floor: bool) -> Select[int]:
    """How many of the feed's items lie above the floor, counted up to :reach (one index
    range, counted by the engine: no row reaches Python)."""
    ident = _ORDER[kind][2]
    inner = (
        select(ident)
        .where(*_published(kind, floor=floor))
        .limit(bindparam("reach", type_=Integer))
        .subquery()
    )
    return select(func.count()).select_from(inner)


@cache
def nth_statement(kind: str, floor: bool) -> Select[datetime, int]:
    """The (publish_at, id) key of the feed's item :skip + 1 from the oldest above the floor."""
    _status, at, ident = _ORDER[kind]
    return (
        select(at, ident)
        .where(*_published(kind, floor=floor))
        .order_by(at.asc(), ident.asc())
        .offset(bindparam("skip", type_=Integer))
        .limit(1)
    )


@cache
def page_statement(kind: str, floor: bool) -> Select[*tuple[Any, ...]]:
    """A page's articles as feed rows, newest first: above the floor (with floor) and at
    most the page's own bound (:upper_at, :upper_id)."""
    _status, at, ident = _ORDER[kind]
    where = _published(kind, floor=floor, upper=True, rows=True)
    return select(*FEED_COLUMNS).where(*where).order_by(at.desc(), ident.desc())


def bound(
    scope_id: int | None, now: datetime, floor: Key | None, upper: Key | None = None
) -> dict[str, Any]:
    """The values these statements take: the feed's id, the instant, its bounds."""
    values: dict[str, Any] = {"now": now}
    if scope_id is not None:
        values["scope_id"] = scope_id
    if floor is not None:
        values["floor_at"], values["floor_id"] = floor
    if upper is not None:
        values["upper_at"], values["upper_id"] = upper
    return values
