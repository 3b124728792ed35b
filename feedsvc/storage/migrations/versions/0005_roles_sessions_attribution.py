"""roles, account state, session versions, article attribution, token scope and expiry

Accounts made before roles existed were full admins, so they stay admins; tokens made before
scopes existed could write, so they keep write scope.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
_AUTOINCREMENT = {"sqlite_autoincrement": True}


@contextmanager
def _articles_counter_kept() -> Iterator[None]:
    """SQLite: the copy of `articles` (batch mode) starts its AUTOINCREMENT counter at the
    largest id copied; put back the old one, which also counts articles deleted since."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    query = sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'articles'")
    before = bind.execute(query).scalar()
    yield
    if before is None:
        return
    after = bind.execute(query).scalar()
    if after is None:
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('articles', :seq)"),
            {"seq": before},
        )
    elif after < before:
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = 'articles'"),
            {"seq": before},
        )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), server_default="editor", nullable=False)
        )
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE users SET role = 'admin'")
    # SQLite adds a foreign key by copying the table; the copy must keep AUTOINCREMENT, or a
    # deleted article's id (and so its permanent URL) would be handed to the next one.
    with (
        _articles_counter_kept(),
        op.batch_alter_table("articles", table_kwargs=_AUTOINCREMENT) as batch,
    ):
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_articles_created_by_id_users"),
            "users",
            ["created_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            batch.f("fk_articles_updated_by_id_users"),
            "users",
            ["updated_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=16), server_default="write", nullable=False)
        )
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
    with (
        _articles_counter_kept(),
        op.batch_alter_table("articles", table_kwargs=_AUTOINCREMENT) as batch,
    ):
        batch.drop_constraint(batch.f("fk_articles_updated_by_id_users"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_articles_created_by_id_users"), type_="foreignkey")
        batch.drop_column("updated_by_id")
        batch.drop_column("created_by_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed_at")
        batch.drop_column("session_version")
        batch.drop_column("disabled_at")
        batch.drop_column("role")
