"""The open archive page in steps: its bound and whether it waits to be rendered

archive_scopes gains open_bound_publish_at / open_bound_id (the newest item the open RFC 5005
page holds; NULL: none) and open_dirty (its documents wait to be rendered). Existing rows start
dirty, so each feed's first pass after the upgrade renders its open page and its subscription
documents together with the new split.

Plain ADD COLUMN on every engine (see 0005: no batch copies).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "archive_scopes",
        sa.Column("open_bound_publish_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("archive_scopes", sa.Column("open_bound_id", sa.Integer(), nullable=True))
    op.add_column(
        "archive_scopes",
        sa.Column("open_dirty", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_archive_scopes_open_dirty", "archive_scopes", ["open_dirty"])


def downgrade() -> None:
    op.drop_index("ix_archive_scopes_open_dirty", table_name="archive_scopes")
    for column in ("open_dirty", "open_bound_id", "open_bound_publish_at"):
        op.drop_column("archive_scopes", column)
