"""The scheduler: leader lease, standby, and a real run-scheduler process publishing a change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from devtools.procs import scheduler, service_env, wait_for
from feedsvc.publishing.passes import PassResult, run_pass
from feedsvc.publishing.scheduler import Publisher, run_scheduler
from feedsvc.sections import bump_revision
from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage.db import transaction
from feedsvc.storage.models import RENDER_LEASE, FeedDocument, SchedulerLease, utcnow
from tests.support.factories import make_article, make_section


def test_one_leader_renders_the_other_stands_by(app: Flask) -> None:
    make_article(app, make_section(app))
    first, second = Publisher(app), Publisher(app)
    assert first.run() is not None and first.leading
    assert second.run() is None and not second.leading
    # The leader renews at every run; the standby still waits.
    assert first.run() is not None
    assert second.run() is None


def test_standby_takes_over_when_the_lease_expires(app: Flask) -> None:
    first, second = Publisher(app), Publisher(app)
    first.run()
    with transaction(app) as s:
        row = s.get_one(SchedulerLease, RENDER_LEASE)
        row.expires_at = utcnow() - timedelta(seconds=1)  # the leader died silently
    assert second.run() is not None and second.leading
    assert first.run() is None  # the old leader, back, is now a standby


def test_release_hands_over_at_once(app: Flask) -> None:
    first, second = Publisher(app), Publisher(app)
    first.run()
    first.release()
    assert second.run() is not None


def test_watch_publishes_an_edit_between_ticks_only_when_leading(app: Flask) -> None:
    section = make_section(app)
    leader, standby = Publisher(app), Publisher(app)
    assert leader.run() is not None and standby.run() is None
    assert leader.watch() is None  # nothing edited: a look, no pass
    make_article(app, section, "Breaking")
    assert standby.watch() is None  # a standby never renders
    result = leader.watch()
    assert result is not None and result.sections_rendered == [section]
    with transaction(app, write=False) as s:
        assert b"Breaking" in s.get_one(FeedDocument, "sections/world-news/rss.xml").body
    assert leader.watch() is None  # published: nothing pending any more


def test_watch_and_tick_never_run_two_passes_at_once(app: Flask) -> None:
    section = make_section(app)
    publisher = Publisher(app)
    publisher.run()
    make_article(app, section, "Breaking")
    with publisher._changes:  # a tick's pass in progress
        assert publisher.watch() is None
        assert publisher.run_changes() is None
    result = publisher.run_changes()
    assert result is not None and result.sections_rendered == [section]


@pytest.mark.slow
def test_scheduler_process_publishes_an_edit_long_before_the_next_tick(
    app: Flask, tmp_path: Path
) -> None:
    section = make_section(app)
    url = app.config["DATABASE_URL"]
    env = {"FEEDSVC_TICK_SECONDS": "60", "FEEDSVC_LEASE_SECONDS": "120"}
    env |= {"FEEDSVC_WATCH_SECONDS": "0.1"}
    with scheduler(service_env(url, **env), tmp_path / "sched.log") as proc:

        def rendered(title: str) -> bool:
            with transaction(app, write=False) as s:
                doc = s.get(FeedDocument, "sections/world-news/rss.xml")
                return doc is not None and title.encode() in doc.body

        wait_for("the first tick", lambda: rendered(""))
        for title in ("First edit", "Second edit"):
            make_article(app, section, title)
            # The next tick is a minute away; the watch publishes within a fraction of it.
            wait_for(f"{title!r} in the feed", lambda t=title: rendered(t), timeout=15)
        proc.stop()
    assert "Traceback" not in proc.output()


def _rss(app: Flask) -> bytes:
    with transaction(app, write=False) as s:
        doc = s.get(FeedDocument, "sections/world-news/rss.xml")
        return doc.body if doc else b""


def _lease_row(app: Flask) -> SchedulerLease:
    with transaction(app, write=False) as s:
        row = s.get_one(SchedulerLease, RENDER_LEASE)
        s.expunge(row)
        return row


def test_every_pass_is_recorded_once_with_what_it_did(app: Flask) -> None:
    section = make_section(app)
    publisher = Publisher(app)
    publisher.run()  # the empty section's feeds and the site feeds
    first = _lease_row(app)
    assert first.passes_total == 1 and first.documents_changed_total == 7  # 3 + 3 + OPML
    assert first.last_error == "" and first.last_success_at is not None
    make_article(app, section, "Breaking")
    result = publisher.run()
    assert result is not None and result.documents_changed == 6
    second = _lease_row(app)
    assert second.passes_total == 2 and second.documents_changed_total == 13
    assert second.sections_rendered_total == 2
    assert second.last_success_at is not None and first.last_success_at is not None
    assert second.last_success_at >= first.last_success_at
    assert publisher.run() is not None  # nothing to do: still recorded, in its own commit
    third = _lease_row(app)
    assert third.passes_total == 3 and third.documents_changed_total == 13


def test_a_failed_last_write_is_recorded_as_a_failure(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc.publishing import store

    section = make_section(app)
    publisher = Publisher(app)
    publisher.run()
    before = _lease_row(app)
    make_article(app, section, "Breaking")

    def full_disk(*args: object, **kwargs: object) -> tuple[list[store.Stored], list[str]]:
        raise OSError("disk full")

    monkeypatch.setattr(store, "store_documents", full_disk)
    result = publisher.run()
    assert result is not None and result.failures and result.documents_changed == 0
    after = _lease_row(app)
    assert after.passes_total == before.passes_total + 1
    assert "disk full" in after.last_error
    assert after.last_success_at == before.last_success_at  # not a success
    assert after.documents_changed_total == before.documents_changed_total


def test_failed_section_keeps_last_good_feed_and_others_render(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_article(app, make_section(app))
    Publisher(app).run()
    with transaction(app, write=False) as s:
        good = s.get_one(FeedDocument, "sections/world-news/atom.xml").body
    make_article(app, make_section(app, "Business"), "Biz")
    from feedsvc.publishing import passes, snapshot

    real = snapshot.prepare_section

    def flaky(app_: Flask, section_id: int, as_of: datetime) -> snapshot.SectionDocs | None:
        if section_id == 1:
            raise RuntimeError("disk on fire")
        return real(app_, section_id, as_of)

    monkeypatch.setattr(passes, "prepare_section", flaky)
    with transaction(app) as s:
        bump_revision(s, 1)
    result = passes.run_pass(app)
    assert "section:1" in result.failures and 2 in result.sections_rendered
    with transaction(app, write=False) as s:
        assert s.get_one(FeedDocument, "sections/world-news/atom.xml").body == good
        assert s.get(FeedDocument, "sections/business/atom.xml") is not None


@pytest.mark.slow
def test_run_scheduler_process_publishes_and_stops_cleanly(app: Flask) -> None:
    env = service_env(
        app.config["DATABASE_URL"], FEEDSVC_TICK_SECONDS="0.5", FEEDSVC_LEASE_SECONDS="3"
    )
    section = make_section(app)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "feedsvc", "run-scheduler"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The first pass renders the section empty; the story must come with a later one.
        wait_for("the first pass", lambda: _rss(app) != b"")
        make_article(app, section, "Breaking")
        wait_for("the story in the section's feed", lambda: b"Breaking" in _rss(app))
    finally:
        proc.send_signal(signal.SIGINT)
        output = _finish(proc)
    assert proc.returncode == 0, output
    with transaction(app, write=False) as s:
        row = s.get_one(SchedulerLease, RENDER_LEASE)
        assert row.expires_at is not None and row.expires_at <= utcnow()  # released


def _finish(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """The process's output once it exits; killed (never left behind) if it does not."""
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f"still running {timeout} s after the signal:\n{output}") from None
    return output


