"""The schema: sections, articles, rendered feed documents, users and the scheduler lease."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from feedsvc.limits import (
    AUTHOR_MAX,
    BODY_MARKDOWN,
    IMAGE_ALT_MAX,
    ITEMS_PER_FEED_DEFAULT,
    MEDIA_TYPE_MAX,
    MEDIA_URL_MAX,
    ROLE_ADMIN,
    ROLE_EDITOR,
    SCOPE_WRITE,
    SECTION_NAME_MAX,
    SLUG_MAX,
    STATUS_PUBLISHED,
    TITLE_MAX,
    TOKEN_NAME_MAX,
    USERNAME_MAX,
)
from feedsvc.storage.codec import gunzip


def utcnow() -> datetime:
    """Now, aware and in UTC, to the second: what every stored timestamp looks like."""
    return datetime.now(UTC).replace(microsecond=0)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite stores them naive and would hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("A naive datetime reached the database; use an aware UTC one.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them on every engine.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    role: Mapped[str] = mapped_column(String(16), default=ROLE_EDITOR, server_default=ROLE_EDITOR)
    # Set while the account is disabled: no login, no session, no API token works.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Every session cookie carries the version it was issued under; bumping it (logout,
    # password change, disabling) ends every session of the user on every instance at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Section(Base):
    __tablename__ = "sections"
    # AUTOINCREMENT: SQLite would otherwise hand a deleted row's id to the next insert.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Permanent feed id (a UUID URN, RFC 4122 §3) for atom:id: survives renames and slug changes.
    guid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(SECTION_NAME_MAX))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    items_per_feed: Mapped[int] = mapped_column(Integer, default=ITEMS_PER_FEED_DEFAULT)
    # Bumped in the same transaction as every change that can alter the section's feeds;
    # the scheduler renders while revision != rendered_revision (a counter, not a flag:
    # an edit during a render bumps it again and the next tick renders again).
    revision: Mapped[int] = mapped_column(Integer, default=1)
    rendered_revision: Mapped[int] = mapped_column(Integer, default=0)
    # The instant the last render looked at: articles scheduled after it are not in the feed.
    rendered_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="section")


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The feed query: a section's published articles, newest first. The trailing id is
        # the ORDER BY's tie-break, so the index alone yields rows in order (no sort step).
        Index("ix_articles_section_feed", "section_id", "status", "publish_at", "id"),
        # The site-wide feed and the "scheduled article came due" check.
        Index("ix_articles_status_publish_at", "status", "publish_at", "id"),
        # An article's id is in its permanent URL: never reuse a deleted one (SQLite would).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Permanent id (a UUID URN, RFC 4122 §3) fixed at creation: RSS guid, Atom id, JSON id.
    guid: Mapped[str] = mapped_column(String(255), unique=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    summary_source: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(AUTHOR_MAX), default="")
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PUBLISHED)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who wrote and who last changed the article (NULL: before accounts were recorded, or the
    # account was deleted since).
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    # Bumped by every save: a save made against an older version is refused (lost updates;
    # the API's ETag / If-Match, RFC 9110 §13.1.1, and the edit form's hidden field).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The date feeds show as the entry's updated (RFC 4287 §4.2.15): moved by a correction
    # readers should see again, kept by a silent fix (updated_at is every save's time).
    # NULL only for rows no save has touched since migration 0010 filled it.
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The lead image and the attachment (feedsvc/media.py); "" when there is none. The
    # attachment's type "" and length NULL mean "not known yet": the scheduler finds them
    # (publishing/probes.py), and the feeds say application/octet-stream and 0 meanwhile.
    image_url: Mapped[str] = mapped_column(
        String(MEDIA_URL_MAX), default="", server_default=text("''")
    )
    image_alt: Mapped[str] = mapped_column(
        String(IMAGE_ALT_MAX), default="", server_default=text("''")
    )
    attachment_url: Mapped[str] = mapped_column(
        String(MEDIA_URL_MAX), default="", server_default=text("''")
    )
    attachment_type: Mapped[str] = mapped_column(
        String(MEDIA_TYPE_MAX), default="", server_default=text("''")
    )
    attachment_length: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The article's tags by their topics' names, in the editor's order, TAG_SEPARATOR between
    # them: a copy of its tag links (storage/topics.py), kept by every save, so a feed reads
    # its items' categories with its rows instead of a query per feed.
    tag_names: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # Imported articles (feedsvc/importing/): the item's own permalink, the feeds' link for it
    # ("" for articles written here), and the body's source format, "html" for an imported
    # body, sanitised as HTML by every save and rebuild, never read as Markdown.
    original_url: Mapped[str] = mapped_column(
        String(MEDIA_URL_MAX), default="", server_default=text("''")
    )
    body_format: Mapped[str] = mapped_column(
        String(16), default=BODY_MARKDOWN, server_default=BODY_MARKDOWN
    )

    section: Mapped[Section] = relationship(back_populates="articles")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])


class FeedDocument(Base):
    """A rendered feed, stored as the bytes readers get; the web path only ever reads these."""

    __tablename__ = "feed_documents"

    path: Mapped[str] = mapped_column(String(255), primary_key=True)  # URL path, no leading "/"
    content_type: Mapped[str] = mapped_column(String(80))
    # Only the gzip variant is stored (RFC 1952): a quarter of the bytes to write every tick
    # and to keep; the identity bytes come back with one decompression when a worker loads
    # the document (web/documents.py) or the export writes it.
    body_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    # The identity bytes' length, for the export's drift check without decompressing.
    body_length: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    etag: Mapped[str] = mapped_column(String(80))  # content hash, without quotes
    # When the bytes last changed (not when last rendered): Last-Modified must only move
    # forward with the content, or If-Modified-Since clients would miss changes.
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("sections.id", ondelete="CASCADE"), nullable=True, index=True
    )
    source_revision: Mapped[int] = mapped_column(Integer, default=0)
    # The fencing token of the leader that wrote the row: a write with an older token is
    # refused, so a stalled leader that wakes up cannot put the document back in time.
    fencing_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Cache-Control max-age in seconds for this document alone (a closed RFC 5005 archive
    # page never changes); NULL: the default of one scheduler tick.
    max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The entry index (feedsvc.feeds.reuse): which bytes render which item, so the next render
    # of this feed, in any process, takes unchanged entries from here. NULL: none kept.
    # Deferred: nothing but that render ever reads it.
    entry_index: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)

    @property
    def body(self) -> bytes:
        """The document as readers get it without Content-Encoding."""
        return gunzip(self.body_gzip)


class SiteState(Base):
    """One row: a counter bumped whenever any stored document changes or goes away.

    Web workers read this single value to know whether their cached documents are current,
    instead of asking about every path.
    """

    __tablename__ = "site_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    documents_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The content policy the stored bodies were last all rendered with (content/policy.py):
    # a full rebuild renders every article again only when it differs.
    content_policy: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))


# The lease row of the publishing scheduler: the scheduler takes it, /healthz and /metrics
# read it (web/ may import this module, never publishing/).
RENDER_LEASE = "render"


class SchedulerLease(Base):
    """One row per job family: who leads, until when, and how the last run went."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_full_rebuild_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Running totals for /metrics, kept here because the scheduler may run on another host.
    passes_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sections_rendered_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    documents_changed_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pass_seconds_total: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    last_pass_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Bumped whenever leadership changes hands; every document write carries it (fencing).
    fencing_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The static export's health, for /healthz and /metrics on any host.
    export_failures_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_export_error: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # When the oldest change still waiting for the export was made (NULL: nothing waits).
    export_behind_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # WebSub publish notifications (publishing/websub.py), for /metrics on any host: accepted,
    # failed attempts, abandoned after the last retry, dropped (queue full); queued: waiting at
    # the leader's last report.
    websub_sent_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    websub_failures_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    websub_given_up_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    websub_dropped_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    websub_queued: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_websub_error: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))


