"""WebSub publish pings: totals and the last error, for /metrics on any host

scheduler_lease gains the leader's WebSub notification outcomes (accepted, failed attempts,
given up, dropped, waiting) and the last failure, because the scheduler may run on another
host than the web workers that answer /metrics (like the export's columns in 0006).

Plain ADD COLUMN on every engine (see 0005: no batch copies).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COUNTERS = (
    "websub_sent_total",
    "websub_failures_total",
    "websub_given_up_total",
    "websub_dropped_total",
    "websub_queued",
)


def upgrade() -> None:
    for name in _COUNTERS:
        op.add_column(
            "scheduler_lease",
            sa.Column(name, sa.Integer(), nullable=False, server_default="0"),
        )
    op.add_column(
        "scheduler_lease",
        sa.Column("last_websub_error", sa.Text(), nullable=False, server_default=sa.text("''")),
    )


def downgrade() -> None:
    op.drop_column("scheduler_lease", "last_websub_error")
    for name in reversed(_COUNTERS):
        op.drop_column("scheduler_lease", name)
