"""Engines and sessions: one engine per app, one session per request or job, SQLite tuned."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# How long a SQLite writer waits for the lock before "database is locked" (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 16_384
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Database:
    """An engine with two session factories: plain (reads) and write (SQLite: BEGIN IMMEDIATE)."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    """Create the engine for url, with SQLite set up for several processes at once."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred
        # and, for writers, upgrades the lock mid-transaction: the classic SQLITE_BUSY).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Only a new, empty database takes this (an existing one keeps its page size until a
        # VACUUM). Stored feeds are 60-250 KB blobs: with the default 4 KB pages every rewrite
        # walks a chain of up to 60 overflow pages; 16 KB pages quarter that (a tick that
        # rewrites a section and the site feeds: 49.8 → 38.4 ms, mean of three probe pairs).
        cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        # WAL: readers never block the writer and the writer never blocks readers.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock at BEGIN, so it waits (busy_timeout)
        # instead of failing when it later tries to upgrade a shared lock.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_database(url: str) -> Database:
    engine = make_engine(url)
    write_engine = engine.execution_options(sqlite_immediate=True)
    return Database(
        engine=engine,
        reader=sessionmaker(bind=engine, expire_on_commit=False),
        writer=sessionmaker(bind=write_engine, expire_on_commit=False),
    )


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def defer_checkpoints(app: Flask) -> bool:
    """SQLite: this process's commits stop checkpointing the WAL; call checkpoint() instead.

    By default the commit that takes the WAL past 1,000 pages copies it into the database
    file and syncs it, inside whatever transaction happened to be last: for the scheduler,
    one tick in three paid for it. SQLite's "Application-Initiated Checkpoints" (wal.html
    §6.2) moves that work to a background job. Other processes (web workers) keep the
    default. Returns False, doing nothing, on other engines.
    """
    engine = database(app).engine
    if engine.dialect.name != "sqlite":
        return False
    if not event.contains(engine, "connect", _no_autocheckpoint):
        event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()  # pooled connections come back with the pragma set
    return True


def checkpoint(app: Flask) -> tuple[int, int, int]:
    """A PASSIVE WAL checkpoint (never waits for readers or writers): (busy, frames, copied)."""
    raw = database(app).engine.raw_connection()
    try:
        # The raw connection is in autocommit mode (isolation_level None): a checkpoint
        # cannot run inside a transaction, and SQLAlchemy's "begin" hook would open one.
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = cur.fetchone()
        cur.close()
        assert row is not None  # the pragma always answers one row
        busy, frames, copied = row
        return int(busy), int(frames), int(copied)
    finally:
        raw.close()


def init_app(app: Flask) -> None:
    app.extensions["feedsvc.db"] = make_database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def database(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["feedsvc.db"]
    return db


def get_session() -> Session:
    """The request's session, made on first use and closed (rolled back if open) at teardown."""
    if "db_session" not in g:
        db = database()
        writes = has_request_context() and request.method not in _SAFE_METHODS
        g.db_session = (db.writer if writes else db.reader)()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def transaction(app: Flask, *, write: bool = True) -> Iterator[Session]:
    """A session for a job or command: commit on success, roll back on error, always close."""
    db = database(app)
    with (db.writer if write else db.reader)() as session, session.begin():
        yield session
