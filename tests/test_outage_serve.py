"""The real web server (granian, as `make run` starts it) through a database outage: feeds
it holds stay 200/304 with the same validators, pages 503 with Retry-After, /healthz 200
degraded, no 500 and no hang; when the database returns everything is normal again without a
restart."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask

from devtools.browser import Browser
from devtools.procs import free_port, http_get, service_env, serving, wait_for, web
from tests.support.app import EDITOR
from tests.support.dbfaults import Fault, ProxyFault, database_fault
from tests.support.factories import make_article, make_section
from tests.support.published import publish

pytestmark = pytest.mark.slow

HELD = [
    "/sections/world-news/atom.xml",
    "/sections/world-news/rss.xml",
    "/sections/world-news/feed.json",
    "/rss.xml",
    "/atom.xml",
]
NEVER_LOADED = "/sections/sport/feed.json"
PAGES = ["/", "/sections/world-news/", "/admin/", "/admin/login"]
# Generous bounds, far under what an unbounded wait would be (the OS's connect timeout, or
# forever for a connection that is accepted and never answered): DB_CONNECT_TIMEOUT is 2 s.
BOUND = 20.0
PHASE_SECONDS = 2.5


@pytest.fixture
def fault(database_url: str) -> Iterator[Fault]:
    with database_fault(database_url) as f:
        yield f


Answer = tuple[str, int, dict[str, str], bytes, float]


def _get(port: int, path: str, headers: dict[str, str]) -> Answer:
    started = time.monotonic()
    status, got, body = http_get(port, path, headers, timeout=BOUND * 2)
    return path, status, got, body, time.monotonic() - started


def _round(port: int, cookie: str, validators: dict[str, str]) -> list[Answer]:
    """Every kind of request at once, eight at a time (the worker has four threads)."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for path in HELD:
        jobs += [(path, {}), (path, {"If-None-Match": validators[path]})]
    jobs += [(path, {"Cookie": cookie}) for path in PAGES]
    jobs += [(NEVER_LOADED, {}), ("/healthz", {}), ("/healthz", {"Cookie": cookie})]
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda job: _get(port, *job), jobs))


def _assert_outage_round(answers: list[Answer], held: dict[str, bytes]) -> None:
    for path, status, headers, body, seconds in answers:
        assert seconds < BOUND, (path, seconds)
        if path in HELD:
            assert status in (200, 304), (path, status)
            if status == 200:
                assert body == held[path]
        elif path == "/healthz":
            assert status == 200, body
            assert b'"status":"degraded"' in body and b'"database":"unreachable"' in body
        else:
            assert status == 503, (path, status, body[:200])
            assert int(headers["retry-after"]) >= 1


def test_the_web_server_serves_held_feeds_through_an_outage_and_recovers(
    app: Flask, fault: Fault, tmp_path: Path
) -> None:
    make_article(app, make_section(app), "Before the outage")
    make_article(app, make_section(app, "Sport"), "Also before")
    publish(app)
    port = free_port()
    env = service_env(
        fault.url,
        port=port,
        WEB_CONCURRENCY="1",  # one worker: the test knows which documents it holds
        FEEDSVC_POLL_MIN_INTERVAL="0",
        FEEDSVC_DB_RETRY_SECONDS="0.5",
        FEEDSVC_DB_CONNECT_TIMEOUT="2",
    )
    with serving(web(env, tmp_path / "web.log"), port) as server:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.submit("/admin/login", {"Username": EDITOR[0], "Password": EDITOR[1]})
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        assert _get(port, "/admin/", {"Cookie": cookie})[1] == 200
        held: dict[str, bytes] = {}
        validators: dict[str, str] = {}
        for path in HELD:
            _path, status, headers, body, _s = _get(port, path, {})
            assert status == 200
            held[path], validators[path] = body, headers["etag"]

        phases = [fault.cut]
        if isinstance(fault, ProxyFault):
            phases.append(fault.blackhole)  # accepted, never answered: the connect timeout
        for phase in phases:
            phase()
            until = time.monotonic() + PHASE_SECONDS
            while time.monotonic() < until:
                answers = _round(port, cookie, validators)
                _assert_outage_round(answers, held)
                # Conditional polls keep their 304 with the held ETag.
                assert any(a[1] == 304 for a in answers)
                assert all(a[2]["etag"] == validators[a[0]] for a in answers if a[0] in HELD)

        fault.restore()
        wait_for(
            "the pages back",
            lambda: _get(port, "/", {})[1] == 200 and _get(port, NEVER_LOADED, {})[1] == 200,
            timeout=BOUND,
        )
        assert _get(port, "/admin/", {"Cookie": cookie})[1] == 200  # the same session
        health = _get(port, "/healthz", {})
        assert health[1] == 200 and b'"database":"ok"' in health[3]
        for path in HELD:
            assert _get(port, path, {"If-None-Match": validators[path]})[1] == 304
        server.stop()
        output = server.output()
    assert "Traceback" not in output, output[-4000:]
    assert not re.search(r'" 500 ', output), output[-4000:]
    assert output.count("database unreachable") == 1, output[-4000:]
    assert output.count("database reachable again") == 1, output[-4000:]