# The signal lands while a job is being handed to the executor, which holds the executor's
# lock meanwhile (as ThreadPoolExecutor.submit does); stopping must still take that lock.
SIGNAL_DURING_SUBMIT = """
import concurrent.futures, os, signal, threading
from apscheduler.schedulers.background import BackgroundScheduler
from feedsvc import create_app
from feedsvc.publishing.scheduler import run_scheduler

submit = concurrent.futures.ThreadPoolExecutor.submit
shutdown = BackgroundScheduler.shutdown
fired = []
stopping = threading.Event()

def shutdown_seen(self, *args, **kwargs):
    stopping.set()
    return shutdown(self, *args, **kwargs)

def submit_under_a_signal(self, *args, **kwargs):
    if not fired:
        fired.append(True)
        with self._shutdown_lock:
            os.kill(os.getpid(), signal.SIGINT)
            # Hold the lock until the main thread, told to stop, is on its way to take it.
            stopping.wait(timeout=10)
    return submit(self, *args, **kwargs)

BackgroundScheduler.shutdown = shutdown_seen
concurrent.futures.ThreadPoolExecutor.submit = submit_under_a_signal
run_scheduler(create_app())
"""


@pytest.mark.slow
def test_a_signal_while_a_job_is_submitted_still_stops_the_scheduler(app: Flask) -> None:
    env = service_env(app.config["DATABASE_URL"])
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_DURING_SUBMIT],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _finish(proc)
    assert proc.returncode == 0, output
    assert "scheduler stopping (signal 2)" in output and "stopped" in output, output


