"""nginx's access log into subscriber analytics: the feeds nginx served from the static export.

Reads nginx's "combined" format (and deploy/nginx.conf's `feedsvc` format, the same with the
upstream address appended), from where the last run stopped: the log's inode and the byte
offset after the last whole line counted are kept in the database, stored in the same
transaction as the counts of those lines. A rotated log (another inode, or shorter than the
offset) is read from its start. A line nginx handed to the app (upstream address not "-") is
skipped: the app counted that poll itself (web/readercount.py).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from feedsvc import analytics
from feedsvc.progress import Progress

# $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
# "$http_referer" "$http_user_agent" ["$upstream_addr"]. nginx writes a '"' inside a value
# as \x22, so a quoted field never holds one.
_LINE = re.compile(
    r'(?P<addr>[^ ]+) [^ ]+ .*?\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>[^ "]*)[^"]*" '
    r'(?P<status>\d{3}) [^ ]+ "[^"]*" "(?P<ua>[^"]*)"(?: "(?P<upstream>[^"]*)")?'
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
# 04/Dec/2026:09:07:26 +0100
_TIME = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):\d\d ([+-])(\d\d)(\d\d)")
CHUNK_BYTES = 4 * 1024 * 1024
Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Hit:
    day: date  # in the site's TIMEZONE
    path: str  # document path, no leading "/"
    address: str
    user_agent: str


class DayOf:
    """Log time → the site's local date; cached per minute (a date only changes on one)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._minute = ""
        self._day: date | None = None

    def __call__(self, stamp: str) -> date | None:
        minute = stamp[:17] + stamp[20:]
        if minute == self._minute:
            return self._day
        match = _TIME.fullmatch(stamp)
        month = _MONTHS.get(match.group(2), 0) if match else 0
        if match is None or not month:
            return None
        day, _mon, year, hour, mins, sign, off_h, off_m = match.groups()
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
        try:
            moment = datetime(int(year), month, int(day), int(hour), int(mins), tzinfo=UTC)
        except ValueError:
            return None
        moment = moment.replace(tzinfo=timezone(offset))
        self._minute, self._day = minute, moment.astimezone(self.zone).date()
        return self._day


def parse(line: str, day_of: DayOf) -> Hit | None:
    """A poll of a subscribed feed answered by nginx itself with 200 or 304, else None."""
    match = _LINE.match(line)
    if match is None or match["method"] not in ("GET", "HEAD"):
        return None
    if match["status"] not in ("200", "304"):
        return None
    upstream = match["upstream"]
    if upstream is not None and upstream not in ("", "-"):
        return None  # the app answered (and counted) it
    path = match["target"].split("?", 1)[0].lstrip("/")
    if not analytics.subscribed_feed(path):
        return None
    day = day_of(match["time"])
    if day is None:
        return None
    # nginx escapes bytes it will not log as \xHH; the escaped form is the same every time.
    return Hit(day, path, match["addr"], match["ua"])


@dataclass
class Ingested:
    lines: int = 0
    counted: int = 0  # polls of subscribed feeds nginx answered (crawlers included)
    bytes_read: int = 0
    started_over: bool = False  # a rotated or truncated log was read from its start


def log_key(path: Path) -> str:
    """The position's name: this host and the log's absolute path (each host has its own)."""
    return f"{socket.gethostname()}:{path.resolve()}"


def _lines(data: bytes) -> Iterator[str]:
    for raw in data.split(b"\n"):
        if raw:
            yield raw.decode("utf-8", "replace")


def ingest(
    path: Path,
    *,
    secret_key: str,
    zone: ZoneInfo,
    transaction: Transaction,
    now: Callable[[], datetime],
    progress: Progress | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Ingested:
    """Count what is new in the log since the last run. Raises OSError if it cannot be read."""
    key = log_key(path)
    result = Ingested()
    with path.open("rb") as f:
        stat = os.fstat(f.fileno())
        with transaction() as s:
            known = analytics.position(s, key)
        offset = 0
        if known is not None:
            inode, offset = known
            if inode != stat.st_ino or offset > stat.st_size:
                offset, result.started_over = 0, True
        if progress is not None:
            progress.total = max(0, stat.st_size - offset)
        day_of = DayOf(zone)
        f.seek(offset)
        while True:
            data = f.read(chunk_bytes)
            end = data.rfind(b"\n") + 1
            if end == 0:
                if len(data) < chunk_bytes:
                    break  # nothing, or a line nginx is still writing: the next run reads it
                end = len(data)  # one line longer than a chunk: no poll, skip it
            f.seek(offset + end)
            tallies = analytics.Tallies(secret_key)
            for line in _lines(data[:end]):
                result.lines += 1
                hit = parse(line, day_of)
                if hit is not None:
                    result.counted += 1
                    tallies.of(hit.day).add(hit.path, hit.address, hit.user_agent)
            offset += end
            with transaction() as s:
                for found in tallies.days.values():
                    analytics.store(s, found)
                analytics.save_position(s, key, stat.st_ino, offset, now())
            result.bytes_read += end
            if progress is not None:
                progress.advance(end)
        if result.bytes_read == 0 and (known is None or result.started_over):
            with transaction() as s:  # remember the inode, so rotation is seen next time
                analytics.save_position(s, key, stat.st_ino, offset, now())
    return result
