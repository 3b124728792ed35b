"""Tags and authors: normalise an article's tags, keep its topics in step with every save."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from feedsvc.content.slugs import slugify
from feedsvc.content.text import ContentError, one_line
from feedsvc.limits import SLUG_MAX, SLUG_RE, STATUS_PUBLISHED, TAG_MAX, TAG_SEPARATOR, TAGS_MAX
from feedsvc.storage.models import Article, utcnow
from feedsvc.storage.topics import AUTHOR, TAG, ArticleTopic, Topic

_TOPICS = cast(Table, Topic.__table__)
_LINKS = cast(Table, ArticleTopic.__table__)
# Line breaks and tabs are whitespace (collapsed like spaces); any other C0/C1 control
# character in a tag is refused rather than silently dropped: it is not something one types.
_WHITESPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c")


def split_tags(text: str) -> list[str]:
    """The form's "Tags" field: comma-separated, as typed."""
    return text.split(",")


def clean_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Normalise tags as typed: trimmed, inner whitespace collapsed, empty ones dropped,
    duplicates (same slug, so also any other letter case) dropped keeping the first.

    Raises ContentError with one sentence for a control character, a tag longer than
    TAG_MAX, or more than TAGS_MAX tags.
    """
    tags: list[str] = []
    slugs: set[str] = set()
    for value in raw:
        if any(unicodedata.category(ch) == "Cc" and ch not in _WHITESPACE_CONTROLS for ch in value):
            raise ContentError("A tag may not contain control characters.")
        tag = one_line(value)
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise ContentError(f"Each tag must be at most {TAG_MAX} characters: {tag[:20]}…")
        slug = slugify(tag)
        if slug in slugs:
            continue
        slugs.add(slug)
        tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise ContentError(f"An article may have at most {TAGS_MAX} tags.")
    return tuple(tags)


def tags_of(article: Article) -> tuple[str, ...]:
    """A loaded article's tags (its tag_names copy), in the editor's order."""
    return tuple(article.tag_names.split(TAG_SEPARATOR)) if article.tag_names else ()


def article_tags(session: Session, article_id: int) -> tuple[str, ...]:
    """The article's tags by their topics' names, in the editor's order."""
    names = (
        session.connection()
        .execute(select(Article.tag_names).where(Article.id == article_id))
        .scalar()
    )
    return tuple(names.split(TAG_SEPARATOR)) if names else ()


