"""What changed since the last pass: sections edited, and scheduled articles come due."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from feedsvc.storage.models import STATUS_PUBLISHED, Article, Section

_SECTIONS = cast(Table, Section.__table__)
_ARTICLES = cast(Table, Article.__table__)
# Run every tick (and, for the first one, every WATCH_SECONDS) on the Core connection:
# the ORM session's execution path costs more than these small index reads themselves.
_EDITED = select(_SECTIONS.c.id).where(_SECTIONS.c.revision != _SECTIONS.c.rendered_revision)
_OLDEST_RENDER = select(func.min(_SECTIONS.c.rendered_as_of))


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
        came_due = connection.execute(
            select(_ARTICLES.c.section_id)
            .join(_SECTIONS, _SECTIONS.c.id == _ARTICLES.c.section_id)
            .where(
                _ARTICLES.c.status == STATUS_PUBLISHED,
                _ARTICLES.c.publish_at > low,
                _ARTICLES.c.publish_at <= now,
                _ARTICLES.c.publish_at > _SECTIONS.c.rendered_as_of,
            )
            .distinct()
        ).scalars()
        moved.update(came_due)
    return sorted(moved)
