"""The RFC 5005 archive's bookkeeping: closed pages' bounds, each feed's state, pending touches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from feedsvc.storage.models import Base, UTCDateTime

# A feed scope's key: "site", "section:<id>", "tag:<id>", "author:<id>".
KEY_MAX = 64


class ArchivePage(Base):
    """A closed archive page: it holds the scope's published items with a (publish_at, id)
    key above the previous page's bound and at most its own. Bounds never move, so deleting
    an article leaves every other page as it was."""

    __tablename__ = "archive_pages"
    # Each pass asks which feeds have a page to render again: an index range, not a scan.
    __table_args__ = (Index("ix_archive_pages_dirty", "dirty", "feed_key"),)

    feed_key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 is the oldest
    bound_publish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_id: Mapped[int] = mapped_column(Integer)
    # Its documents must be rendered (again): new, or an article in it was edited or deleted.
    dirty: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())


class ArchiveScope(Base):
    """One archived feed's state: how many pages are closed, whether the open one is out."""

    __tablename__ = "archive_scopes"
    # Each pass asks which feeds' open pages wait to be rendered: an index range, not a scan.
    __table_args__ = (Index("ix_archive_scopes_open_dirty", "open_dirty"),)

    feed_key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    closed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The open page (number closed + 1) is published: once out, it stays (possibly empty),
    # so the newest closed page's next-archive link never points at nothing.
    open_page: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # More pages are ready to close than one pass closes: the next pass carries on.
    backlog: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What every page's head was rendered from (the feed's title, path, the site's address):
    # when it differs (a section renamed, its slug changed) every page is rendered again.
    fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))
    # The open page holds the items above the floor up to this key, a multiple of
    # ARCHIVE_OPEN_STEP of them (NULL: none); the subscription document holds those above it.
    open_bound_publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    open_bound_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The open page's documents must be rendered (again); cleared in the transaction that
    # stores them, so a failed store leaves it set for the next pass.
    open_dirty: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class ArchiveTouch(Base):
    """An article placement a save changed, for the next pass to mark its page dirty."""

    __tablename__ = "archive_touches"
    __table_args__ = (Index("ix_archive_touches_feed_key", "feed_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed_key: Mapped[str] = mapped_column(String(KEY_MAX))
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    article_id: Mapped[int] = mapped_column(Integer)
