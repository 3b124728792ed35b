"""Tombstones (RFC 6721): the feeds an article leaves, and the at:deleted-entry each keeps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from feedsvc import topics
from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.storage.history import GoneArticle, Tombstone
from feedsvc.storage.models import Article, utcnow

# Feed keys (feedsvc/scopes.py): the site-wide feed, one per section ("section:<id>"), and
# one per tag and author ("tag:<id>", "author:<id>").
SITE = "site"


def section_key(section_id: int) -> str:
    return f"section:{section_id}"


def feed_keys(article: Article) -> frozenset[str]:
    """The feeds that carry the article while it is public: the site's, its section's, and
    its tags' and author's as its topic links stand now (a save relinks them first,
    topics.article_saved, so asked before and after a change the two sets differ by the
    feeds it left or joined)."""
    keys = {SITE, section_key(article.section_id)}
    session = object_session(article)
    if session is not None:
        keys.update(topics.topic_keys(session, article.id))
    return frozenset(keys)


def _public(article: Article, now: datetime) -> bool:
    return (
        article.status == STATUS_PUBLISHED
        and article.publish_at is not None
        and article.publish_at <= now
    )


def shown_in(article: Article) -> frozenset[str]:
    """The feeds the article is in as it is now (none while a draft or scheduled)."""
    return feed_keys(article) if _public(article, utcnow()) else frozenset()


def after_change(
    session: Session, article: Article, before: frozenset[str], *, deleted: bool = False
) -> None:
    """Tombstone the article in every feed it was in (`before`) and leaves with this change.

    A deletion, an unpublish (published → draft, or a publish time moved into the future)
    or a move to another section: readers that hold the entry learn it is gone (RFC 6721
    §3). Back in a feed (republished, moved back), its tombstone there goes, and its
    revised_at moves on: a reader that kept the tombstone compares its `when` with the
    entry's updated, and must find the entry newer.
    """
    now = utcnow()
    after = frozenset() if deleted else shown_in(article)
    left = before - after
    for key in sorted(left):
        # merge: one row per feed and entry (§3: never two with the same ref and when).
        session.merge(Tombstone(feed_key=key, ref=article.guid, deleted_at=now))
    if before and not after:  # readers saw it, and now it is nowhere: its page says 410
        session.merge(GoneArticle(article_id=article.id, gone_at=now))
    if after and not before:  # public again (or for the first time): its page is back
        session.execute(delete(GoneArticle).where(GoneArticle.article_id == article.id))
    back = after - before  # only a feed it was not in can hold its tombstone
    if back:
        result = session.execute(
            delete(Tombstone).where(Tombstone.ref == article.guid, Tombstone.feed_key.in_(back))
        )
        if result.rowcount:  # type: ignore[attr-defined]  # a CursorResult for a DELETE
            article.revised_at = now


def cutoff(as_of: datetime, days: int) -> datetime:
    """The oldest deletion a feed rendered at as_of still shows: whole days, so renders
    within one UTC day agree and a feed's bytes do not churn with every tick."""
    day = as_of.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days)


def for_feed(session: Session, key: str, as_of: datetime, days: int) -> list[tuple[str, datetime]]:
    """(ref, when) of the feed's tombstones still within the period, newest first."""
    query = (
        select(Tombstone.ref, Tombstone.deleted_at)
        .where(Tombstone.feed_key == key, Tombstone.deleted_at >= cutoff(as_of, days))
        .order_by(Tombstone.deleted_at.desc(), Tombstone.ref)
    )
    # On the Core connection: this runs for every feed a pass renders.
    return [(ref, when) for ref, when in session.connection().execute(query)]


def forget_feeds(session: Session, keys: Iterable[str]) -> None:
    """Drop the tombstones of feeds that no longer exist (a deleted section's)."""
    session.execute(delete(Tombstone).where(Tombstone.feed_key.in_(list(keys))))


def purge(session: Session, as_of: datetime, days: int) -> int:
    """Delete the tombstones past the period (no feed shows them any more); return how many."""
    result = session.execute(delete(Tombstone).where(Tombstone.deleted_at < cutoff(as_of, days)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def is_gone(session: Session, article_id: int) -> bool:
    """Whether readers saw the article and it is deleted or a draft now (410, not 404)."""
    return session.get(GoneArticle, article_id) is not None
