"""Entry indexes kept with the stored documents

feed_documents gains entry_index: for each entry of the document, a digest of what it renders
and where its bytes are (feedsvc/feeds/reuse.py). A later render of the same feed, in any
process, takes the entries that did not change from the stored bytes instead of rendering
them again. NULL on upgrade: each document gets one the next time it is rendered.

Plain ADD COLUMN on every engine (see 0005: no batch copies).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feed_documents", sa.Column("entry_index", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("feed_documents", "entry_index")
