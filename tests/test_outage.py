"""Serving through a database outage, in process: held feeds keep their bytes and validators,
everything else answers 503 with Retry-After, the database is re-checked at a bounded rate,
and all of it recovers by itself. PostgreSQL through a TCP proxy, SQLite made unreadable."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text
from werkzeug.test import TestResponse

from devtools.procs import wait_for
from feedsvc.limits import ROLE_ADMIN
from feedsvc.settings import SettingsError
from feedsvc.storage.db import database, get_session, transaction
from feedsvc.storage.models import Section
from feedsvc.users import create_user
from tests.support.apiclient import Api, error, new_token
from tests.support.app import EDITOR, make_app
from tests.support.dbfaults import Fault, ProxyFault, database_fault
from tests.support.factories import make_article, make_section
from tests.support.forms import AuthActions
from tests.support.published import publish

HELD = ["/sections/world-news/atom.xml", "/sections/world-news/rss.xml", "/rss.xml"]
NEVER_LOADED = "/sections/world-news/feed.json"
PAGES = ["/", "/sections/world-news/", "/admin/login"]
# Generous: the connect timeout is 2 s; without it the wait would be unbounded.
BOUND = 20.0


@pytest.fixture
def fault(database_url: str) -> Iterator[Fault]:
    with database_fault(database_url) as f:
        yield f


def _app(fault: Fault, tmp_path: Path, **overrides: Any) -> Flask:
    app = make_app(
        fault.url,
        tmp_path,
        DB_RETRY_SECONDS=0.25,
        DB_CONNECT_TIMEOUT=2.0,
        # The document cache's own interval, as in production: the outage must not depend
        # on the tests' "always check" setting.
        DOCUMENT_CACHE_SECONDS=0.25,
        **overrides,
    )
    with transaction(app) as s:
        create_user(s, *EDITOR, role=ROLE_ADMIN)
    section = make_section(app)
    make_article(app, section, "Before the outage")
    publish(app)
    return app


@pytest.fixture
def app(fault: Fault, tmp_path: Path) -> Iterator[Flask]:
    app = _app(fault, tmp_path)
    yield app
    database(app).dispose()


def _warm(client: FlaskClient) -> dict[str, TestResponse]:
    held = {path: client.get(path) for path in HELD}
    assert all(r.status_code == 200 for r in held.values())
    return held


def _assert_unavailable_page(response: TestResponse) -> None:
    assert response.status_code == 503, (response.request.path, response.status_code)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.mimetype == "text/html"
    assert "database is not answering" in response.get_data(as_text=True)


def test_held_feeds_keep_serving_and_the_rest_answers_503_until_it_returns(
    app: Flask, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    admin = app.test_client()
    AuthActions(admin).login()
    assert admin.get("/admin/").status_code == 200
    api = Api(app.test_client(), new_token(app))
    held = _warm(client)

    caplog.set_level(logging.INFO, logger=app.logger.name)
    fault.cut()
    for path, before in held.items():
        again = client.get(path)
        assert again.status_code == 200
        assert again.get_data() == before.get_data()
        assert again.headers["ETag"] == before.headers["ETag"]
        assert again.headers["Last-Modified"] == before.headers["Last-Modified"]
        # Readers' conditional polls still get 304 from the held validators.
        assert (
            client.get(path, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
        )
        since = {"If-Modified-Since": before.headers["Last-Modified"]}
        assert client.get(path, headers=since).status_code == 304
    # A feed this worker never loaded: 503 (come back), not 404 (gone) nor 500.
    missing = client.get(NEVER_LOADED)
    assert missing.status_code == 503 and int(missing.headers["Retry-After"]) >= 1
    for path in PAGES:
        _assert_unavailable_page(client.get(path))
    # The admin with a session cookie: the same page, not a 500, not a redirect to log in.
    _assert_unavailable_page(admin.get("/admin/"))
    _assert_unavailable_page(admin.get("/admin/sections/"))
    payload = error(api.get("/sections"), 503)
    assert payload["error"] == "unavailable"
    assert int(api.get("/sections").headers["Retry-After"]) >= 1

    health = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert health.status_code == 200  # feeds-only service: a load balancer keeps it
    assert health.get_json() == {"status": "degraded", "database": "unreachable"}
    detail = admin.get("/healthz?detail=1").get_json()  # the test client is 127.0.0.1
    assert detail["documents_held"] == len(HELD) and detail["error"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert b"feedsvc_database_reachable 0.0" in metrics.get_data()

    fault.restore()
    wait_for("pages again", lambda: client.get("/").status_code == 200, timeout=BOUND)
    assert admin.get("/admin/").status_code == 200  # the session survived the outage
    assert api.get("/sections").status_code == 200
    assert client.get("/healthz").get_json()["database"] == "ok"
    assert client.get(NEVER_LOADED).status_code == 200
    assert b"feedsvc_database_reachable 1.0" in client.get("/metrics").get_data()
    messages = [r.getMessage() for r in caplog.records]
    # Once per transition, not once per request.
    assert sum("database unreachable" in m for m in messages) == 1, messages
    assert sum("database reachable again" in m for m in messages) == 1, messages
    assert not any(r.levelno >= logging.ERROR for r in caplog.records), messages


def _attempts(app: Flask, fault: Fault) -> Callable[[], int]:
    """How many times the app has tried the database: connections the proxy accepted
    (PostgreSQL), statements SQLite was given."""
    if isinstance(fault, ProxyFault):
        return lambda: fault.proxy.accepted
    count = [0]

    def seen(*_args: object) -> None:
        count[0] += 1

    event.listen(database(app).engine, "before_cursor_execute", seen)
    return lambda: count[0]


def test_the_database_is_rechecked_at_a_bounded_rate_not_per_request(
    app: Flask, fault: Fault
) -> None:
    client = app.test_client()
    _warm(client)
    attempts = _attempts(app, fault)
    fault.cut()
    assert client.get("/").status_code == 503  # the worker now knows
    before, started = attempts(), time.monotonic()
    requests = 0
    while requests < 300:
        for path in (*HELD, "/", "/admin/", NEVER_LOADED, "/healthz"):
            assert client.get(path).status_code in (200, 503)
            requests += 1
    elapsed = time.monotonic() - started
    tried = attempts() - before
    # One re-check per DB_RETRY_SECONDS (0.25 s), each at most a few tries: however slow
    # the machine, far fewer than one per request.
    assert tried <= 4 * (elapsed / 0.25 + 2), (tried, elapsed)
    assert tried < requests / 5, (tried, requests)
    fault.restore()
    wait_for("pages again", lambda: client.get("/").status_code == 200, timeout=BOUND)


def test_a_black_holed_database_costs_one_thread_the_connect_timeout_and_no_one_else(
    app: Flask, fault: Fault
) -> None:
    if not isinstance(fault, ProxyFault):
        pytest.skip("a black hole is a network fault: PostgreSQL only")
    client = app.test_client()
    held = _warm(client)
    fault.blackhole()
    # Up until now: this request finds out, within the connect timeout, and says 503.
    started = time.monotonic()
    _assert_unavailable_page(client.get("/"))
    assert time.monotonic() - started < BOUND
    # Now known down: once DB_RETRY_SECONDS have passed one request re-checks and hangs in
    # the black hole for the connect timeout, while everyone else is answered meanwhile.
    time.sleep(0.3)
    answers: list[int] = []
    checker = threading.Thread(
        target=lambda: answers.append(app.test_client().get("/").status_code)
    )
    accepted = fault.proxy.accepted
    checker.start()
    wait_for("the re-check to reach the black hole", lambda: fault.proxy.accepted > accepted)
    for path, before in held.items():
        assert client.get(path).get_data() == before.get_data()
    _assert_unavailable_page(client.get("/sections/world-news/"))
    assert client.get("/healthz").status_code == 200
    assert checker.is_alive()  # everything above was answered while the check still hung
    checker.join(BOUND)
    assert not checker.is_alive() and answers == [503]
    fault.restore()
    wait_for("pages again", lambda: client.get("/").status_code == 200, timeout=BOUND)


def test_a_statement_over_the_web_timeout_is_a_503_and_the_scheduler_has_none(
    database_url: str, fault: Fault, tmp_path: Path
) -> None:
    if not isinstance(fault, ProxyFault):
        pytest.skip("statement_timeout is PostgreSQL's")
    app = _app(fault, tmp_path, DB_STATEMENT_TIMEOUT=0.5)
    client = app.test_client()
    held = _warm(client)
    locker = create_engine(database_url)
    try:
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE sections IN ACCESS EXCLUSIVE MODE"))
            page = client.get("/")
            _assert_unavailable_page(page)  # statement_timeout cancelled the wait: 503
            # A slow statement is no outage: feeds, health and other tables go on as before.
            assert client.get("/healthz").get_json()["database"] == "ok"
            assert client.get(HELD[0]).get_data() == held[HELD[0]].get_data()
            waited: list[float] = []

            def scheduler_read() -> None:
                started = time.monotonic()
                with transaction(app, write=False) as s:
                    s.scalar(select(Section.id))
                waited.append(time.monotonic() - started)

            job = threading.Thread(target=scheduler_read)
            job.start()
            time.sleep(1.5)  # three times the web's timeout
            assert job.is_alive()  # still waiting for the lock: no timeout outside requests
            conn.rollback()  # the lock goes
        job.join(BOUND)
        assert not job.is_alive() and waited and waited[0] >= 1.0
        assert client.get("/").status_code == 200
    finally:
        locker.dispose()
        database(app).dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_CONNECT_TIMEOUT", 1),
        ("DB_CONNECT_TIMEOUT", -3),
        ("DB_STATEMENT_TIMEOUT", -1),
        ("DB_POOL_TIMEOUT", 0),
        ("DB_RETRY_SECONDS", 0),
        ("DB_RETRY_SECONDS", 86_400),
    ],
)
def test_database_waits_out_of_range_stop_the_start(
    instance: Path, tmp_path: Path, name: str, value: float
) -> None:
    from feedsvc import settings

    with pytest.raises(SettingsError) as caught:
        settings.load(instance, {name: value})
    assert name in str(caught.value)


def test_sqlite_web_readers_wait_less_for_a_lock_and_writers_keep_30_s(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'busy.sqlite3'}", tmp_path, DB_STATEMENT_TIMEOUT=2.5)
    busy = text("PRAGMA busy_timeout")
    try:
        with app.test_request_context("/"):
            assert get_session().scalar(busy) == 2500  # a page's reads
        with app.test_request_context("/admin/articles/new", method="POST"):
            assert get_session().scalar(busy) == 30_000  # a form's write
        with transaction(app, write=False) as s:
            assert s.scalar(busy) == 30_000  # the scheduler's and the commands' work
    finally:
        database(app).dispose()
