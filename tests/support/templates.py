"""Migrated databases made once per test process and copied: the suite's schemas, quickly.

Running the sixteen migrations costs 0.2-0.5 s a database; most tests only need the result.
The first make_app of a process migrates a template (a SQLite file; on PostgreSQL the
migration's statements, recorded as it runs) and every later fresh database gets a copy: the
file copied, or the statements run again in the new schema. Tests of the migrations themselves
use empty_app and migrate.upgrade, which never come here.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from feedsvc.storage import migrate
from feedsvc.storage.db import make_engine

_sqlite_template: Path | None = None
# PostgreSQL: (statement, parameters) as the migration ran them, in order.
_pg_statements: list[tuple[str, Any]] | None = None


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.query:
        return None
    if url.database == ":memory:":
        return None
    return Path(url.database)


def _pg_schema(database_url: str) -> str | None:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    options = url.query.get("options", "")
    prefix = "-csearch_path="
    if not isinstance(options, str):
        return None
    schemas = [o.removeprefix(prefix) for o in options.split() if o.startswith(prefix)]
    return schemas[0] if len(schemas) == 1 and "," not in schemas[0] else None


def _migrate_sqlite_template() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="feedsvc-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "template.sqlite3"
        # feedsvc's own engine: the same page size and journal mode as a database it creates.
        engine = make_engine(f"sqlite:///{path}")
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()  # the last connection closed: the WAL is checkpointed and removed
        assert not path.with_name(path.name + "-wal").exists()
        _sqlite_template = path
    return _sqlite_template


def _record_pg_migration(database_url: str) -> list[tuple[str, Any]]:
    """Migrate a schema of our own, recording each statement; then drop it."""
    global _pg_statements
    if _pg_statements is None:
        schema = f"tmpl_{uuid.uuid4().hex[:16]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        recorded: list[tuple[str, Any]] = []
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
            engine = make_engine(url.render_as_string(hide_password=False))

            @event.listens_for(engine, "before_cursor_execute")
            def record(
                _c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool
            ) -> None:
                assert not many, "the migrations run no executemany"
                recorded.append((statement, params))

            try:
                migrate.upgrade(engine)
            finally:
                engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        _pg_statements = recorded
    return _pg_statements


def _schema_is_empty(engine: Engine, schema: str) -> bool:
    query = text(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema"
    )
    with engine.connect() as conn:
        return conn.execute(query, {"schema": schema}).scalar() == 0


def fill_if_fresh(database_url: str) -> bool:
    """Bring a database that does not exist yet (SQLite) or an empty schema (PostgreSQL) to
    the current schema from the template; False, doing nothing, for any other database."""
    path = _sqlite_path(database_url)
    if path is not None:
        if path.exists():
            return False
        shutil.copyfile(_migrate_sqlite_template(), path)
        return True
    schema = _pg_schema(database_url)
    if schema is None:
        return False
    engine = create_engine(database_url)
    try:
        if not _schema_is_empty(engine, schema):
            return False
        statements = _record_pg_migration(database_url)
        with engine.begin() as conn:
            for statement, params in statements:
                conn.exec_driver_sql(statement, params)
    finally:
        engine.dispose()
    return True
