"""feed documents stored gzip-compressed only, with the identity length beside them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from isal import igzip, isal_zlib

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENTS = sa.table(
    "feed_documents",
    sa.column("path", sa.String()),
    sa.column("body", sa.LargeBinary()),
    sa.column("body_gzip", sa.LargeBinary()),
    sa.column("body_length", sa.Integer()),
)


def _gunzip(data: bytes) -> bytes | None:
    try:
        return isal_zlib.decompress(data, wbits=31)  # one gzip member (RFC 1952)
    except Exception:  # ISA-L's IsalError, which its type stubs do not declare as a class
        return None


def upgrade() -> None:
    with op.batch_alter_table("feed_documents") as batch:
        batch.add_column(sa.Column("body_length", sa.Integer(), nullable=False, server_default="0"))
    conn = op.get_bind()
    paths = [row[0] for row in conn.execute(sa.select(DOCUMENTS.c.path))]
    for path in paths:  # one at a time: thousands of feed bodies need not sit in memory
        body, packed = conn.execute(
            sa.select(DOCUMENTS.c.body, DOCUMENTS.c.body_gzip).where(DOCUMENTS.c.path == path)
        ).one()
        body = bytes(body)
        values: dict[str, object] = {"body_length": len(body)}
        # The gzip variant becomes the only copy: keep its bytes (and so its ETag) when it
        # holds exactly the body, or make it again from the body when it does not.
        if _gunzip(bytes(packed)) != body:
            values["body_gzip"] = igzip.compress(body, compresslevel=2, mtime=0)
        conn.execute(sa.update(DOCUMENTS).where(DOCUMENTS.c.path == path).values(**values))
    with op.batch_alter_table("feed_documents") as batch:
        batch.drop_column("body")


def downgrade() -> None:
    with op.batch_alter_table("feed_documents") as batch:
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    paths = [row[0] for row in conn.execute(sa.select(DOCUMENTS.c.path))]
    for path in paths:
        packed = conn.execute(
            sa.select(DOCUMENTS.c.body_gzip).where(DOCUMENTS.c.path == path)
        ).scalar_one()
        body = isal_zlib.decompress(bytes(packed), wbits=31)
        conn.execute(sa.update(DOCUMENTS).where(DOCUMENTS.c.path == path).values(body=body))
    with op.batch_alter_table("feed_documents") as batch:
        batch.alter_column("body", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("body_length")
