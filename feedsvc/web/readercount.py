"""Counting feed polls for subscriber analytics: a set add per poll, a batched write per flush.

The fast path (fastpath.py) and Flask's feed routes (public.py) call count() where they answer
a poll with 200 or 304, next to the poll limiter, so each poll is counted once whichever
answers it. Nothing else happens per request: no classifying, no hashing, no database. A
background thread of each worker flushes every ANALYTICS_FLUSH_SECONDS (and at local midnight,
so a batch never spans two days, and at worker exit, best effort): it reduces the distinct
polls to a tally (analytics.py) and stores it in one transaction, combined with every other
worker's and host's by the upserts there.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from feedsvc import analytics
from feedsvc.limits import ANALYTICS_PENDING_MAX
from feedsvc.storage.db import transaction

log = logging.getLogger(__name__)
Poll = analytics.Poll


class PollCounter:
    """Distinct polls since the last flush, per worker, bounded; flushed by store(day, polls).

    A set of (path, address, User-Agent): a reader polling every minute costs one entry a day,
    not one per poll. At most max_pending entries; past it new ones are dropped and counted.
    No lock on the hot path: under the GIL a set add is atomic, and a poll added to the set
    just swapped out by a flush is, at worst, one poll not counted.
    """

    def __init__(
        self,
        store: Callable[[date, set[Poll]], None],
        zone: ZoneInfo,
        *,
        max_pending: int = ANALYTICS_PENDING_MAX,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._zone = zone
        self._max = max_pending
        self._clock = clock or (lambda: datetime.now(zone))
        self._pending: set[Poll] = set()
        self._day = self._clock().date()
        self._unsent: list[tuple[date, set[Poll]]] = []  # batches a failed flush keeps
        self._flushing = threading.Lock()
        self.dropped = 0
        self.on_new: Callable[[], None] = _nothing  # the first new poll starts the flusher

    def count(self, path: str, address: str, user_agent: str) -> None:
        key = (path, address, user_agent)
        pending = self._pending
        if key not in pending:
            if not pending:
                # A batch is the day of its first poll: a worker idle since yesterday must not
                # count today's first polls as yesterday's. (The flusher wakes at midnight.)
                self._day = self._clock().date()
            elif len(pending) >= self._max:
                self.dropped += 1
                return
            pending.add(key)
            self.on_new()

    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """Store what was counted since the last flush; keep it for the next when that fails."""
        with self._flushing:
            batch, self._pending = self._pending, set()
            day = self._day
            dropped, self.dropped = self.dropped, 0
            if dropped:
                log.warning("%d feed poll(s) not counted: ANALYTICS_PENDING_MAX reached", dropped)
            if batch:
                self._unsent.append((day, batch))
            while self._unsent:
                day, batch = self._unsent[0]
                try:
                    self._store(day, batch)
                except Exception:
                    kept = sum(len(b) for _d, b in self._unsent)
                    # Bounded like the pending set: the oldest batches go first.
                    while kept > self._max and len(self._unsent) > 1:
                        kept -= len(self._unsent.pop(0)[1])
                    log.exception("subscriber counts not stored; %d poll(s) kept for later", kept)
                    return
                self._unsent.pop(0)

    def seconds_to_flush(self, interval: float) -> float:
        """The interval, or less when local midnight comes first (a batch is one day's)."""
        now = self._clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), self._zone)
        return max(0.05, min(interval, (midnight - now).total_seconds() + 0.01))


def _nothing() -> None:
    return None


class Flusher:
    """The worker's flushing thread, started at the first poll counted in this process.

    Started lazily rather than in create_app: gunicorn may fork workers from a process that
    built the app (preload), and a thread does not survive a fork. Not started for test apps
    (TESTING), which flush by hand.
    """

    def __init__(self, counter: PollCounter, interval: float) -> None:
        self.counter = counter
        self.interval = interval
        self._pid = 0
        self._stop = threading.Event()

    def ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name="feedsvc-analytics", daemon=True)
        thread.start()
        # Best effort at exit: gunicorn's workers leave through SystemExit, so atexit runs.
        counter = weakref.ref(self.counter)
        atexit.register(_flush_at_exit, counter, self._stop)

    def _run(self) -> None:
        while not self._stop.wait(self.counter.seconds_to_flush(self.interval)):
            self.counter.flush()


def _flush_at_exit(counter: weakref.ref[PollCounter], stop: threading.Event) -> None:
    stop.set()
    found = counter()
    if found is not None:
        try:
            found.flush()
        except Exception:  # the process is ending: logged, nothing else to do
            log.exception("subscriber counts not stored at exit")


def init_app(app: Flask) -> PollCounter | None:
    """The worker's counter, or None when ANALYTICS is off."""
    counter = None
    if app.config["ANALYTICS"]:
        zone = ZoneInfo(app.config["TIMEZONE"])
        secret = str(app.config["SECRET_KEY"])

        def store(day: date, polls: set[Poll]) -> None:
            started = time.monotonic()
            found = analytics.tally(secret, day, polls)
            if found:
                with transaction(app) as s:
                    analytics.store(s, found)
            log.debug("%d poll(s) stored in %.3f s", len(polls), time.monotonic() - started)

        counter = PollCounter(store, zone)
        if not app.config.get("TESTING"):
            interval = float(app.config["ANALYTICS_FLUSH_SECONDS"])
            counter.on_new = Flusher(counter, interval).ensure_started
    app.extensions["feedsvc.readercount"] = counter
    return counter


def of(app: Flask) -> PollCounter | None:
    counter: PollCounter | None = app.extensions.get("feedsvc.readercount")
    return counter
