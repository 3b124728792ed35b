"""Which articles an archived feed holds: its scope (site, section, ...) and its key order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from feedsvc import archiving, feeds, scopes, urls
from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.publishing.archivelinks import History, Key
from feedsvc.publishing.changes import Due
from feedsvc.publishing.snapshot import (
    FeedHead,
    Rendered,
    feed_items,
    read_section,
    render_formats,
    section_head,
    site_head,
    stored_entries,
)
from feedsvc.publishing.topicfeeds import TOPIC_FEED_ITEMS, topic_head
from feedsvc.reading import FeedRow
from feedsvc.storage.models import Article, Section
from feedsvc.storage.topics import AUTHOR, TAG, ArticleTopic, Topic


@dataclass(frozen=True)
class Scope:
    """An archived feed: which articles, how many its subscription document shows, its head."""

    key: str  # "site", "section:<id>", "tag:<id>", "author:<id>" (feedsvc/scopes.py)
    base: str  # document path prefix: "", "sections/<slug>/", "tags/<slug>/", ...
    window: int  # items in the subscription document
    where: tuple[ColumnElement[bool], ...]  # narrows the published articles to the scope's
    head: FeedHead
    section_id: int | None = None  # the section whose feeds link to it, None for the site
    topic_id: int | None = None  # the tag or author whose feeds link to it
    # (status, publish_at, id) columns its queries filter and order on: the articles' own,
    # or a topic's copies in article_topics, so that a tag's pages read one range of
    # ix_article_topics_feed rather than walk every article of the site.
    order: tuple[Any, Any, Any] = (Article.status, Article.publish_at, Article.id)


def _section_scope(session: Session, config: Mapping[str, Any], ident: str) -> Scope | None:
    row = read_section(session, int(ident))
    if row is None:
        return None
    return Scope(
        archiving.section_key(row.id),
        urls.section_base(row.slug),
        row.items_per_feed,
        (Article.section_id == row.id,),
        section_head(config, row),
        section_id=row.id,
    )


def _topic_scope(
    session: Session, config: Mapping[str, Any], ident: str, kind: str
) -> Scope | None:
    """A tag's or author's feed: the articles linked to the topic, ordered by the links'
    copies of their status and publish time (kept in step by every save), as its feed is."""
    topic = (
        session.connection()
        .execute(
            select(Topic.id, Topic.kind, Topic.name, Topic.slug, Topic.created_at).where(
                Topic.id == int(ident)
            )
        )
        .first()
    )
    if topic is None or topic.kind != kind:
        return None
    return Scope(
        scopes.Scope(topic.kind, topic.id).key,
        urls.topic_base(topic.kind, topic.slug),
        TOPIC_FEED_ITEMS,
        (ArticleTopic.topic_id == topic.id, ArticleTopic.article_id == Article.id),
        topic_head(config, topic),
        topic_id=topic.id,
        order=(ArticleTopic.status, ArticleTopic.publish_at, ArticleTopic.article_id),
    )


def _tag_scope(session: Session, config: Mapping[str, Any], ident: str) -> Scope | None:
    return _topic_scope(session, config, ident, TAG)


def _author_scope(session: Session, config: Mapping[str, Any], ident: str) -> Scope | None:
    return _topic_scope(session, config, ident, AUTHOR)


# Scope kinds by the key's prefix ("section:12" → "section", "tag:7" → "tag").
SCOPES: dict[str, Callable[[Session, Mapping[str, Any], str], Scope | None]] = {
    "section": _section_scope,
    TAG: _tag_scope,
    AUTHOR: _author_scope,
}


def due_keys(session: Session, due: Due) -> list[str]:
    """The keys of the feeds a pass renders: their archives advance first. A topic's key
    needs its kind: read for the due topics only, never for all of them."""
    keys = [archiving.section_key(i) for i in due.sections]
    keys += [archiving.SITE_KEY] if due.site else []
    if due.topics:
        keys += [
            scopes.Scope(kind, i).key
            for i, kind in session.connection().execute(
                select(Topic.id, Topic.kind).where(Topic.id.in_(due.topics)).order_by(Topic.id)
            )
        ]
    return keys


def scope_of(session: Session, config: Mapping[str, Any], key: str) -> Scope | None:
    """The scope a key names, None when it no longer exists (or the key is not understood)."""
    if key == archiving.SITE_KEY:
        first = session.scalar(select(Section.created_at).order_by(Section.created_at).limit(1))
        return Scope(key, "", int(config["SITE_FEED_ITEMS"]), (), site_head(config, first))
    kind, _, ident = key.partition(":")
    make = SCOPES.get(kind)
    if make is None or not ident.isdigit():
        return None
    return make(session, config, ident)


def after(scope: Scope, key: Key) -> ColumnElement[bool]:
    """The scope's articles whose (publish_at, id) key is above key.

    The plain publish_at bound comes first so both engines read an index range on
    (..., publish_at, id); the OR only sorts out the ties at the bound itself.
    """
    _status, at, ident = scope.order
    return and_(at >= key[0], or_(at > key[0], ident > key[1]))


def at_most(scope: Scope, key: Key) -> ColumnElement[bool]:
    """The scope's articles whose (publish_at, id) key is at or below key (see after)."""
    _status, at, ident = scope.order
    return and_(at <= key[0], or_(at < key[0], ident <= key[1]))


