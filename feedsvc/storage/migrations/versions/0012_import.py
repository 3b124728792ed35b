"""Imported feeds: original ids, links and HTML bodies

An imported item keeps its own id as articles.guid (already the entry id of every format),
and gains two columns: original_url, its permalink on the site it came from (the feeds' link
for it), and body_format, "html" for a body imported as HTML, which every save and rebuild
sanitises as HTML and never reads as Markdown ("markdown" for every existing article).

Plain ADD COLUMN on every engine (see 0005: no batch copies).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "articles",
        sa.Column("original_url", sa.String(2000), nullable=False, server_default=sa.text("''")),
    )
    op.add_column(
        "articles",
        sa.Column("body_format", sa.String(16), nullable=False, server_default="markdown"),
    )


def downgrade() -> None:
    op.drop_column("articles", "body_format")
    op.drop_column("articles", "original_url")
