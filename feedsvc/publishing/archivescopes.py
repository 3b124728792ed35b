"""Which articles an archived feed holds: its scope (site, section, ...) and its key order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from feedsvc import archiving, scopes, urls
from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.publishing.archivelinks import Key
from feedsvc.publishing.changes import Due
from feedsvc.publishing.snapshot import FeedHead, section_head, site_head
from feedsvc.publishing.topicfeeds import TOPIC_FEED_ITEMS, topic_head
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


def _section_scope(session: Session, config: Mapping[str, Any], ident: str) -> Scope | None:
    row = session.execute(
        select(
            Section.id,
            Section.guid,
            Section.name,
            Section.slug,
            Section.description,
            Section.items_per_feed,
            Section.created_at,
        ).where(Section.id == int(ident))
    ).first()
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
    """A tag's or author's feed: the articles linked to the topic (its feed's rows, seen
    through the articles' own columns, so pages close on the same keys as everywhere)."""
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
    linked = select(ArticleTopic.article_id).where(ArticleTopic.topic_id == topic.id)
    return Scope(
        scopes.Scope(topic.kind, topic.id).key,
        urls.topic_base(topic.kind, topic.slug),
        TOPIC_FEED_ITEMS,
        (Article.id.in_(linked),),
        topic_head(config, topic),
        topic_id=topic.id,
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


def after(key: Key) -> ColumnElement[bool]:
    """Articles whose (publish_at, id) key is above key.

    The plain publish_at bound comes first so both engines read an index range on
    (..., publish_at, id); the OR only sorts out the ties at the bound itself.
    """
    return and_(
        Article.publish_at >= key[0],
        or_(Article.publish_at > key[0], Article.id > key[1]),
    )


def at_most(key: Key) -> ColumnElement[bool]:
    """Articles whose (publish_at, id) key is at or below key (see after)."""
    return and_(
        Article.publish_at <= key[0],
        or_(Article.publish_at < key[0], Article.id <= key[1]),
    )


def published(scope: Scope, as_of: datetime, *more: ColumnElement[bool]) -> list[Any]:
    return [Article.status == STATUS_PUBLISHED, Article.publish_at <= as_of, *scope.where, *more]


NEWEST = (Article.publish_at.desc(), Article.id.desc())
OLDEST = (Article.publish_at.asc(), Article.id.asc())


def fingerprint(config: Mapping[str, Any], scope: Scope) -> str:
    """What a feed's archive pages say besides their items: their path, head and the settings
    they are rendered with. Rendered again, every page, when it changes."""
    settings = [config[name] for name in ("SITE_URL", "SITE_LANGUAGE", "SITE_NAME")]
    settings += [config["TICK_SECONDS"], config["ARCHIVE_MAX_AGE"]]
    return hashlib.sha256(repr((scope.base, scope.head, settings)).encode()).hexdigest()[:32]
