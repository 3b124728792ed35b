"""The scheduler process (APScheduler): publish changes each tick, rebuild all now and then."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy.orm import Session

from feedsvc import analyticscli
from feedsvc.publishing import backlog, lease, probes, websub
from feedsvc.publishing.changes import edits_pending
from feedsvc.publishing.passes import PassResult, run_pass
from feedsvc.publishing.store import Fenced
from feedsvc.storage import db
from feedsvc.storage.db import transaction
from feedsvc.storage.models import utcnow

log = logging.getLogger(__name__)

# How often the scheduler copies SQLite's WAL into the database file. The first commit after
# a checkpoint syncs the restarted log, so checkpoints are kept rare: one tick in this many
# seconds pays that, and the log stays within tens of MB even at a 1-second tick.
CHECKPOINT_SECONDS = 30.0
# How soon the main thread notices that a signal asked it to stop.
STOP_POLL_SECONDS = 0.1


class Publisher:
    """The jobs' state: who this process is and whether it currently leads."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.holder = lease.make_holder_id()
        self.leading = False
        # The fencing token of this process's current (or last) leadership.
        self.token: int | None = None
        self._renewed = 0.0
        # Held by a changes pass (a tick, or one the watch started): never two at once.
        self._changes = threading.Lock()

    def _lead(self) -> bool:
        seconds = float(self.app.config["LEASE_SECONDS"])
        with transaction(self.app) as s:
            token = lease.acquire(s, self.holder, utcnow(), seconds)
        self._renewed = time.monotonic()
        leading = token is not None
        if leading and token != self.token:
            # A new leadership: whatever an earlier leader left unexported is found by a sync.
            backlog.of(self.app).owe_sync()
        if leading != self.leading or (leading and token != self.token):
            role = f"the leader (fencing token {token})" if leading else "a standby"
            log.info("%s is now %s", self.holder, role)
        self.leading = leading
        if token is not None:
            self.token = token
        return leading

    def _keep_leading(self) -> bool:
        """Renew during a long pass, at most every third of the lease: cheap, and never late."""
        if time.monotonic() - self._renewed < float(self.app.config["LEASE_SECONDS"]) / 3:
            return self.leading
        return self._lead()

    def run(self, *, full: bool = False) -> PassResult | None:
        """One job run: lead or stand by; a failure is logged and retried at the next tick."""
        try:
            if not self._lead():
                return None
            # Pinned for the whole pass: should the lease change hands and come back midway,
            # what this pass rendered under the old token is not stored under the new one.
            token = self.token

            def keep_leading() -> bool:
                return self._keep_leading() and self.token == token

            def record(s: Session, outcome: PassResult) -> None:
                lease.record_run(
                    s,
                    self.holder,
                    utcnow(),
                    error=_error_text(outcome),
                    full=full,
                    sections=len(outcome.sections_rendered),
                    documents=outcome.documents_changed,
                    seconds=outcome.seconds,
                )

            result = run_pass(
                self.app, full=full, keep_leading=keep_leading, record=record, token=token
            )
            self._export(full=full)
        except Fenced as exc:
            log.warning("fenced: %s; %s steps down", exc, self.holder)
            self.leading = False
            return None
        except Exception:  # the scheduler must outlive any single failed run
            log.exception("publishing pass failed")
            return None
        error = _error_text(result)
        if result.sections_rendered or result.failures:
            log.info(
                "rendered %d section(s)%s, %d document(s) changed, %.3f s%s",
                len(result.sections_rendered),
                " and the site feeds" if result.site_rendered else "",
                result.documents_changed,
                result.seconds,
                f"; failures: {error}" if error else "",
            )
        return result

    def _export(self, *, full: bool) -> None:
        """Retry what the export missed (a full rebuild: a whole sync); note its health."""
        pending = backlog.of(self.app)
        if full:
            pending.owe_sync()  # repairs drift and sweeps interrupted writes
        pending.retry(self.app)
        pending.report(self.app, self.holder)
        websub.of(self.app).report(self.app, self.holder)  # the hub notifications' outcomes

    def run_changes(self) -> PassResult | None:
        """A tick's pass; skipped (None) while another changes pass is still running."""
        if not self._changes.acquire(blocking=False):
            return None
        try:
            return self.run()
        finally:
            self._changes.release()

    def watch(self) -> PassResult | None:
        """Between ticks: start a pass as soon as an edit is committed, not at the next tick.

        One small read (does any section's revision differ from its rendered one?) every
        WATCH_SECONDS; a standby only waits for its lease. Scheduled articles coming due are
        the ticks' to find: their time is known in advance.
        """
        if not self.leading or self._changes.locked():
            return None
        try:
            with transaction(self.app, write=False) as s:
                pending = edits_pending(s)
        except Exception:  # the next look, or the next tick, tries again
            log.exception("looking for edits failed")
            return None
        return self.run_changes() if pending else None

    def release(self) -> None:
        if self.leading:
            with transaction(self.app) as s:
                lease.release(s, self.holder, utcnow())
            self.leading = False


