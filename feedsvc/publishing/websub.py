"""WebSub publish notifications: a bounded, de-duplicating queue per hub, sent off the pass."""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode, urlsplit

from flask import Flask
from sqlalchemy import Table, update

from feedsvc import urls
from feedsvc.publishing.export import Stored
from feedsvc.storage.db import transaction
from feedsvc.storage.models import RENDER_LEASE, SchedulerLease

log = logging.getLogger(__name__)
_KEY = "feedsvc.websub"
_LEASES = cast(Table, SchedulerLease.__table__)

# Seconds a hub has to accept a connection and to answer each read before the attempt counts as
# failed; a hub that hangs holds its own sender thread this long, never a publishing pass.
TIMEOUT_SECONDS = 10.0
# Attempts per notification (the first and its retries), the first retry's delay and its cap:
# 2, 4, 8, 16 s, so a hub that is down for half a minute still hears of the change.
ATTEMPTS = 5
BACKOFF_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
# Topics waiting per hub. A change to a topic already waiting adds nothing (the hub fetches the
# topic's current bytes anyway); past this, new topics are dropped and counted.
QUEUE_MAX = 10_000
USER_AGENT = "feedsvc (WebSub publisher)"


@dataclass
class Totals:
    """Outcomes not yet added to the lease row's totals (report)."""

    sent: int = 0  # notifications a hub accepted (2xx)
    failures: int = 0  # attempts that failed: connection error, timeout, non-2xx status
    given_up: int = 0  # notifications abandoned after ATTEMPTS failures
    dropped: int = 0  # topics not queued: the queue was full
    error: str = ""  # the last failure


class Hub:
    """One hub's queue and sender thread: a hub that hangs or fails delays no other hub."""

    def __init__(self, url: str, notifier: Notifier) -> None:
        self.url = url
        self._notifier = notifier
        self._lock = notifier.lock
        self.wake = threading.Condition(self._lock)
        # (due on time.monotonic(), order, topic, attempts already made); waiting: its topics
        self._heap: list[tuple[float, int, str, int]] = []
        self.waiting: set[str] = set()
        self.in_flight = 0
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def put(self, topic: str, attempt: int = 0, delay: float = 0.0) -> bool:
        """Queue topic (the caller holds the lock); False when the queue is full."""
        if topic in self.waiting:
            return True  # one notification covers every change made before it is sent
        if len(self.waiting) >= self._notifier.queue_max:
            return False
        self.waiting.add(topic)
        due = time.monotonic() + delay
        heapq.heappush(self._heap, (due, next(self._order), topic, attempt))
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"feedsvc-websub {self.url}", daemon=True
            )
            self._thread.start()
        self.wake.notify()
        return True

    def _next(self) -> tuple[str, int] | None:
        with self._lock:
            while not self._notifier.closed:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    _due, _order, topic, attempt = heapq.heappop(self._heap)
                    self.waiting.discard(topic)
                    self.in_flight += 1
                    return topic, attempt
                self.wake.wait(self._heap[0][0] - now if self._heap else None)
        return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            topic, attempt = job
            try:
                error = send(self.url, topic, self._notifier.timeout)
            except Exception as exc:  # never let one ping end the thread
                error = f"{type(exc).__name__}: {exc}"
            self._notifier.outcome(self, topic, attempt, error)


