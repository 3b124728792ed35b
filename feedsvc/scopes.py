"""Which feed: a scope names the articles one feed shows, and reads its newest rows.

A scope's key is a stable string, the same in every process and across restarts:
"site" (every section), "section:<id>", "tag:<id>", "author:<id>" (ids of sections and
topics, which never change and are never reused). scope_rows gives any scope's newest
published articles, newest first, ties by id: what its feed (and its archive pages) show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.reading import FEED_COLUMNS, FeedRow, feed_rows
from feedsvc.storage.models import Article
from feedsvc.storage.topics import AUTHOR, TAG, ArticleTopic

SITE = "site"
SECTION = "section"
KINDS = (SITE, SECTION, TAG, AUTHOR)

# A tag's or author's newest published articles: one range of ix_article_topics_feed, then
# each article by its primary key. Built once: it runs for every changed topic, every tick.
_TOPIC_ROWS = (
    select(*FEED_COLUMNS)
    .select_from(ArticleTopic)
    .join(Article, Article.id == ArticleTopic.article_id)
    .where(
        ArticleTopic.topic_id == bindparam("topic_id"),
        ArticleTopic.status == STATUS_PUBLISHED,
        ArticleTopic.publish_at <= bindparam("as_of"),
    )
    .order_by(ArticleTopic.publish_at.desc(), ArticleTopic.article_id.desc())
    .limit(bindparam("limit"))
)


@dataclass(frozen=True, slots=True)
class Scope:
    """One feed's membership: the whole site, a section, a tag or an author (by id)."""

    kind: str
    id: int = 0  # the section's or topic's id; 0 for the site

    @property
    def key(self) -> str:
        return SITE if self.kind == SITE else f"{self.kind}:{self.id}"

    @staticmethod
    def parse(key: str) -> Scope:
        """The scope of a key; ValueError for anything that is not one."""
        if key == SITE:
            return Scope(SITE)
        kind, _, number = key.partition(":")
        if kind not in KINDS or kind == SITE or not number.isdigit():
            raise ValueError(f"not a feed scope: {key!r}")
        return Scope(kind, int(number))


def scope_rows(session: Session, scope: Scope, as_of: datetime, limit: int) -> list[FeedRow]:
    """The scope's newest `limit` articles published by as_of, newest first (ties by id).

    Site and section read the articles' own indexes (reading.feed_rows); a tag or author
    reads one range of ix_article_topics_feed, then each article by its primary key.
    """
    if scope.kind == SITE:
        return feed_rows(session, as_of, limit)
    if scope.kind == SECTION:
        return feed_rows(session, as_of, limit, scope.id)
    result = session.connection().execute(
        _TOPIC_ROWS, {"topic_id": scope.id, "as_of": as_of, "limit": limit}
    )
    # Published articles due by as_of (the copies in the links say so): publish_at is set.
    return [FeedRow(*row) for row in result]  # type: ignore[arg-type]  # FEED_COLUMNS order
