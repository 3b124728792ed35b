"""scheduler totals for /metrics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("passes_total", sa.Integer()),
    ("sections_rendered_total", sa.Integer()),
    ("documents_changed_total", sa.Integer()),
    ("pass_seconds_total", sa.Float()),
    ("last_pass_seconds", sa.Float()),
]


def upgrade() -> None:
    with op.batch_alter_table("scheduler_lease") as batch:
        for name, type_ in COLUMNS:
            # server_default fills rows that already exist (a running site's lease row).
            batch.add_column(sa.Column(name, type_, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("scheduler_lease") as batch:
        for name, _type in COLUMNS:
            batch.drop_column(name)