def _topic_ids(session: Session, wanted: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """The (id, name as first stored) of the (kind, name) topics, in order, storing the
    ones that do not exist yet.

    A topic is found by its slug: "Climate change" and "climate  Change" are one topic,
    named as first stored. Concurrent savers creating the same topic both succeed (the
    insert skips a row that appeared meanwhile).
    """
    keyed = [(kind, slugify(name, max_length=SLUG_MAX), name) for kind, name in wanted]
    if not keyed:
        return []
    connection = session.connection()

    def known() -> dict[tuple[str, str], tuple[int, str]]:
        rows = connection.execute(
            select(_TOPICS.c.id, _TOPICS.c.kind, _TOPICS.c.slug, _TOPICS.c.name).where(
                _TOPICS.c.slug.in_(sorted({slug for _kind, slug, _name in keyed}))
            )
        )
        return {(kind, slug): (topic_id, name) for topic_id, kind, slug, name in rows}

    ids = known()
    missing = {(k, s): n for k, s, n in keyed if (k, s) not in ids}
    if missing:
        dialect = connection.dialect.name
        now = utcnow()
        values = [
            {
                "kind": k,
                "slug": s,
                "name": n,
                "revision": 1,
                "rendered_revision": 0,
                "created_at": now,
            }
            for (k, s), n in missing.items()
        ]
        statement: Any
        if dialect == "postgresql":
            statement = postgresql.insert(_TOPICS).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite.insert(_TOPICS).on_conflict_do_nothing()
        else:  # pragma: no cover - the two engines feedsvc supports are above
            statement = insert(_TOPICS)
        connection.execute(statement, values)
        ids = known()
    return [ids[(k, s)] for k, s, _n in keyed]


def article_saved(session: Session, article: Article, tags: Sequence[str] | None) -> None:
    """Link the article to its tags and author, copying in its status and publish time, and
    bump the revisions of the topics it was in and is in now, in the save's transaction.

    tags: the article's tags, cleaned (clean_tags); None keeps the ones it has. Called by
    articles.feeds_changed, the one place a save marks feeds out of date.
    """
    connection = session.connection()
    old = set(
        connection.execute(
            select(_LINKS.c.topic_id).where(_LINKS.c.article_id == article.id)
        ).scalars()
    )
    if tags is None:
        tags = article_tags(session, article.id)
    wanted = [(TAG, tag) for tag in tags]
    if article.author:
        wanted.append((AUTHOR, article.author))
    found = _topic_ids(session, wanted)
    new = [topic_id for topic_id, _name in found]
    # The feeds' copy of the tags (Article.tag_names): the topics' names, as first stored.
    names = TAG_SEPARATOR.join(name for _id, name in found[: len(tags)])
    if names != article.tag_names:
        article.tag_names = names
        session.flush()
    connection.execute(delete(_LINKS).where(_LINKS.c.article_id == article.id))
    if new:
        connection.execute(
            insert(_LINKS),
            [
                {
                    "article_id": article.id,
                    "topic_id": topic_id,
                    "position": position,
                    "status": article.status,
                    "publish_at": article.publish_at,
                }
                for position, topic_id in enumerate(dict.fromkeys(new))
            ],
        )
    _bump(session, old | set(new))


def article_gone(session: Session, article_id: int) -> None:
    """Before an article is deleted: its topics' feeds must drop it (their revisions move)."""
    connection = session.connection()
    old = set(
        connection.execute(
            select(_LINKS.c.topic_id).where(_LINKS.c.article_id == article_id)
        ).scalars()
    )
    connection.execute(delete(_LINKS).where(_LINKS.c.article_id == article_id))
    _bump(session, old)


def _bump(session: Session, topic_ids: set[int]) -> None:
    if topic_ids:
        session.connection().execute(
            update(_TOPICS)
            .where(_TOPICS.c.id.in_(sorted(topic_ids)))
            .values(revision=_TOPICS.c.revision + 1)
        )


# A pass asks these every tick: built once, their values bound per call (changes.py).
_EDITED = select(_TOPICS.c.id).where(_TOPICS.c.revision != _TOPICS.c.rendered_revision)
_OLDEST_RENDER = select(func.min(_TOPICS.c.rendered_as_of))
_ARTICLES = cast(Table, Article.__table__)
_CAME_DUE = (
    select(_LINKS.c.topic_id)
    .select_from(_ARTICLES)
    .join(_LINKS, _LINKS.c.article_id == _ARTICLES.c.id)
    .join(_TOPICS, _TOPICS.c.id == _LINKS.c.topic_id)
    .where(
        _ARTICLES.c.status == STATUS_PUBLISHED,
        _ARTICLES.c.publish_at > bindparam("low"),
        _ARTICLES.c.publish_at <= bindparam("now"),
        _ARTICLES.c.publish_at > _TOPICS.c.rendered_as_of,
    )
    .distinct()
)
_ALL = select(_TOPICS.c.id).order_by(_TOPICS.c.id)
_NEVER_RENDERED = (
    select(_TOPICS.c.id)
    .where(_TOPICS.c.id.in_(bindparam("ids", expanding=True)), _TOPICS.c.rendered_as_of.is_(None))
    .limit(1)
)


def topics_due(session: Session, now: datetime) -> list[int]:
    """Topics whose revision moved, or where a scheduled article came due since last render.

    The same two questions as publishing/changes.sections_due; the second one walks the
    articles' (status, publish_at) index from the oldest topic render, then each article's
    links by their primary key.
    """
    connection = session.connection()
    moved = set(connection.execute(_EDITED).scalars())
    low = connection.execute(_OLDEST_RENDER).scalar()
    if low is not None:
        moved.update(connection.execute(_CAME_DUE, {"low": low, "now": now}).scalars())
    return sorted(moved)


def all_topics(session: Session) -> list[int]:
    """Every topic, for a full rebuild."""
    return list(session.connection().execute(_ALL).scalars())


def new_topics(session: Session, topic_ids: Sequence[int]) -> bool:
    """Whether some of these topics were never rendered (the OPML list must name them)."""
    if not topic_ids:
        return False
    found = session.connection().execute(_NEVER_RENDERED, {"ids": list(topic_ids)}).first()
    return found is not None


def find_topic(session: Session, kind: str, slug: str) -> Topic | None:
    """The tag or author with this slug, if any (a malformed slug: None, no query)."""
    if len(slug) > SLUG_MAX or not SLUG_RE.fullmatch(slug):
        return None
    return session.scalar(select(Topic).where(Topic.kind == kind, Topic.slug == slug))


def topic_keys(session: Session, article_id: int) -> list[str]:
    """The feed keys ("tag:<id>", "author:<id>", feedsvc/scopes.py) of the article's topics
    as its links stand now: read before a save changes them, they name the feeds it leaves."""
    rows = session.connection().execute(
        select(_TOPICS.c.kind, _TOPICS.c.id)
        .join(_LINKS, _LINKS.c.topic_id == _TOPICS.c.id)
        .where(_LINKS.c.article_id == article_id)
        .order_by(_TOPICS.c.id)
    )
    return [f"{kind}:{topic_id}" for kind, topic_id in rows]


def article_topics(session: Session, article_id: int) -> list[Topic]:
    """The article's tags then its author, for its page's links."""
    query = (
        select(Topic)
        .join(ArticleTopic, ArticleTopic.topic_id == Topic.id)
        .where(ArticleTopic.article_id == article_id)
        .order_by(ArticleTopic.position)
    )
    return list(session.scalars(query))


def known_authors(session: Session, limit: int = 500) -> list[str]:
    """Authors' names for the form's suggestions (an HTML datalist), alphabetical."""
    query = (
        select(Topic.name)
        .where(Topic.kind == AUTHOR)
        .order_by(func.lower(Topic.name), Topic.id)
        .limit(limit)
    )
    return list(session.scalars(query))
