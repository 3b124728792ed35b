"""Subscribers per feed and day: reduce polls to a day's tally, store it, read the totals back.

A poll is (feed path, client address, User-Agent). readers.classify says who polled: an
aggregator reporting N subscribers counts N (its highest report of the day per feed-id, summed
over its feed-ids), any other reader one per distinct client, a crawler nothing. A client is a
keyed hash of address and User-Agent whose key is derived from SECRET_KEY and the day, so no
address is stored and two days' clients cannot be linked. Storing is a union (clients: INSERT
… ON CONFLICT DO NOTHING) and a maximum (counts: upsert where higher), so tallies of several
workers, hosts and access-log runs combine in any order, and storing one twice changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from feedsvc import readers
from feedsvc.limits import ANALYTICS_DAYS, SLUG_PATTERN
from feedsvc.storage.models import AccessLogPosition, ReaderClient, ReaderCount
from feedsvc.urls import FEED_FILES, TOPIC_DIRS

Poll = tuple[str, str, str]  # (document path, client address, User-Agent)
_FILES = "|".join(re.escape(name) for name in FEED_FILES.values())
_FOLDERS = "|".join(re.escape(d) for d in ["sections", *TOPIC_DIRS.values()])
# The feeds one subscribes to: the site's, a section's, a tag's or an author's. Archive pages
# (RFC 5005) and the OPML are fetched while paging back or importing, not polled.
_SUBSCRIBED = re.compile(rf"(?:(?:{_FOLDERS})/{SLUG_PATTERN}/)?(?:{_FILES})")
_SECTION = re.compile(rf"sections/({SLUG_PATTERN})/")
_ROWS_PER_STATEMENT = 500


def subscribed_feed(path: str) -> bool:
    """Whether a document path (no leading "/") is a feed readers subscribe to."""
    return _SUBSCRIBED.fullmatch(path) is not None


def section_of(path: str) -> str | None:
    match = _SECTION.match(path)
    return match.group(1) if match else None


def client_key(secret_key: str, day: date) -> bytes:
    """The day's key for client hashes (HMAC-SHA-256, RFC 2104): one per day and site."""
    message = f"feedsvc reader clients {day.isoformat()}".encode()
    return hmac.new(str(secret_key).encode(), message, hashlib.sha256).digest()


def client_hash(key: bytes, address: str, user_agent: str) -> str:
    """32 hex digits (BLAKE2b keyed, RFC 7693): the same client gives the same hash all day."""
    digest = hashlib.blake2b(f"{address}\n{user_agent}".encode(), key=key, digest_size=16)
    return digest.hexdigest()


@dataclass
class Tally:
    """One day's polls, reduced to the rows that will be stored."""

    day: date
    key: bytes
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    clients: dict[tuple[str, str], str] = field(default_factory=dict)
    crawlers: int = 0

    def add(self, path: str, address: str, user_agent: str) -> None:
        if not subscribed_feed(path):
            return
        reader = readers.classify(user_agent)
        if reader.crawler:
            self.crawlers += 1
        elif reader.subscribers is not None:
            where = (path, reader.name, reader.feed_id)
            if reader.subscribers >= self.counts.get(where, -1):
                self.counts[where] = reader.subscribers
        else:
            self.clients[path, client_hash(self.key, address, user_agent)] = reader.name

    def __bool__(self) -> bool:
        return bool(self.counts or self.clients)


class Tallies:
    """Tallies by day, for polls that span days (an access log)."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.days: dict[date, Tally] = {}

    def of(self, day: date) -> Tally:
        tally = self.days.get(day)
        if tally is None:
            tally = self.days[day] = Tally(day, client_key(self.secret_key, day))
        return tally


def tally(secret_key: str, day: date, polls: Iterable[Poll]) -> Tally:
    found = Tally(day, client_key(secret_key, day))
    for path, address, user_agent in polls:
        found.add(path, address, user_agent)
    return found


def _insert(session: Session) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite 3.24+ and PostgreSQL 9.5+ share it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        yield rows[start : start + _ROWS_PER_STATEMENT]


def store(session: Session, found: Tally) -> None:
    """Add a tally to what is stored: a union of clients and the higher of two counts."""
    insert = _insert(session)
    counts = [
        {"day": found.day, "feed_path": p, "reader": r, "feed_id": i, "subscribers": n}
        for (p, r, i), n in sorted(found.counts.items())
    ]
    for rows in _chunks(counts):
        stmt = insert(ReaderCount).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "feed_path", "reader", "feed_id"],
            set_={"subscribers": stmt.excluded.subscribers},
            where=ReaderCount.subscribers < stmt.excluded.subscribers,
        )
        session.execute(stmt)
    clients = [
        {"day": found.day, "feed_path": p, "client": c, "reader": r}
        for (p, c), r in sorted(found.clients.items())
    ]
    for rows in _chunks(clients):
        stmt = insert(ReaderClient).values(rows).on_conflict_do_nothing()
        session.execute(stmt)


@dataclass(frozen=True)
class Total:
    day: date
    feed_path: str
    reader: str
    subscribers: int


def totals(session: Session, first: date, last: date) -> list[Total]:
    """Subscribers per (day, feed, reader) from first to last, both included."""
    found: dict[tuple[date, str, str], int] = {}
    counted = (
        select(
            ReaderCount.day,
            ReaderCount.feed_path,
            ReaderCount.reader,
            func.sum(ReaderCount.subscribers),
        )
        .where(ReaderCount.day >= first, ReaderCount.day <= last)
        .group_by(ReaderCount.day, ReaderCount.feed_path, ReaderCount.reader)
    )
    clients = (
        select(ReaderClient.day, ReaderClient.feed_path, ReaderClient.reader, func.count())
        .where(ReaderClient.day >= first, ReaderClient.day <= last)
        .group_by(ReaderClient.day, ReaderClient.feed_path, ReaderClient.reader)
    )
    for query in (counted, clients):
        for day, path, reader, n in session.execute(query):
            found[day, path, reader] = found.get((day, path, reader), 0) + int(n or 0)
    return [Total(d, p, r, n) for (d, p, r), n in sorted(found.items())]


def section_totals(session: Session, day: date) -> dict[str, int]:
    """Subscribers of each section's feeds (RSS, Atom and JSON together) on one day."""
    found: dict[str, int] = {}
    for total in totals(session, day, day):
        slug = section_of(total.feed_path)
        if slug is not None:
            found[slug] = found.get(slug, 0) + total.subscribers
    return found


def first_kept_day(today: date) -> date:
    """The oldest day still kept and shown: ANALYTICS_DAYS days up to today."""
    return today - timedelta(days=ANALYTICS_DAYS - 1)


def purge(session: Session, today: date) -> int:
    """Delete the days before first_kept_day; the number of rows deleted."""
    first = first_kept_day(today)
    deleted = 0
    for model in (ReaderCount, ReaderClient):
        result = session.execute(delete(model).where(model.day < first))
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


def position(session: Session, log: str) -> tuple[int, int] | None:
    """(inode, offset) where ingest-access-log stopped in this log, or None."""
    row = session.get(AccessLogPosition, log)
    return None if row is None else (row.inode, row.offset)


def save_position(session: Session, log: str, inode: int, offset: int, now: datetime) -> None:
    row = session.get(AccessLogPosition, log)
    if row is None:
        session.add(AccessLogPosition(log=log, inode=inode, offset=offset, read_at=now))
    else:
        row.inode, row.offset, row.read_at = inode, offset, now