class ApiToken(Base):
    """A bearer token for the JSON API. Only the SHA-256 of the token is stored.

    `prefix` is the first 8 characters of the token's random part (after "fsv_"): enough to
    tell tokens apart in a listing and to find the row, never enough to use it.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    prefix: Mapped[str] = mapped_column(String(8), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scope: Mapped[str] = mapped_column(String(16), default=SCOPE_WRITE, server_default=SCOPE_WRITE)
    # NULL: never expires. After it the token answers 401 like a revoked one.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class ReaderCount(Base):
    """Subscribers an aggregator reported for one feed on one day: the day's highest count.

    One row per feed-id: an aggregator may poll one feed under several ids (http and https,
    with and without a trailing slash), each id its own subscribers, so a day's total is the
    sum over ids of each id's highest count (analytics.py).
    """

    __tablename__ = "reader_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # in the TIMEZONE setting
    feed_path: Mapped[str] = mapped_column(String(255), primary_key=True)  # a FeedDocument path
    reader: Mapped[str] = mapped_column(String(60), primary_key=True)
    feed_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # "" when none given
    subscribers: Mapped[int] = mapped_column(Integer)


class ReaderClient(Base):
    """One client (a salted hash of address and User-Agent, never the address) that polled a
    feed on a day: readers that report no count are counted one per such row."""

    __tablename__ = "reader_clients"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    feed_path: Mapped[str] = mapped_column(String(255), primary_key=True)
    client: Mapped[str] = mapped_column(String(32), primary_key=True)  # hex, analytics.py
    reader: Mapped[str] = mapped_column(String(60))


class AccessLogPosition(Base):
    """How far ingest-access-log read a log file: its inode and the byte offset after the last
    whole line counted, so a second run starts there and a rotated file starts over."""

    __tablename__ = "access_log_positions"

    log: Mapped[str] = mapped_column(String(1000), primary_key=True)  # host:absolute path
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
