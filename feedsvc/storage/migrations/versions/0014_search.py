"""Article search: full-text index, and the admin list's order index

- SQLite: articles_fts, an FTS5 table with external content (the words of title and Markdown
  body, no second copy of the text), kept in step by three triggers, filled from the rows
  already there ('rebuild').
- PostgreSQL: ix_articles_search, a GIN index over to_tsvector('simple', title || body);
  creating it reads the rows already there.
- Both: ix_articles_listed (coalesce(publish_at, created_at), id) and ix_articles_section_listed
  (section_id, the same): the admin list's newest-first order, read a page at a time.

The statements live in feedsvc/storage/searchindex.py (bench/datasets.py rebuilds the index
after its bulk load with them). A later migration that copies `articles` (SQLite batch mode)
drops the triggers with the old table: it must call searchindex.create again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from feedsvc.storage import searchindex

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    searchindex.create(op.get_bind())


def downgrade() -> None:
    searchindex.drop(op.get_bind())
