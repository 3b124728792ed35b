"""Subscriber analytics: readers per feed and day

reader_counts keeps what aggregators report (Feedly's "16 subscribers"), the day's highest per
feed-id; reader_clients one row per other client (a salted hash, never an address) per feed
and day; access_log_positions how far ingest-access-log read each nginx log. Three new tables,
the same on every engine.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feed_path", sa.String(255), nullable=False),
        sa.Column("reader", sa.String(60), nullable=False),
        sa.Column("feed_id", sa.String(100), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "feed_path", "reader", "feed_id", name="pk_reader_counts"),
    )
    op.create_table(
        "reader_clients",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feed_path", sa.String(255), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("reader", sa.String(60), nullable=False),
        sa.PrimaryKeyConstraint("day", "feed_path", "client", name="pk_reader_clients"),
    )
    op.create_table(
        "access_log_positions",
        sa.Column("log", sa.String(1000), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("log", name="pk_access_log_positions"),
    )


def downgrade() -> None:
    op.drop_table("access_log_positions")
    op.drop_table("reader_clients")
    op.drop_table("reader_counts")
