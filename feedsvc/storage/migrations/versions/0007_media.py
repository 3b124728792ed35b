"""lead images and attachments, and the queue of attachments to probe

- articles.image_url, image_alt, attachment_url, attachment_type: "" when there is none;
  articles.attachment_length: NULL while not known yet (the scheduler finds it).
- media_probes: articles whose attachment type or length the scheduler's HEAD request has
  still to find (feedsvc/storage/media.py).

Plain ADD COLUMN on every engine: on SQLite a batch copy of `articles` would reset its
AUTOINCREMENT counter (see 0005).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = (
    ("image_url", 2000),
    ("image_alt", 500),
    ("attachment_url", 2000),
    ("attachment_type", 255),
)


def upgrade() -> None:
    for name, length in _TEXT_COLUMNS:
        op.add_column(
            "articles",
            sa.Column(name, sa.String(length), nullable=False, server_default=sa.text("''")),
        )
    op.add_column("articles", sa.Column("attachment_length", sa.BigInteger(), nullable=True))
    op.create_table(
        "media_probes",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_media_probes_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_media_probes"),
    )
    op.create_index("ix_media_probes_due_at", "media_probes", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_media_probes_due_at", table_name="media_probes")
    op.drop_table("media_probes")
    op.drop_column("articles", "attachment_length")
    for name, _length in reversed(_TEXT_COLUMNS):
        op.drop_column("articles", name)
