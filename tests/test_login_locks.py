"""The password hash runs with no database transaction open: logins never stall publishing.

scrypt takes about 0.1 s of CPU. Before, it ran on the request's session, which for a
POST on SQLite holds the write lock (BEGIN IMMEDIATE), so a flood of logins queued every
publishing write behind it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

import feedsvc.users
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import User
from tests.support.app import EDITOR
from tests.support.factories import make_article, make_section
from tests.support.forms import submit
from tests.support.logins import WRONG


def _write_lock_free(app: Flask) -> bool:
    """SQLite: whether another connection could take the write lock right now (no waiting)."""
    path = make_url(app.config["DATABASE_URL"]).database
    probe = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked"
        return False
    finally:
        probe.close()


def _spy_on_hash(monkeypatch: pytest.MonkeyPatch, during: Callable[[], None]) -> list[Any]:
    calls: list[Any] = []
    real = feedsvc.users.check_password_hash

    def spy(stored: str, password: str) -> bool:
        calls.append(during())
        return real(stored, password)

    monkeypatch.setattr(feedsvc.users, "check_password_hash", spy)
    return calls


def test_the_probe_sees_a_transaction_when_one_is_open(app: Flask) -> None:
    """The checks below are not vacuous: inside a write transaction they do fire."""
    with transaction(app) as s:
        s.execute(select(User.id))
        assert database(app).engine.pool.checkedout() == 1
        if app.config["DATABASE_URL"].startswith("sqlite"):
            assert not _write_lock_free(app)
    assert database(app).engine.pool.checkedout() == 0


@pytest.mark.parametrize(
    ("username", "password", "status"),
    [(EDITOR[0], EDITOR[1], 302), (EDITOR[0], WRONG, 200), ("nobody", WRONG, 200)],
)
def test_no_connection_is_held_while_the_password_hashes(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    password: str,
    status: int,
) -> None:
    sqlite = app.config["DATABASE_URL"].startswith("sqlite")

    def during() -> tuple[int, bool]:
        return database(app).engine.pool.checkedout(), _write_lock_free(app) if sqlite else True

    calls = _spy_on_hash(monkeypatch, during)
    response = submit(client, "/admin/login", {"Username": username, "Password": password})
    assert response.status_code == status
    # One hash, and while it ran no connection was checked out: no transaction of any kind.
    assert calls == [(0, True)]


def test_no_connection_is_held_while_a_logged_in_user_logs_in_again(
    app: Flask, editor: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a session cookie, load_user reads the user first: in a session it closes again."""
    calls = _spy_on_hash(monkeypatch, lambda: database(app).engine.pool.checkedout())
    response = submit(editor, "/admin/login", {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert response.status_code == 302
    assert calls == [0]


def test_a_publishing_write_goes_through_while_logins_hash(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four logins parked in the middle of their hashes; an article is written meanwhile."""
    logins = 4
    section = make_section(app)
    all_inside = threading.Barrier(logins + 1)
    release = threading.Event()
    real = feedsvc.users.check_password_hash

    def parked_hash(stored: str, password: str) -> bool:
        all_inside.wait(timeout=30)
        release.wait(timeout=30)
        return real(stored, password)

    monkeypatch.setattr(feedsvc.users, "check_password_hash", parked_hash)
    clients = [app.test_client() for _ in range(logins)]
    pages = [c.get("/admin/login") for c in clients]  # GETs never hash
    statuses: list[int] = []

    def log_in(client: FlaskClient, page: Any) -> None:
        fields = {"Username": EDITOR[0], "Password": EDITOR[1]}
        statuses.append(submit(client, page, fields).status_code)

    threads = [
        threading.Thread(target=log_in, args=(c, p)) for c, p in zip(clients, pages, strict=True)
    ]
    for t in threads:
        t.start()
    try:
        all_inside.wait(timeout=30)  # every login is inside its hash now
        started = time.monotonic()
        make_article(app, section, "Published during a login flood")
        took = time.monotonic() - started
    finally:
        release.set()
        for t in threads:
            t.join(timeout=30)
    # A login holding SQLite's write lock would make this write wait its 30 s busy timeout.
    assert took < 5, took
    assert statuses == [302] * logins
