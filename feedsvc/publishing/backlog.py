"""The static export's backlog: files that failed, retried each tick; its health on the lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from flask import Flask

from feedsvc.publishing import export, lease
from feedsvc.publishing.export import Stored
from feedsvc.storage.db import transaction
from feedsvc.storage.models import utcnow

log = logging.getLogger(__name__)
_KEY = "feedsvc.export_backlog"


class Backlog:
    """What this process still owes the export, and what it has not yet reported.

    An export failure never stops publishing: the database holds the documents, and the
    files follow as soon as the folder takes them again. pending maps each path that failed
    (a write or a removal) to when its change was made; the leader retries them at every
    tick (retry) and notes on the lease row how far behind the export is (report). A
    process that restarts starts empty, and its first sync (at start, and again whenever
    it becomes the leader) finds by size and date whatever an earlier process missed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # a tick and a full rebuild may export at once
        self.pending: dict[str, datetime] = {}
        self.sync_owed = False  # a whole sync: at start, after a new leadership, after errors
        self._owed_since: datetime | None = None
        self._failures = 0  # failed attempts not yet added to the lease row's total
        self._error = ""  # the last failure, not yet reported
        self._reported: tuple[datetime | None] | None = None  # behind_since as last reported

    def behind_since(self) -> datetime | None:
        """When the oldest change still waiting for the export was made; None: nothing waits."""
        times = [*self.pending.values(), *([self._owed_since] if self._owed_since else [])]
        return min(times, default=None)

    def after_commit(
        self, app: Flask, changed: Sequence[Stored], gone: Sequence[str], now: datetime
    ) -> None:
        """Export what a write just committed; what fails waits in pending for the next tick."""
        if export.export_root(app) is None or not (changed or gone):
            return
        paths = {doc.path: now for doc in changed} | dict.fromkeys(gone, now)
        self._attempt(app, paths, {doc.path: doc for doc in changed})

    def owe_sync(self, since: datetime | None = None) -> None:
        """Ask for a whole sync at the next retry (a new leader: its predecessor's misses)."""
        with self._lock:
            self.sync_owed = True
            if since is not None and self._owed_since is None:
                self._owed_since = since

    def sync(self, app: Flask) -> export.Synced:
        """A whole sync (export.sync); its failures replace pending, which it covered."""
        with self._lock:
            try:
                outcome = export.sync(app)
            except Exception as exc:  # the database, say: owed again at the next retry
                log.exception("static export sync failed; retried at the next tick")
                self.sync_owed = True
                self._owed_since = self._owed_since or utcnow()
                self._fail(f"{type(exc).__name__}: {exc}", 1)
                raise
            self.sync_owed = False
            self._owed_since = None
            self.pending = {path: since for path, (since, _why) in outcome.failed.items()}
            if outcome.failed:
                self._fail(next(iter(outcome.failed.values()))[1], len(outcome.failed))
            return outcome

    def retry(self, app: Flask) -> None:
        """The leader's tick: the owed sync, or else the paths that failed before."""
        if export.export_root(app) is None:
            return
        if self.sync_owed:
            try:
                self.sync(app)
            except Exception:  # logged by sync; owed again
                return
        elif self.pending:
            self._attempt(app, dict(self.pending), {})

    def report(self, app: Flask, holder: str) -> None:
        """Note failures and the backlog's age on the lease row, only when they changed."""
        with self._lock:
            behind = self.behind_since()
            failures, error = self._failures, self._error
            if not failures and self._reported == (behind,):
                return
        try:
            with transaction(app) as s:
                lease.record_export(s, holder, failures=failures, error=error, behind_since=behind)
        except Exception:  # the database is down: reported at a later tick
            log.exception("noting the export's health failed")
            return
        with self._lock:
            self._failures -= failures
            if self._error == error:
                self._error = ""
            self._reported = (behind,)

    def _attempt(self, app: Flask, paths: dict[str, datetime], mine: dict[str, Stored]) -> None:
        root = export.export_root(app)
        assert root is not None
        with self._lock:
            try:
                failed = export.export_paths(app, root, paths, mine)
            except Exception as exc:  # the database, while checking: every path waits
                log.exception("static export under %s failed; retried at the next tick", root)
                failed = dict.fromkeys(paths, f"{type(exc).__name__}: {exc}")
            for path in paths:
                if path in failed:
                    self.pending[path] = min(paths[path], self.pending.get(path, paths[path]))
                else:
                    self.pending.pop(path, None)
            if failed:
                first = next(iter(failed.values()))
                log.error(
                    "static export under %s: %d of %d file(s) failed (first: %s); the database "
                    "is intact, and %d path(s) are retried at the next tick",
                    root,
                    len(failed),
                    len(paths),
                    first,
                    len(self.pending),
                )
                self._fail(first, len(failed))

    def _fail(self, error: str, count: int) -> None:
        self._failures += count
        self._error = error


def of(app: Flask) -> Backlog:
    """The app's backlog (one per process: the scheduler's jobs share it)."""
    found = app.extensions.get(_KEY)
    if found is None:
        found = app.extensions.setdefault(_KEY, Backlog())
    assert isinstance(found, Backlog)
    return found
