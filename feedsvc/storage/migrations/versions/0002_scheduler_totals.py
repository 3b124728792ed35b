"""scheduler totals for /metrics; the documents generation counter

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
    site_state = op.create_table(
        "site_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("documents_generation", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_state")),
    )
    op.bulk_insert(site_state, [{"id": 1, "documents_generation": 0}])


def downgrade() -> None:
    op.drop_table("site_state")
    with op.batch_alter_table("scheduler_lease") as batch:
        for name, _type in COLUMNS:
            batch.drop_column(name)
