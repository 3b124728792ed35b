"""Reading articles: the public pages and the rows every feed is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.limits import STATUS_PUBLISHED, TAG_SEPARATOR
from feedsvc.storage.models import Article, UTCDateTime

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def _newest_published(
    query: SelectT, as_of: datetime, limit: int, section_id: int | None = None
) -> SelectT:
    """Narrow query to published articles due by as_of, one section's or all, newest first.

    Ties go by id, for determinism; the order is that of ix_articles_section_feed and
    ix_articles_status, so the database reads it from the index (tests/test_query_plans.py).
    """
    query = query.where(Article.status == STATUS_PUBLISHED, Article.publish_at <= as_of)
    if section_id is not None:
        query = query.where(Article.section_id == section_id)
    return query.order_by(Article.publish_at.desc(), Article.id.desc()).limit(limit)


def published_in_section(
    session: Session, section_id: int, as_of: datetime, limit: int
) -> list[Article]:
    """The section's page: its newest published articles."""
    return list(session.scalars(_newest_published(select(Article), as_of, limit, section_id)))


def published_everywhere(session: Session, as_of: datetime, limit: int) -> list[Article]:
    """The home page: every section's newest published articles, with their sections."""
    query = select(Article).options(joinedload(Article.section))
    return list(session.scalars(_newest_published(query, as_of, limit)))


# What a feed entry needs, as plain columns: a 50-item feed loads in a fraction of the time
# 50 ORM objects take, and the scheduler's tick pays that for every changed feed.
FEED_COLUMNS = (
    Article.id,
    Article.guid,
    Article.title,
    Article.body_html,
    Article.summary,
    Article.publish_at,
    # The date feeds show (corrections move it, silent fixes keep it); updated_at for a row
    # no save has touched since migration 0010 filled the column.
    func.coalesce(Article.revised_at, Article.updated_at, type_=UTCDateTime),
    Article.author,
    Article.section_id,
    Article.image_url,
    Article.image_alt,
    Article.attachment_url,
    Article.attachment_type,
    Article.attachment_length,
    Article.tag_names,
    Article.original_url,
)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A published article as a feed entry needs it; the fields in FEED_COLUMNS' order."""

    id: int
    guid: str
    title: str
    body_html: str
    summary: str
    publish_at: datetime  # never None: only published articles due by as_of are read
    revised_at: datetime
    author: str
    section_id: int
    image_url: str = ""
    image_alt: str = ""
    attachment_url: str = ""
    attachment_type: str = ""  # "" while not known yet
    attachment_length: int | None = None  # None while not known yet
    tag_names: str = ""  # TAG_SEPARATOR between them (Article.tag_names)
    original_url: str = ""  # an imported article's own permalink ("" for ours)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.tag_names.split(TAG_SEPARATOR)) if self.tag_names else ()


def feed_rows(
    session: Session, as_of: datetime, limit: int, section_id: int | None = None
) -> list[FeedRow]:
    """A feed's articles as plain values: one section's, or the whole site's."""
    # On the Core connection: the ORM's row machinery would add a third to every tick's reads.
    # A slotted dataclass per row costs about what reading a Row's attributes by name does,
    # and the renderer's snapshot then reads plain attributes (the strings are not copied).
    query = _newest_published(select(*FEED_COLUMNS), as_of, limit, section_id)
    result = session.connection().execute(query)
    rows = []
    for row in result:
        assert row.publish_at is not None  # the query reads published articles due by as_of
        values: tuple[Any, ...] = tuple(row)  # FEED_COLUMNS' order is FeedRow's
        rows.append(FeedRow(*values))
    return rows


def is_public(article: Article, now: datetime) -> bool:
    return (
        article.status == STATUS_PUBLISHED
        and article.publish_at is not None
        and article.publish_at <= now
    )
