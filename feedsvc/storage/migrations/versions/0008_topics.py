"""tags and authors, each with its own feeds

- topics: one row per tag or author (kind, name, slug unique per kind), with the revision
  counters the scheduler renders by, like sections.
- article_topics: which articles each topic holds, with the article's status and publish
  time copied in, so a topic's feed is one index range (ix_article_topics_feed).
- articles.tag_names: the article's tag names, so feeds read categories with their rows.

Plain CREATE TABLE and ADD COLUMN: nothing of `articles` is copied (see 0005).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("tag_names", sa.Text(), nullable=False, server_default=sa.text("''"))
    )
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("rendered_revision", sa.Integer(), nullable=False),
        sa.Column("rendered_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("kind", "slug", name=op.f("uq_topics_kind_slug")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "article_topics",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_topics_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_article_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "topic_id", name=op.f("pk_article_topics")),
    )
    op.create_index(
        "ix_article_topics_feed",
        "article_topics",
        ["topic_id", "status", "publish_at", "article_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_article_topics_feed", table_name="article_topics")
    op.drop_table("article_topics")
    op.drop_table("topics")
    op.drop_column("articles", "tag_names")
