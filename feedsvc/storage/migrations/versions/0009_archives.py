"""RFC 5005 archive pages

- archive_pages: each closed page's bound, the (publish_at, id) key of its newest item.
- archive_scopes: per archived feed, the number of closed pages and whether more wait.
- archive_touches: placements a save changed, drained by the next publishing pass.
- feed_documents.max_age: a document's own Cache-Control max-age (closed archive pages);
  NULL keeps the default of one tick.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_pages",
        sa.Column("feed_key", sa.String(64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("bound_publish_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_id", sa.Integer(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("feed_key", "page", name=op.f("pk_archive_pages")),
    )
    op.create_index("ix_archive_pages_dirty", "archive_pages", ["dirty", "feed_key"])
    op.create_table(
        "archive_scopes",
        sa.Column("feed_key", sa.String(64), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("open_page", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("backlog", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("fingerprint", sa.String(64), nullable=False, server_default=sa.text("''")),
        sa.PrimaryKeyConstraint("feed_key", name=op.f("pk_archive_scopes")),
    )
    op.create_table(
        "archive_touches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed_key", sa.String(64), nullable=False),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_touches")),
    )
    op.create_index("ix_archive_touches_feed_key", "archive_touches", ["feed_key"])
    op.add_column("feed_documents", sa.Column("max_age", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("feed_documents", "max_age")
    op.drop_index("ix_archive_touches_feed_key", table_name="archive_touches")
    op.drop_table("archive_touches")
    op.drop_table("archive_scopes")
    op.drop_index("ix_archive_pages_dirty", table_name="archive_pages")
    op.drop_table("archive_pages")
