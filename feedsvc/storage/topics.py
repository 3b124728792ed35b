"""The schema of tags and authors: one row per topic, and which articles each one holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from feedsvc.limits import AUTHOR_MAX, SLUG_MAX, STATUS_PUBLISHED, TAG_MAX
from feedsvc.storage.models import Base, UTCDateTime, utcnow

# A topic's kind: the article's tags, and its author (the free-text Author field).
TAG = "tag"
AUTHOR = "author"
KINDS = (TAG, AUTHOR)
NAME_MAX = max(TAG_MAX, AUTHOR_MAX)


class Topic(Base):
    """A tag or an author: its own feeds and page, kept even once it holds no article.

    Two spellings with the same slug are one topic; the first one stored is its name. The
    revision counters work as Section's: bumped with every save of one of its articles, the
    scheduler renders while revision != rendered_revision.
    """

    __tablename__ = "topics"
    __table_args__ = (
        UniqueConstraint("kind", "slug"),
        # A topic's id is in its feeds' scope key ("tag:<id>"): never reuse a deleted one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    rendered_revision: Mapped[int] = mapped_column(Integer, default=0)
    rendered_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleTopic(Base):
    """An article in a topic, with the article's status and publish time copied in.

    The copies (kept in step by every save, feedsvc/topics.py) let a topic's feed read its
    newest published articles as one range of ix_article_topics_feed, never a sort of all
    of them: the same shape as the section feed's ix_articles_section_feed.
    """

    __tablename__ = "article_topics"
    __table_args__ = (
        Index("ix_article_topics_feed", "topic_id", "status", "publish_at", "article_id"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)  # the editor's order of the tags
    status: Mapped[str] = mapped_column(String(16), default=STATUS_PUBLISHED)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
