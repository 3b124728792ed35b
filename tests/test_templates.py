"""The suite's template copies (tests/support/templates.py) are the databases migrations make."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, text

from feedsvc.storage import migrate
from feedsvc.storage.db import database
from tests.support.app import make_app
from tests.support.pgschema import fresh_schema


def _catalog(conn: Connection) -> dict[str, Any]:
    """Every object of the schema as the engine describes it, and the rows the migrations put."""
    if conn.dialect.name == "sqlite":
        objects = conn.execute(
            text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        ).all()
        pragmas = [
            conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("page_size", "journal_mode")
        ]
        tables = [row[1] for row in objects if row[0] == "table"]
        schema = "main"
    else:
        objects = conn.execute(
            text(
                "SELECT c.relname, c.relkind, pg_get_indexdef(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() ORDER BY c.relname"
            )
        ).all()
        objects += conn.execute(
            text(
                "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                "ORDER BY conname"
            )
        ).all()
        objects += conn.execute(
            text(
                "SELECT table_name, column_name, data_type, column_default, is_nullable, "
                "is_generated, generation_expression FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, column_name"
            )
        ).all()
        objects += conn.execute(
            text(
                "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
                "ORDER BY tgname"
            )
        ).all()
        pragmas = []
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        tables = list(conn.execute(text(query)).scalars())
    rows = {
        table: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{table}"')).all()))
        for table in sorted(tables)
        if not table.startswith("sqlite_")
    }
    return {"objects": [_parts(r, schema) for r in objects], "pragmas": pragmas, "rows": rows}


def _parts(row: Any, schema: str) -> tuple[Any, ...]:
    """A catalog row with its SQL text as the set of its parts: SQLite batch migrations write a
    table's constraints in any order (one run to the next), the same table all the same."""
    return tuple(
        sorted(v.replace(f"{schema}.", "").split(", ")) if isinstance(v, str) and "(" in v else v
        for v in row
    )


def test_a_copied_database_is_the_migrated_one(
    empty_app: Flask, database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(database(empty_app).engine)
    with database(empty_app).engine.connect() as conn:
        migrated = _catalog(conn)
    assert migrated["rows"]["alembic_version"] == [(migrate.head(),)]
    # make_app on a fresh database of the same engine: the copy of the template.
    with _another_database(database_url, tmp_path) as fresh_url:
        copied_app = make_app(fresh_url, tmp_path / "copy")
        try:
            with database(copied_app).engine.connect() as conn:
                copied = _catalog(conn)
        finally:
            database(copied_app).dispose()
    assert copied == migrated


@contextmanager
def _another_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database on database_url's engine: a new file, or a new schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'copy.sqlite3'}"
        return
    with fresh_schema(database_url) as url:
        yield url