def published(scope: Scope, as_of: datetime, *more: ColumnElement[bool]) -> list[Any]:
    status, at, _ident = scope.order
    return [status == STATUS_PUBLISHED, at <= as_of, *scope.where, *more]


def above(scope: Scope, floor: Key | None) -> tuple[ColumnElement[bool], ...]:
    """The condition for the scope's items above floor (none for no floor)."""
    return () if floor is None else (after(scope, floor),)


def count_above(c: Any, scope: Scope, as_of: datetime, floor: Key | None, limit: int) -> int:
    """How many of the scope's items published by as_of lie above floor, counted up to limit
    (one index range, counted by the engine: no row reaches Python)."""
    where = published(scope, as_of, *above(scope, floor))
    inner = select(scope.order[2]).where(*where).limit(limit).subquery()
    return int(c.execute(select(func.count()).select_from(inner)).scalar_one())


def nth_above(c: Any, scope: Scope, as_of: datetime, floor: Key | None, n: int) -> Key:
    """The (publish_at, id) key of the scope's n-th oldest item above floor (n >= 1)."""
    where = published(scope, as_of, *above(scope, floor))
    query = select(*scope.order[1:]).where(*where).order_by(*oldest(scope))
    at, ident = c.execute(query.offset(n - 1).limit(1)).one()
    return (at, ident)


def held_open(count: int, window: int, step: int) -> int:
    """How many items the open page holds, of count above the floor: those past the window,
    in whole steps (the subscription document keeps its window and fewer than a step more)."""
    past = count - window
    return past - past % step if past > 0 else 0


def newest(scope: Scope) -> tuple[Any, Any]:
    """Newest first, ties by id: the order of its feed and of every page."""
    return (scope.order[1].desc(), scope.order[2].desc())


def oldest(scope: Scope) -> tuple[Any, Any]:
    return (scope.order[1].asc(), scope.order[2].asc())


def fingerprint(config: Mapping[str, Any], scope: Scope) -> str:
    """What a feed's archive pages say besides their items: their path, head and the settings
    they are rendered with. Rendered again, every page, when it changes."""
    settings = [config[name] for name in ("SITE_URL", "SITE_LANGUAGE", "SITE_NAME")]
    settings += [config["TICK_SECONDS"], config["ARCHIVE_MAX_AGE"]]
    return hashlib.sha256(repr((scope.base, scope.head, settings)).encode()).hexdigest()[:32]


def page_rows(s: Session, query: Any) -> tuple[list[FeedRow], dict[int, str]]:
    """A page's articles as feed rows, and the names of the sections they belong to."""
    rows = [FeedRow(*r) for r in s.connection().execute(query)]
    wanted = {r.section_id for r in rows}
    names: dict[int, str] = {
        i: n for i, n in s.execute(select(Section.id, Section.name).where(Section.id.in_(wanted)))
    }
    return rows, names


def page_docs(
    config: Mapping[str, Any],
    scope: Scope,
    history: History,
    page: int,
    rows: tuple[list[FeedRow], dict[int, str]],
    max_age: int | None,
    app: Flask | None = None,
) -> list[Rendered]:
    """One archive page's documents in every format (closed pages carry max_age).

    With app, entries come from the stored page and subscription feed where unchanged: an
    open page holds the items that just left the feed, rendered there already.
    """
    site_url = config["SITE_URL"]
    paths = {fmt: urls.archive_doc_path(scope.base, page, fmt) for fmt in feeds.FORMATS}
    links = {fmt: history.page_links(site_url, scope.base, page, fmt) for fmt in feeds.FORMATS}
    items = feed_items(site_url, *rows)
    previous = None
    if app is not None:
        feed = {fmt: f"{scope.base}{urls.FEED_FILES[fmt]}" for fmt in feeds.FORMATS}
        previous = stored_entries(app, paths, feed)
    return render_formats(config, paths, items, scope.head, links, max_age, previous)
