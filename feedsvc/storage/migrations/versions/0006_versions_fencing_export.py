"""article versions, the lease's fencing token, export health

- articles.version: bumped by every save; the edit form and the API (ETag / If-Match) refuse
  a save made against an older one, so two editors never silently overwrite each other.
- scheduler_lease.fencing_token: bumped whenever leadership changes hands;
  feed_documents.fencing_token: the token of the leader that wrote the row. The store refuses
  a write carrying an older token than the row's, so a leader that stalled past its lease
  and woke up cannot put documents back in time.
- scheduler_lease export columns: failures, the last export error and since when a change
  has waited for the export, for /healthz and /metrics (the scheduler may run on another host).

Plain ADD COLUMN on every engine: on SQLite a batch copy of `articles` would reset its
AUTOINCREMENT counter (see 0005).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column(
        "scheduler_lease",
        sa.Column("fencing_token", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "scheduler_lease",
        sa.Column("export_failures_total", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "scheduler_lease",
        sa.Column("last_export_error", sa.Text(), nullable=False, server_default=sa.text("''")),
    )
    op.add_column(
        "scheduler_lease",
        sa.Column("export_behind_since", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "feed_documents",
        sa.Column("fencing_token", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("feed_documents", "fencing_token")
    for name in ("export_behind_since", "last_export_error", "export_failures_total"):
        op.drop_column("scheduler_lease", name)
    op.drop_column("scheduler_lease", "fencing_token")
    op.drop_column("articles", "version")