class Notifier:
    """The leader's publish notifications: after a commit, each changed feed to every hub."""

    def __init__(
        self,
        hubs: Sequence[str],
        *,
        timeout: float | None = None,
        attempts: int | None = None,
        backoff: float | None = None,
        backoff_max: float | None = None,
        queue_max: int | None = None,
    ) -> None:
        # None: the module's values as they are now (tests set them before building one).
        self.timeout = TIMEOUT_SECONDS if timeout is None else timeout
        self.attempts = ATTEMPTS if attempts is None else attempts
        self.backoff = BACKOFF_SECONDS if backoff is None else backoff
        self.backoff_max = BACKOFF_MAX_SECONDS if backoff_max is None else backoff_max
        self.queue_max = QUEUE_MAX if queue_max is None else queue_max
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.closed = False
        self.totals = Totals()
        self._reported_queued: int | None = None
        self.hubs = [Hub(url, self) for url in hubs]

    def publish(self, topics: Iterable[str]) -> None:
        """Queue a notification of each topic to every hub; returns at once, never blocks."""
        if not self.hubs:
            return
        topics = list(topics)
        with self.lock:
            if self.closed:
                return
            for hub in self.hubs:
                dropped = sum(1 for topic in topics if not hub.put(topic))
                if dropped:
                    self.totals.dropped += dropped
                    self.totals.error = f"{hub.url}: queue full ({self.queue_max} topics)"
                    log.error(
                        "WebSub hub %s: %d notification(s) dropped, %d topics already waiting",
                        hub.url,
                        dropped,
                        len(hub.waiting),
                    )

    def after_commit(self, app: Flask, changed: Sequence[Stored]) -> None:
        """Notify the hubs of every feed among the documents a write just committed."""
        site_url = app.config["SITE_URL"]
        # Feeds only (their file names, urls.FEED_FILES): the OPML list names no hub.
        self.publish(
            urls.absolute(site_url, doc.path)
            for doc in changed
            if doc.path.rsplit("/", 1)[-1] in urls.FILE_FORMATS
        )

    def outcome(self, hub: Hub, topic: str, attempt: int, error: str) -> None:
        """Count one attempt; schedule the retry, or give up after the last one."""
        with self.lock:
            hub.in_flight -= 1
            if not error:
                self.totals.sent += 1
            else:
                self.totals.failures += 1
                self.totals.error = f"{hub.url}: {error}"
                made = attempt + 1
                if made < self.attempts and not self.closed:
                    delay = min(self.backoff * 2**attempt, self.backoff_max)
                    log.warning(
                        "WebSub hub %s refused the notification of %s (%s); attempt %d of %d, "
                        "next in %.1f s",
                        hub.url,
                        topic,
                        error,
                        made,
                        self.attempts,
                        delay,
                    )
                    # Already waiting again (a newer change): that notification covers it.
                    if not hub.put(topic, made, delay):
                        self.totals.dropped += 1
                else:
                    self.totals.given_up += 1
                    log.error(
                        "WebSub hub %s: gave up notifying %s after %d attempt(s); last: %s",
                        hub.url,
                        topic,
                        made,
                        error,
                    )
            self.idle.notify_all()

    def queued(self) -> int:
        """Notifications waiting or being sent, all hubs together."""
        with self.lock:
            return self._queued()

    def _queued(self) -> int:
        return sum(len(hub.waiting) + hub.in_flight for hub in self.hubs)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing waits or is in flight (True), or timeout seconds passed."""
        with self.lock:
            return self.idle.wait_for(lambda: self._queued() == 0, timeout)

    def report(self, app: Flask, holder: str) -> None:
        """Add the outcomes since the last report to the lease row's totals, for /metrics."""
        with self.lock:
            totals = Totals(**vars(self.totals))
            queued = self._queued()
            if totals == Totals() and self._reported_queued == queued:
                return
        c = _LEASES.c
        values: dict[str, object] = {
            "websub_sent_total": c.websub_sent_total + totals.sent,
            "websub_failures_total": c.websub_failures_total + totals.failures,
            "websub_given_up_total": c.websub_given_up_total + totals.given_up,
            "websub_dropped_total": c.websub_dropped_total + totals.dropped,
            "websub_queued": queued,
        }
        if totals.error:
            values["last_websub_error"] = totals.error[:1000]
        try:
            with transaction(app) as s:
                s.connection().execute(
                    update(_LEASES)
                    .where(c.name == RENDER_LEASE, c.holder == holder)
                    .values(**values)
                )
        except Exception:  # the database is down: reported at a later tick
            log.exception("noting the WebSub notifications' outcomes failed")
            return
        with self.lock:
            self.totals.sent -= totals.sent
            self.totals.failures -= totals.failures
            self.totals.given_up -= totals.given_up
            self.totals.dropped -= totals.dropped
            if self.totals.error == totals.error:
                self.totals.error = ""
            self._reported_queued = queued

    def close(self) -> None:
        """Stop the sender threads (what still waits is not sent); for tests and shutdown."""
        with self.lock:
            self.closed = True
            for hub in self.hubs:
                hub.wake.notify_all()
            self.idle.notify_all()


def send(hub: str, topic: str, timeout: float) -> str:
    """POST one publish notification to hub; "" when it answered 2xx, else what went wrong.

    WebSub §6 leaves the publisher→hub notification to the two parties; hubs take the
    PubSubHubbub form, a form-encoded POST of hub.mode=publish with the topic as hub.url
    (older hubs) or hub.topic (newer ones): both are sent, the same URL.
    """
    parts = urlsplit(hub)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    assert parts.hostname is not None  # settings checked it
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = urlencode({"hub.mode": "publish", "hub.url": topic, "hub.topic": topic})
    try:
        connection.request(
            "POST",
            path,
            body=body.encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": USER_AGENT,
            },
        )
        response = connection.getresponse()
        response.read(65_536)  # a hub's answer is a short status text; never more than this
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return ""
    # A redirect is not followed: a POST's body would not survive it, and a hub's address is
    # configured, not discovered.
    return f"HTTP {response.status} {response.reason}"


def of(app: Flask) -> Notifier:
    """The app's notifier (one per process), for the hubs its settings name."""
    found = app.extensions.get(_KEY)
    if found is None:
        found = app.extensions.setdefault(_KEY, Notifier(tuple(app.config["WEBSUB_HUBS"])))
    assert isinstance(found, Notifier)
    return found
