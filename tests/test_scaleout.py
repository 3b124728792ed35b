"""Several real processes on one database: one leader renders, standbys take over, web
instances agree, and concurrent writers lose nothing."""

from __future__ import annotations

import multiprocessing
import re
import signal
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from sqlalchemy import func, select

from devtools.browser import Browser
from devtools.procs import QUICK, Proc, free_port, scheduler, service_env, wait_for, web
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import transaction
from feedsvc.storage.models import RENDER_LEASE, Article, FeedDocument, SchedulerLease
from tests.support.app import EDITOR
from tests.support.factories import make_article, make_section

pytestmark = pytest.mark.slow


def _scheduler(app: Flask, log: Path, **env: str) -> Proc:
    return scheduler(service_env(app.config["DATABASE_URL"], **(QUICK | env)), log)


def _web(app: Flask, port: int, log: Path) -> Proc:
    # The tests poll a feed unconditionally every 50 ms until it changes: no polling limit.
    env = service_env(
        app.config["DATABASE_URL"],
        port=port,
        WEB_CONCURRENCY="2",
        FEEDSVC_POLL_MIN_INTERVAL="0",
        **QUICK,
    )
    return web(env, log)


def _feed_has(app: Flask, title: str, path: str = "sections/world-news/rss.xml") -> bool:
    with transaction(app, write=False) as s:
        doc = s.get(FeedDocument, path)
        return doc is not None and title.encode() in doc.body


def _leader(app: Flask) -> str:
    with transaction(app, write=False) as s:
        row = s.get(SchedulerLease, RENDER_LEASE)
        return row.holder if row is not None else ""


def _passes(app: Flask) -> int:
    """Publishing passes the leaders have run so far (one per tick, changed or not)."""
    with transaction(app, write=False) as s:
        row = s.get(SchedulerLease, RENDER_LEASE)
        return row.passes_total if row is not None else 0


def _renders(output: str) -> int:
    return sum(int(n) for n in re.findall(r"rendered (\d+) section", output))


def test_two_schedulers_render_each_change_once(app: Flask, tmp_path: Path) -> None:
    section = make_section(app)
    run_pass(app)  # nothing is due when the schedulers start
    with _scheduler(app, tmp_path / "a.log") as a, _scheduler(app, tmp_path / "b.log") as b:
        wait_for("a leader", lambda: _leader(app))
        for i in range(3):
            make_article(app, section, f"Change {i}")
            wait_for(f"change {i} in the feed", lambda i=i: _feed_has(app, f"Change {i}"))
            # Two more passes: a second render of the same change would show up in a log.
            done = _passes(app)
            wait_for("two more passes", lambda done=done: _passes(app) >= done + 2)
        a.stop()
        b.stop()
        logs = a.output() + b.output()
    assert _renders(a.output()) + _renders(b.output()) == 3, logs
    assert "is now the leader" in logs and "Traceback" not in logs


def test_standby_takes_over_after_kill_9(app: Flask, tmp_path: Path) -> None:
    section = make_section(app)
    with _scheduler(app, tmp_path / "a.log") as a, _scheduler(app, tmp_path / "b.log") as b:
        holder = wait_for("a leader", lambda: _leader(app))
        pid = int(holder.split(":")[1])
        leader, standby = (a, b) if pid == a.pid else (b, a)
        assert pid in (a.pid, b.pid)
        leader.stop(signal.SIGKILL)
        make_article(app, section, "After the crash")
        # Takes the lease once it lapses (2 s) and publishes at its next tick (0.3 s); the
        # timeout only bounds the wait on a busy machine.
        wait_for("the standby to publish", lambda: _feed_has(app, "After the crash"))
        new_holder = _leader(app)
        assert int(new_holder.split(":")[1]) == standby.pid
        client = app.test_client()
        health = client.get("/healthz?detail=1").get_json()  # the test client is 127.0.0.1
        assert health["scheduler"]["leader"] == new_holder


def test_two_web_instances_agree_within_the_freshness_window(app: Flask, tmp_path: Path) -> None:
    port_a, port_b = free_port(), free_port()
    with (
        _web(app, port_a, tmp_path / "web-a.log") as web_a,
        _web(app, port_b, tmp_path / "web-b.log") as web_b,
        _scheduler(app, tmp_path / "sched.log"),
    ):
        a, b = Browser(f"http://127.0.0.1:{port_a}"), Browser(f"http://127.0.0.1:{port_b}")
        wait_for("instance A", lambda: a.get("/healthz")[0] == 200)
        wait_for("instance B", lambda: b.get("/healthz")[0] == 200)
        # Each submit raises FormRejected unless the server saved it and redirected onwards.
        a.submit("/admin/login", {"Username": EDITOR[0], "Password": EDITOR[1]})
        a.submit("/admin/sections/new", {"Name": "World News"}, lands_on="/admin/sections/")
        page = a.submit(
            "/admin/articles/new",
            {"Title": "Posted on A", "Body": "Read on B."},
            lands_on="/admin/",
        )
        assert page.status == 200 and b"Article saved: Posted on A" in page.body

        def on_b() -> bool:
            status, body = b.get("/sections/world-news/atom.xml")
            return status == 200 and any(
                e.title == "Posted on A" for e in feedparser.parse(body).entries
            )

        # Watch 0.2 s (or tick 0.3 s) + document cache 0.25 s + render time: about a second;
        # the timeout only bounds the wait on a busy machine.
        wait_for("the article on instance B", on_b)
        web_a.stop(signal.SIGTERM)
        web_b.stop(signal.SIGTERM)
        assert "Traceback" not in web_a.output() + web_b.output()


def _writer(url: str, instance: str, section_id: int, count: int, errors: object) -> None:
    from feedsvc import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "a-test-secret-key-of-enough-length",
            "SITE_URL": "http://feeds.example.org",
        }
    )
    for i in range(count):
        try:
            make_article(app, section_id, f"{instance[-6:]} {i}")
        except Exception as exc:  # counted, and the test fails on any
            errors.put(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def test_eight_concurrent_writers_and_a_renderer_lose_nothing(app: Flask, tmp_path: Path) -> None:
    section = make_section(app)
    url = app.config["DATABASE_URL"]
    writers, per_writer = 8, 25
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    with _scheduler(app, tmp_path / "sched.log", FEEDSVC_TICK_SECONDS="0.2") as sched:
        procs = [
            ctx.Process(
                target=_writer,
                args=(url, str(tmp_path / f"inst{n:05d}"), section, per_writer, errors),
            )
            for n in range(writers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert found == []
        assert all(p.exitcode == 0 for p in procs)
        with transaction(app, write=False) as s:
            assert s.scalar(select(func.count()).select_from(Article)) == writers * per_writer
        # The renderer catches up; the site feed carries the newest 50.
        wait_for(
            "the last articles in the feed",
            lambda: _feed_has(app, " 24", path="sections/world-news/atom.xml"),
            timeout=15,
        )
        sched.stop()
        assert "locked" not in sched.output() and "Traceback" not in sched.output()
