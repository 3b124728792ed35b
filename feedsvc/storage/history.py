"""The schema of what feeds remember: tombstones (RFC 6721) and the slugs sections left behind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from feedsvc.limits import SLUG_MAX
from feedsvc.storage.models import Base, UTCDateTime

# "site", "section:<id>", "tag:<id>", "author:<id>": the feed a tombstone belongs to.
FEED_KEY_MAX = 80


class Tombstone(Base):
    """An entry a feed carried and no longer does: RFC 6721 at:deleted-entry, for a while.

    One row per feed and entry: deleting it again moves `deleted_at` on (RFC 6721 §3: one
    at:deleted-entry per ref and when), republishing it removes the row.
    """

    __tablename__ = "tombstones"

    feed_key: Mapped[str] = mapped_column(String(FEED_KEY_MAX), primary_key=True)
    # The entry's atom:id exactly as it was published (the article's guid).
    ref: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RetiredSlug(Base):
    """A slug a section no longer answers to: 301 to its section's current one, or 410.

    section_id NULL: the section was deleted (410 Gone). A section that takes the slug again
    (a new one, or the same one going back) removes the row: it takes over the URL.
    """

    __tablename__ = "retired_slugs"

    slug: Mapped[str] = mapped_column(String(SLUG_MAX), primary_key=True)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("sections.id", ondelete="SET NULL"), nullable=True, index=True
    )
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when a section is deleted: the scheduler's next pass removes its exported files
    # and renders the site's feeds and OPML without it, then clears this.
    files_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class GoneArticle(Base):
    """An article readers could see and no longer can (deleted, or back to a draft): its page
    answers 410 Gone rather than 404 (RFC 9110 §15.5.11). Republishing it removes the row."""

    __tablename__ = "gone_articles"

    # No foreign key: the article itself may be deleted; its id is never reused.
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gone_at: Mapped[datetime] = mapped_column(UTCDateTime)
