"""Engines and sessions: one engine per app, one session per request or job, SQLite tuned."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

# How long a SQLite writer waits for the lock before "database is locked" (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 16_384
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Execution option on the web side's work outside a Flask request (the fast path's document
# cache): its transactions get the web's statement timeout too.
WEB_WORK = "feedsvc_web"
# Execution option on writes of data that can be derived again from what is already durable
# (the rendered documents): their commit does not wait for the disk. See transaction().
DERIVED = "feedsvc_derived"


@dataclass(frozen=True)
class Timeouts:
    """Bounds on waiting for the database, in seconds (0: none); see DB_* in the README.

    connect: establishing a PostgreSQL connection (libpq connect_timeout, at least 2).
    statement: one statement of web work (PostgreSQL statement_timeout; on SQLite a web
    reader's busy timeout). The scheduler and commands have none: a full rebuild's
    statements are long by nature, and the lease, not a timeout, bounds a stuck leader.
    pool: waiting for a free pooled connection.
    """

    connect: float = 0
    statement: float = 0
    pool: float = 30  # SQLAlchemy's own default

    @classmethod
    def from_config(cls, config: Any) -> Timeouts:
        return cls(
            connect=float(config["DB_CONNECT_TIMEOUT"]),
            statement=float(config["DB_STATEMENT_TIMEOUT"]),
            pool=float(config["DB_POOL_TIMEOUT"]),
        )


@dataclass(frozen=True)
class Database:
    """An engine with its session factories: plain (reads), write (SQLite: BEGIN IMMEDIATE),
    and web_reader (reads of web work outside a request, under the web's statement timeout)."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    web_reader: sessionmaker[Session]
    derived_writer: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str, timeouts: Timeouts = Timeouts()) -> Engine:
    """Create the engine for url, with SQLite set up for several processes at once."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_timeout=timeouts.pool,
        )
        _tune_sqlite(engine, timeouts)
        return engine
    connect_args: dict[str, Any] = {}
    if timeouts.connect:
        connect_args["connect_timeout"] = max(2, math.ceil(timeouts.connect))
        # A host that vanishes (packets dropped, no RST) leaves a pooled connection's ping
        # unacknowledged: without this the wait is the kernel's retransmission limit (about
        # 15 minutes on Linux), which no statement timeout on the server can shorten. Data a
        # live server has not acknowledged after this long means it is gone (libpq
        # tcp_user_timeout, RFC 5482).
        connect_args["tcp_user_timeout"] = round(1000 * (timeouts.connect + timeouts.statement))
    engine = create_engine(
        url,
        # A connection that died while the database was away is replaced at checkout.
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeouts.pool,
        connect_args=connect_args,
    )
    if make_url(url).get_backend_name() == "postgresql":
        _postgresql_per_transaction(engine, round(timeouts.statement * 1000))
    return engine


def _is_web_work(conn: Any) -> bool:
    return bool(conn.get_execution_options().get(WEB_WORK)) or has_request_context()


def _postgresql_per_transaction(engine: Engine, ms: int) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Per transaction (SET LOCAL), for web work only: a request gives up on a statement
        # the server has not finished in time (SQLSTATE 57014, a 503 in web/outage.py), while
        # the scheduler's and the commands' transactions on the same pool keep no limit.
        if ms and _is_web_work(conn):
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        if conn.get_execution_options().get(DERIVED):
            # The commit returns before its WAL record is flushed: a crash may lose this
            # transaction, never corrupt anything (PostgreSQL docs, "Asynchronous Commit").
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _tune_sqlite(engine: Engine, timeouts: Timeouts) -> None:
    # A web reader waits at most this long for a lock. In WAL mode readers only wait in rare
    # cases (WAL recovery, an exclusive lock taken by a maintenance command); the writer's
    # 30 s wait for the write lock stays as it is.
    reader_busy_ms = round(timeouts.statement * 1000) or SQLITE_BUSY_TIMEOUT_MS

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
        # FULL: WAL synced at every commit, so an article the API acknowledged (201) survives
        # a power cut; NORMAL syncs only at checkpoints and can roll the last commits back
        # (sqlite.org/pragma.html#pragma_synchronous). Measured cost: 2-4 ms per edit
        # (README, Reliability).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock at BEGIN, so it waits (busy_timeout)
        # instead of failing when it later tries to upgrade a shared lock.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        busy = SQLITE_BUSY_TIMEOUT_MS if immediate or not _is_web_work(conn) else reader_busy_ms
        if conn.info.get("busy_ms", SQLITE_BUSY_TIMEOUT_MS) != busy:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={busy}")
            conn.info["busy_ms"] = busy
        # Derived data (DERIVED) commits without syncing the WAL: NORMAL keeps the database
        # consistent through a power cut and may only roll the last such commits back
        # (sqlite.org/pragma.html#pragma_synchronous), which the next pass renders again.
        # Editors' writes stay FULL. Per connection, and only outside a transaction: here.
        sync = "NORMAL" if conn.get_execution_options().get(DERIVED) else "FULL"
        if conn.info.get("synchronous", "FULL") != sync:
            conn.exec_driver_sql(f"PRAGMA synchronous={sync}")
            conn.info["synchronous"] = sync
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_database(url: str, timeouts: Timeouts = Timeouts()) -> Database:
    engine = make_engine(url, timeouts)
    write_engine = engine.execution_options(sqlite_immediate=True)
    web_engine = engine.execution_options(**{WEB_WORK: True})
    derived_engine = engine.execution_options(sqlite_immediate=True, **{DERIVED: True})
    return Database(
        engine=engine,
        reader=sessionmaker(bind=engine, expire_on_commit=False),
        writer=sessionmaker(bind=write_engine, expire_on_commit=False),
        web_reader=sessionmaker(bind=web_engine, expire_on_commit=False),
        derived_writer=sessionmaker(bind=derived_engine, expire_on_commit=False),
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
    app.extensions["feedsvc.db"] = make_database(
        app.config["DATABASE_URL"], Timeouts.from_config(app.config)
    )
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
        # The database went away mid-request: the answer (a 503) is already made, and the
        # pool has dropped the connection; a failed rollback must not replace it.
        with suppress(SQLAlchemyError):
            session.close()


@contextmanager
def transaction(app: Flask, *, write: bool = True, derived: bool = False) -> Iterator[Session]:
    """A session for a job or command: commit on success, roll back on error, always close.

    derived: a write of what the next pass would produce again from durable data (rendered
    documents, and the bookkeeping that says they were rendered, in the same transaction):
    its commit does not wait for the disk. A crash may undo it, never tear it; the sections
    it marked rendered then are not, and render again. A tick's document commit carries
    about 1 MB of WAL, and syncing it cost 5-9 ms on this machine's disk.
    """
    db = database(app)
    maker = db.derived_writer if derived else db.writer if write else db.reader
    with maker() as session, session.begin():
        yield session
