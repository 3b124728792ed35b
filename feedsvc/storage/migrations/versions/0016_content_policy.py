"""The content policy stored bodies were rendered with

site_state gains content_policy: the fingerprint of the sanitising and Markdown policy
(feedsvc/content/policy.py) the last full re-render of every stored article used. Empty on
upgrade, so the first full rebuild after it renders every article again, as before; later
ones do only when the policy changed.

Plain ADD COLUMN on every engine (see 0005: no batch copies).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "site_state",
        sa.Column("content_policy", sa.String(64), nullable=False, server_default=sa.text("''")),
    )


def downgrade() -> None:
    op.drop_column("site_state", "content_policy")
