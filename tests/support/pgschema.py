"""A fresh PostgreSQL schema of its own for a test, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL on server_url whose connections see only a new, empty schema (search_path).

    Its connections commit with synchronous_commit off: a commit returns before the server's
    WAL flush. Only a crash of the server itself could lose such a commit, which no test
    causes, and every test's commits stop waiting for the disk (on a shared CI machine, most
    of a database test's time).
    """
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = make_url(server_url).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
