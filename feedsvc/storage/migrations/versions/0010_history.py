"""tombstones (RFC 6721), honest updates, slug redirects and deleted sections

- articles.revised_at: the date feeds show as the entry's updated; it moves only when an
  editor marks a change as a correction (updated_at stays the time of the last save). Filled
  from updated_at, what feeds showed until now.
- tombstones: entries feeds no longer carry, per feed, for TOMBSTONE_DAYS.
- retired_slugs: slugs sections left behind (301 to the current one) or that belonged to a
  deleted section (410 Gone).
- gone_articles: articles readers saw that are deleted or drafts again (their page: 410).

Plain ADD COLUMN and CREATE TABLE: on SQLite a batch copy of `articles` would reset its
AUTOINCREMENT counter (see 0005).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("revised_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE articles SET revised_at = updated_at")
    op.create_table(
        "tombstones",
        sa.Column("feed_key", sa.String(length=80), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feed_key", "ref", name=op.f("pk_tombstones")),
    )
    op.create_index(op.f("ix_tombstones_ref"), "tombstones", ["ref"])
    op.create_index(op.f("ix_tombstones_deleted_at"), "tombstones", ["deleted_at"])
    op.create_table(
        "retired_slugs",
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files_pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["sections.id"],
            name=op.f("fk_retired_slugs_section_id_sections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_retired_slugs")),
    )
    op.create_index(op.f("ix_retired_slugs_section_id"), "retired_slugs", ["section_id"])
    op.create_table(
        "gone_articles",
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_gone_articles")),
    )


def downgrade() -> None:
    op.drop_table("gone_articles")
    op.drop_index(op.f("ix_retired_slugs_section_id"), table_name="retired_slugs")
    op.drop_table("retired_slugs")
    op.drop_index(op.f("ix_tombstones_deleted_at"), table_name="tombstones")
    op.drop_index(op.f("ix_tombstones_ref"), table_name="tombstones")
    op.drop_table("tombstones")
    op.drop_column("articles", "revised_at")
