"""Which archived feeds show an article, and the touches a save leaves for their pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from feedsvc.storage.archives import ArchivePage, ArchiveScope, ArchiveTouch

SITE_KEY = "site"


def section_key(section_id: int) -> str:
    return f"section:{section_id}"


def scope_keys(section_id: int, topic_keys: Iterable[str] = ()) -> list[str]:
    """The archived feeds an article of this section appears in, with those of its tags and
    author ("tag:<id>", "author:<id>": topics.topic_keys)."""
    return [SITE_KEY, section_key(section_id), *topic_keys]


def touch(
    session: Session, placements: Iterable[tuple[str, datetime | None]], article_id: int
) -> None:
    """Note (feed key, publish_at) placements an article had or has, in the save's transaction.

    The next publishing pass renders again the closed archive page holding each placement
    (RFC 5005 §4: a page's entries change only when one of its own articles does). A draft
    never published has no placement.
    """
    rows = {(key, publish_at) for key, publish_at in placements if publish_at is not None}
    if rows:
        session.connection().execute(
            insert(ArchiveTouch),
            [
                {"feed_key": key, "publish_at": at, "article_id": article_id}
                for key, at in sorted(rows)
            ],
        )


def forget(session: Session, key: str) -> None:
    """A feed that is gone for good (its section deleted): drop its archive bookkeeping, so no
    later pass tries to close or render pages of a scope that no longer exists."""
    for model in (ArchivePage, ArchiveScope, ArchiveTouch):
        session.execute(delete(model).where(model.feed_key == key))
