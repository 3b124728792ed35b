"""What changed since the last pass: sections edited, scheduled articles come due, the site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.orm import Session

from feedsvc import topics, urls
from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.storage.models import Article, FeedDocument, Section

_SECTIONS = cast(Table, Section.__table__)
_ARTICLES = cast(Table, Article.__table__)
_DOCUMENTS = cast(Table, FeedDocument.__table__)
# Run every tick (and, for the first one, every WATCH_SECONDS) on the Core connection:
# the ORM session's execution path costs more than these small index reads themselves.
# Built once, their values bound per call: SQLAlchemy then neither rebuilds nor recompiles them.
_EDITED = select(_SECTIONS.c.id).where(_SECTIONS.c.revision != _SECTIONS.c.rendered_revision)
_OLDEST_RENDER = select(func.min(_SECTIONS.c.rendered_as_of))
_CAME_DUE = (
    select(_ARTICLES.c.section_id)
    .join(_SECTIONS, _SECTIONS.c.id == _ARTICLES.c.section_id)
    .where(
        _ARTICLES.c.status == STATUS_PUBLISHED,
        _ARTICLES.c.publish_at > bindparam("low"),
        _ARTICLES.c.publish_at <= bindparam("now"),
        _ARTICLES.c.publish_at > _SECTIONS.c.rendered_as_of,
    )
    .distinct()
)
_ALL_SECTIONS = select(_SECTIONS.c.id).order_by(_SECTIONS.c.id)
# Paths only: loading the documents themselves would read ~400 KB per tick.
_SITE_STORED = select(_DOCUMENTS.c.path).where(
    _DOCUMENTS.c.path.in_([urls.site_doc_path("atom"), urls.OPML_PATH])
)
# Sections among :ids created or edited since their last render.
_RENAMED = (
    select(func.count())
    .select_from(_SECTIONS)
    .where(
        _SECTIONS.c.id.in_(bindparam("ids", expanding=True)),
        or_(
            _SECTIONS.c.rendered_as_of.is_(None),
            # >=: both are whole seconds, and an edit in the very second
            # of the last render would otherwise leave the OPML behind.
            _SECTIONS.c.updated_at >= _SECTIONS.c.rendered_as_of,
        ),
    )
)


def edits_pending(session: Session) -> bool:
    """Whether some section was edited since its last render: sections_due's cheap half."""
    return session.connection().execute(_EDITED.limit(1)).first() is not None


def sections_due(session: Session, now: datetime) -> list[int]:
    """Sections whose revision moved, or where a scheduled article came due since last render."""
    connection = session.connection()
    moved = set(connection.execute(_EDITED).scalars())
    # Bounding by the oldest render time keeps this an index range scan on (status, publish_at).
    low = connection.execute(_OLDEST_RENDER).scalar()
    if low is not None:
        came_due = connection.execute(_CAME_DUE, {"low": low, "now": now}).scalars()
        moved.update(came_due)
    return sorted(moved)


@dataclass(frozen=True)
class Due:
    """What one pass renders: these sections, and whether the site's feeds and its OPML list."""

    sections: list[int]
    site: bool
    opml: bool
    topics: list[int] = field(default_factory=list)  # tags and authors (feedsvc/topics.py)
    full: bool = False  # a full rebuild: every document is rendered again, open pages too


def pass_due(session: Session, now: datetime, *, full: bool) -> Due:
    """What a pass must render: the changed sections (all of them when full) and the site."""
    connection = session.connection()
    due = list(connection.execute(_ALL_SECTIONS).scalars()) if full else sections_due(session, now)
    stored = set(connection.execute(_SITE_STORED).scalars())
    site_missing = urls.site_doc_path("atom") not in stored
    # The OPML list names sections only: redo it when one was created or edited since
    # its last render, not for every article.
    opml_due = full or urls.OPML_PATH not in stored
    if due and not opml_due:
        opml_due = bool(connection.execute(_RENAMED, {"ids": due}).scalar())
    # Tags and authors: dirty with any of their articles (their own revision counters).
    topic_ids = topics.all_topics(session) if full else topics.topics_due(session, now)
    opml_due = opml_due or topics.new_topics(session, topic_ids)
    return Due(
        sections=due,
        site=bool(due) or full or site_missing,
        opml=opml_due,
        topics=topic_ids,
        full=full,
    )
