"""Database outages on the web side: which errors are one, the worker's up/down state, the 503.

While the database is unreachable a worker keeps serving the feeds it holds in memory
(web/documents.py) and answers everything that needs the database with 503 Service
Unavailable and Retry-After (RFC 9110 §15.6.4, §10.2.3), never a 500. It does not ask the
database on every request meanwhile: one thread at a time, at most once per
DB_RETRY_SECONDS, re-checks it, and every other request is answered at once instead of
queueing behind a check that may hang until DB_CONNECT_TIMEOUT. The state is logged once
per transition (down, back up), not once per request.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from werkzeug.exceptions import ServiceUnavailable

from feedsvc.storage.db import database
from feedsvc.storage.models import SiteState

T = TypeVar("T")

# Endpoints that answer without the database when it is down: /healthz and /metrics say so
# themselves, static files never needed it.
DATABASE_OPTIONAL = frozenset({"health.healthz", "scrape", "static"})

# PostgreSQL SQLSTATEs that mean the server answered but gave up on this statement: a
# statement_timeout (57014 query_canceled) or a lock wait (55P03 lock_not_available). The
# database is up; this request is told to come back, the worker does not turn degraded.
_PG_BUSY = frozenset({"57014", "55P03"})
# SQLite result codes (sqlite3 errors' sqlite_errorname, Python 3.11+) for a file that cannot
# be read at all, and for a lock that outlasted the busy timeout.
_SQLITE_DOWN_PREFIXES = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_NOTADB", "SQLITE_CORRUPT")
_SQLITE_BUSY_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_INTERRUPT")

DOWN = "down"
BUSY = "busy"


def classify(exc: BaseException) -> str | None:
    """DOWN (unreachable: the worker turns degraded), BUSY (this request timed out on a live
    database), or None (not an availability problem: a bug, answered as before)."""
    if isinstance(exc, sa_exc.TimeoutError):
        return BUSY  # the pool had no free connection within DB_POOL_TIMEOUT
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return DOWN  # SQLAlchemy saw a disconnect and dropped the pool's connections
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        name = str(getattr(orig, "sqlite_errorname", ""))
        if name.startswith(_SQLITE_BUSY_PREFIXES):
            return BUSY
        if name.startswith(_SQLITE_DOWN_PREFIXES):
            return DOWN
        return None  # "no such table" and the like: a missing migration, not an outage
    if isinstance(exc, sa_exc.OperationalError):
        # psycopg: refused or timed-out connects, a server shutting down, a dropped link.
        return BUSY if getattr(orig, "sqlstate", None) in _PG_BUSY else DOWN
    return None


class Unavailable(ServiceUnavailable):
    """503 with Retry-After; the app's and the API's HTTP error handlers render it."""

    description = (
        "The database is not answering right now, so this request cannot be served. "
        "Feeds are still served; try again in a moment."
    )


class DatabaseState:
    """One worker's view of the database: up, or down since when, and who may re-check it."""

    def __init__(self, retry_seconds: float, log: Callable[..., None]) -> None:
        self.retry_seconds = retry_seconds
        self._log = log
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_try = float("-inf")
        self._trying = False
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def down_seconds(self) -> float | None:
        since = self._down_since
        return None if since is None else time.monotonic() - since

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.retry_seconds))

    def due(self) -> bool:
        """Cheap, without the lock: whether may_try() could say yes now."""
        return self._down_since is None or (
            not self._trying and time.monotonic() - self._last_try >= self.retry_seconds
        )

    def may_try(self) -> bool:
        """Whether the caller may use the database now. Always while it is up; while it is
        down, True for one caller at a time once per retry interval, which must then report
        with succeeded() or failed() (attempt() does both)."""
        if self._down_since is None:
            return True
        with self._lock:
            now = time.monotonic()
            if self._trying or now - self._last_try < self.retry_seconds:
                return False
            self._trying = True
            self._last_try = now
            return True

    def succeeded(self) -> None:
        with self._lock:
            since, self._down_since, self._trying = self._down_since, None, False
        if since is not None:
            self._log("info", "database reachable again after %.1f s", time.monotonic() - since)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_since is None
            now = time.monotonic()
            if first:
                self._down_since = now
            self._last_try, self._trying = now, False
            self.last_error = one_line(exc)
        if first:
            self._log(
                "warning",
                "database unreachable; serving held feeds, 503 for the rest: %s",
                one_line(exc),
            )

    def released(self) -> None:
        """The caller that may_try() let in ended without learning anything."""
        with self._lock:
            self._trying = False

    def attempt(self, work: Callable[[], T]) -> T:
        """Run work() if the database may be used now; raise Unavailable if not, or if work()
        found it unreachable. Errors that are no outage pass through unchanged."""
        # Down: this caller must be the one re-check of the interval, and must report back.
        claimed = self.down
        if claimed and not self.may_try():
            raise unavailable(self)
        try:
            result = work()
        except Exception as exc:
            kind = classify(exc)
            if kind == DOWN:
                self.failed(exc)
                raise unavailable(self) from exc
            if claimed and kind == BUSY:
                self.succeeded()  # it answered, if slowly
            elif claimed:
                self.released()
            raise
        except BaseException:
            if claimed:
                self.released()  # e.g. the worker stopping: the next caller may re-check
            raise
        # Only the re-check says the database is back: work that began before another thread
        # found it down may well have finished on a connection that has gone since.
        if claimed:
            self.succeeded()
        return result


def one_line(exc: BaseException) -> str:
    """The driver's first line (SQLAlchemy appends the SQL and a link), for logs."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:300]


def unavailable(state: DatabaseState) -> Unavailable:
    return Unavailable(retry_after=state.retry_after)


def state(app: Flask | None = None) -> DatabaseState:
    found: DatabaseState = (app or current_app).extensions["feedsvc.outage"]
    return found


def database_optional() -> bool:
    """This request's endpoint answers without the database while it is down."""
    return request.endpoint in DATABASE_OPTIONAL


def _ping() -> None:
    # A row of a table, not SELECT 1: SQLite answers that without reading the file at all.
    with database().reader() as session:
        session.scalar(select(SiteState.documents_generation))


def init_app(app: Flask) -> DatabaseState:
    """The worker's state, and the gate that answers 503 at once while the database is down.

    Call before any other hook that reads the database (auth.load_user, the API's bearer
    check), so that none of them waits on a database known to be down.
    """

    def log(level: str, message: str, *args: Any) -> None:
        getattr(app.logger, level)(message, *args)

    db_state = DatabaseState(float(app.config["DB_RETRY_SECONDS"]), log)
    app.extensions["feedsvc.outage"] = db_state

    @app.before_request
    def gate() -> None:
        if not db_state.down or database_optional():
            return
        # This request re-checks the database (one small read within the timeouts) or is told to
        # come back: nothing waits here while another thread checks.
        db_state.attempt(_ping)

    return db_state


def answer(exc: Exception) -> Unavailable | None:
    """For an error raised while answering a request: the 503 to answer instead, or None
    when the error is no outage. Notes a newly unreachable database."""
    kind = classify(exc)
    if kind is None:
        return None
    db_state = state()
    if kind == DOWN:
        db_state.failed(exc)
    else:
        current_app.logger.warning(
            "database too slow for %s %s: %s", request.method, request.path, one_line(exc)
        )
    return unavailable(db_state)
