"""Database outages for tests: PostgreSQL behind a TCP proxy the test cuts, a SQLite file
made unreadable in place; both restored exactly, the machine's server never touched."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.tcpproxy import TcpProxy

_SQLITE_FILES = ("", "-wal", "-shm")


class Fault:
    """An outage of the database at `url` (the URL the app under test must use)."""

    url: str

    def cut(self) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        raise NotImplementedError


class ProxyFault(Fault):
    """PostgreSQL through a TcpProxy: cut and black-hole reset live connections; cut
    refuses new ones, black-hole accepts them and never answers."""

    def __init__(self, url: str, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.url = make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)

    def cut(self) -> None:
        self.proxy.cut()

    def blackhole(self) -> None:
        self.proxy.blackhole()

    def restore(self) -> None:
        self.proxy.restore()


class SqliteFault(Fault):
    """The database file, its WAL and its shared-memory index overwritten in place with bytes
    that are no database, then given their own bytes back.

    chmod does not stop root (CI runs tests as root), and a file moved or replaced by
    another one leaves every open connection reading the old inode; overwriting the same
    inodes is what every connection, open or new, sees: SQLITE_NOTADB. Nothing may write to
    the database meanwhile (the tests run no scheduler while it is cut).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        database = make_url(url).database
        assert database, url
        self.path = Path(database)
        self._saved: dict[Path, bytes] = {}

    def cut(self) -> None:
        if self._saved:
            return  # cut already
        # Everything into the main file first, so its bytes alone are the database. Then one
        # commit that changes nothing visible, so the WAL is not empty: a connection that
        # rebuilds the clobbered WAL index finds an empty WAL, which no open connection has
        # cached (had one, it would trust its page cache and still answer from memory).
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE fault_marker (x)")
            conn.execute("DROP TABLE fault_marker")
            conn.execute("COMMIT")
        finally:
            conn.close()
        for suffix in _SQLITE_FILES:
            path = Path(f"{self.path}{suffix}")
            if path.exists():
                self._saved[path] = data = path.read_bytes()
                with path.open("r+b") as f:
                    f.write(b"\xff" * max(len(data), 4096))
                    f.flush()

    def restore(self) -> None:
        for path, data in self._saved.items():
            if not path.exists():
                continue  # the last connection closed meanwhile and SQLite removed it
            with path.open("r+b") as f:
                f.truncate(0)
                f.write(data)
                f.flush()
        self._saved.clear()


@contextmanager
def database_fault(url: str) -> Iterator[Fault]:
    """A Fault for the test database at url (SQLite file or PostgreSQL schema)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        sqlite_fault = SqliteFault(url)
        try:
            yield sqlite_fault
        finally:
            sqlite_fault.restore()
        return
    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
        fault = ProxyFault(url, proxy)
        try:
            yield fault
        finally:
            fault.restore()