def test_a_second_signal_during_the_lease_release_is_ignored(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make run` in a terminal: Ctrl-C reaches the whole group, then the runner sends SIGTERM,
    # which can land while the stopped scheduler is releasing its lease.
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    release = Publisher.release
    install = signal.signal
    second_handled = threading.Event()

    def install_recorded(signum: int, handler: Any) -> Any:
        def recorded(signum: int, frame: FrameType | None) -> None:
            handler(signum, frame)
            if signum == signal.SIGTERM:
                second_handled.set()

        return install(signum, recorded if callable(handler) else handler)

    def release_under_a_second_signal(self: Publisher) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        # The handler runs in this (the main) thread: wait until it has, then release.
        wait_for("the second signal's handler", second_handled.is_set, timeout=10)
        release(self)

    run_changes = Publisher.run_changes
    pressed = threading.Event()

    def run_then_ctrl_c(self: Publisher) -> PassResult | None:
        result = run_changes(self)
        if not pressed.is_set():  # the scheduler is running: its first tick is done
            pressed.set()
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(signal, "signal", install_recorded)
    monkeypatch.setattr(Publisher, "release", release_under_a_second_signal)
    monkeypatch.setattr(Publisher, "run_changes", run_then_ctrl_c)
    # Only if the scheduler never ran a tick: a test must not hang.
    fallback = threading.Timer(60, os.kill, (os.getpid(), signal.SIGINT))
    fallback.start()
    try:
        run_scheduler(app)  # returns (no exception) once stopped
    finally:
        fallback.cancel()
        for signum, handler in saved.items():
            install(signum, handler)
    with transaction(app, write=False) as s:
        row = s.get_one(SchedulerLease, RENDER_LEASE)
        assert row.expires_at is not None and row.expires_at <= utcnow()  # released
    assert pressed.is_set()


def test_a_pass_stops_when_the_lease_is_lost_midway(app: Flask) -> None:
    for name in ["A", "B", "C"]:
        make_section(app, name)
    answers = iter([True, False])
    result = run_pass(app, keep_leading=lambda: next(answers, False))
    # The second check said "no longer leader": nothing more is rendered, and what was
    # rendered but not yet stored is dropped, not written behind the new leader's back.
    assert result.sections_rendered == [] and not result.site_rendered
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(FeedDocument)) == 0
    assert len(run_pass(app).sections_rendered) == 3  # the new leader renders them all