def _error_text(result: PassResult) -> str:
    return "; ".join(f"{k}: {v}" for k, v in result.failures.items())


def _checkpoint(app: Flask) -> None:
    """Copy the SQLite WAL into the database file, beside the ticks rather than inside one."""
    try:
        db.checkpoint(app)
    except Exception:  # the next run tries again; web workers' commits still checkpoint too
        log.exception("SQLite WAL checkpoint failed")


def run_scheduler(app: Flask) -> None:
    """Block, running the jobs until SIGINT or SIGTERM; release the lease on the way out."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    publisher = Publisher(app)
    # The jobs are submitted from the scheduler's own thread, never from the main thread, where
    # signal handlers run: a handler that stopped a BlockingScheduler could interrupt the main
    # thread while it held the job executor's lock in submit() and then wait for that same
    # lock in shutdown(), for ever (seen once in CI, on PostgreSQL, a few times a second with
    # the watch job). The handler below only sets a flag; the main thread does the stopping.
    scheduler = BackgroundScheduler(timezone="UTC")
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
    scheduler.add_job(
        publisher.run_changes,
        "interval",
        seconds=float(app.config["TICK_SECONDS"]),
        id="publish-changes",
        next_run_time=utcnow(),
        **common,
    )
    scheduler.add_job(
        publisher.run,
        "interval",
        minutes=float(app.config["FULL_REBUILD_MINUTES"]),
        id="rebuild-all",
        kwargs={"full": True},
        **common,
    )

    if float(app.config["WATCH_SECONDS"]) > 0:
        scheduler.add_job(
            publisher.watch,
            "interval",
            seconds=float(app.config["WATCH_SECONDS"]),
            id="watch-edits",
            **common,
        )

    # Attachments' type and length (HEAD requests): beside the passes, never inside one.
    scheduler.add_job(
        probes.run_job,
        "interval",
        seconds=float(app.config["TICK_SECONDS"]),
        id="probe-media",
        args=[app, lambda: publisher.leading],
        **common,
    )

    # nginx's access log (the feeds it serves from the export): on every scheduler, leader
    # or not, since each host reads the log of its own nginx (analyticscli.run_job).
    if app.config["ACCESS_LOG_PATH"] and app.config["ANALYTICS"]:
        scheduler.add_job(
            analyticscli.run_job,
            "interval",
            seconds=float(app.config["ANALYTICS_FLUSH_SECONDS"]),
            id="ingest-access-log",
            args=[app],
            next_run_time=utcnow(),
            **common,
        )

    if db.defer_checkpoints(app):
        scheduler.add_job(
            _checkpoint,
            "interval",
            seconds=CHECKPOINT_SECONDS,
            id="sqlite-checkpoint",
            args=[app],
            **common,
        )

    stopping = False
    started = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        # `make run` delivers Ctrl-C to the whole group and then SIGTERM from its runner; a
        # supervisor may repeat SIGTERM too. Only the first one stops the scheduler: a later one
        # may land while the lease is being released, and must not interrupt that.
        nonlocal stopping
        if stopping:
            log.info("scheduler already stopping (signal %d)", signum)
            return
        stopping = True
        log.info("scheduler stopping (signal %d)", signum)
        if not started:  # still syncing the export: nothing started to wait for
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "scheduler %s started: tick %ss, full rebuild every %s min",
        publisher.holder,
        app.config["TICK_SECONDS"],
        app.config["FULL_REBUILD_MINUTES"],
    )
    try:
        # Bring the static export (if any) in line with the database before the first tick. A
        # folder that is unwritable or full only delays the files: they are retried each tick.
        try:
            backlog.of(app).sync(app)
        except Exception:  # logged by sync, and owed again at the first tick
            log.warning("static export not synced at start; publishing goes on without it")
        started = True  # from here a signal only asks this loop to stop
        scheduler.start()
        while not stopping:
            time.sleep(STOP_POLL_SECONDS)
        scheduler.shutdown(wait=False)
    finally:
        publisher.release()
        log.info("scheduler %s stopped", publisher.holder)
