"""/healthz: status and ages for anyone; leader host, pid and error text only for this
machine or a logged-in admin; never a stored copy."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.limits import ROLE_ADMIN
from feedsvc.publishing.scheduler import Publisher
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import RENDER_LEASE, SchedulerLease, User
from feedsvc.users import create_user
from feedsvc.web.health import is_local_address
from tests.support.app import make_app, unmigrated_app
from tests.support.forms import AuthActions

REMOTE = "203.0.113.7"  # RFC 5737: a documentation address, never this machine
ERROR = "render failed: /srv/feedsvc/instance/secret_path is not writable"
PUBLIC_KEYS = {"status", "database", "scheduler"}
PUBLIC_SCHEDULER_KEYS = {"ok", "age_seconds"}


def _health(
    client: FlaskClient, address: str, query: str = "", **headers: str
) -> dict[str, object]:
    response = client.get(
        "/healthz" + query, headers=headers, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert isinstance(data, dict)
    return data


@pytest.fixture
def published(app: Flask) -> str:
    """A publishing pass has run, and failed before that: the lease row has all there is.

    The holder (host:pid) of the leader is returned."""
    publisher = Publisher(app)
    publisher.run()
    with transaction(app) as s:
        lease = s.get(SchedulerLease, RENDER_LEASE)
        assert lease is not None
        lease.last_error = ERROR
    return publisher.holder


def _assert_public(data: dict[str, object], holder: str) -> None:
    assert set(data) == PUBLIC_KEYS
    scheduler = data["scheduler"]
    assert isinstance(scheduler, dict) and set(scheduler) == PUBLIC_SCHEDULER_KEYS
    text = str(data)
    for secret in (holder, holder.split(":")[0], socket.gethostname(), ERROR, "secret_path"):
        assert secret not in text


def test_anyone_gets_status_and_ages_only(client: FlaskClient, published: str) -> None:
    for query in ("", "?detail=1", "?detail=true"):
        data = _health(client, REMOTE, query)
        _assert_public(data, published)
        assert data["status"] == "ok" and data["database"] == "ok"
        scheduler = data["scheduler"]
        assert isinstance(scheduler, dict)
        assert scheduler["ok"] is True
        assert isinstance(scheduler["age_seconds"], float) and 0 <= scheduler["age_seconds"] < 5


def test_before_any_pass_the_public_answer_says_degraded(client: FlaskClient) -> None:
    data = _health(client, REMOTE)
    assert data == {
        "status": "degraded",
        "database": "ok",
        "scheduler": {"ok": False, "age_seconds": None},
    }


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_this_machine_gets_the_detail_when_it_asks(
    client: FlaskClient, published: str, address: str
) -> None:
    _assert_public(_health(client, address), published)  # not asked: the public answer
    data = _health(client, address, "?detail=1")
    scheduler = data["scheduler"]
    assert isinstance(scheduler, dict)
    assert scheduler["leader"] == published
    assert scheduler["last_error"] == ERROR
    assert isinstance(scheduler["last_success"], str)
    assert scheduler["ok"] is True


@pytest.mark.parametrize("address", ["127.0.0.2", "10.0.0.1", "::2", "", "unix-socket"])
def test_other_addresses_are_not_this_machine(address: str) -> None:
    # 127.0.0.1 and ::1 only, as deploy/nginx.conf's `allow 127.0.0.1` for /metrics.
    assert not is_local_address(address)


def test_127_0_0_2_is_answered_as_the_public(client: FlaskClient, published: str) -> None:
    _assert_public(_health(client, "127.0.0.2", "?detail=1"), published)


def test_a_request_through_an_undeclared_proxy_is_not_local(
    client: FlaskClient, published: str
) -> None:
    # TRUSTED_PROXIES 0 but nginx in front anyway: every visitor connects from 127.0.0.1.
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        data = _health(client, "127.0.0.1", "?detail=1", **{header: REMOTE})
        _assert_public(data, published)


def test_behind_a_trusted_proxy_the_forwarded_client_decides(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app = make_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    request.addfinalizer(database(app).dispose)
    Publisher(app).run()
    client = app.test_client()
    with transaction(app, write=False) as s:
        lease = s.get(SchedulerLease, RENDER_LEASE)
        assert lease is not None
        holder = lease.holder
    # nginx connects from 127.0.0.1 and appends the client's address.
    remote = _health(client, "127.0.0.1", "?detail=1", **{"X-Forwarded-For": REMOTE})
    _assert_public(remote, holder)
    # A forged "127.0.0.1" first in the list is not believed: only the last hop is.
    forged = _health(
        client, "127.0.0.1", "?detail=1", **{"X-Forwarded-For": f"127.0.0.1, {REMOTE}"}
    )
    _assert_public(forged, holder)
    local = _health(client, "127.0.0.1", "?detail=1", **{"X-Forwarded-For": "127.0.0.1"})
    scheduler = local["scheduler"]
    assert isinstance(scheduler, dict) and scheduler["leader"] == holder


def _login(app: Flask, username: str, *, admin: bool) -> FlaskClient:
    password = "correct horse battery staple"
    with transaction(app) as s:
        user = create_user(s, username, password)
        if admin:
            user.role = ROLE_ADMIN
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = REMOTE
    response = AuthActions(client).login(username, password)
    assert response.status_code == 302
    return client


def test_a_logged_in_admin_gets_the_detail_from_anywhere(app: Flask, published: str) -> None:
    admin = _login(app, "chief", admin=True)
    data = _health(admin, REMOTE, "?detail=1")
    scheduler = data["scheduler"]
    assert isinstance(scheduler, dict)
    assert scheduler["leader"] == published and scheduler["last_error"] == ERROR
    _assert_public(_health(admin, REMOTE), published)  # not asked for


def test_an_editor_or_a_disabled_admin_gets_the_public_answer(app: Flask, published: str) -> None:
    editor = _login(app, "reporter", admin=False)
    _assert_public(_health(editor, REMOTE, "?detail=1"), published)
    admin = _login(app, "former", admin=True)
    with transaction(app) as s:
        user = s.query(User).filter_by(username="former").one()
        user.disabled_at = user.created_at
    _assert_public(_health(admin, REMOTE, "?detail=1"), published)


def test_database_down_says_unreachable_and_no_more_in_public(tmp_path: Path) -> None:
    # A SQLite file in a folder that does not exist: every connection attempt fails.
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'feedsvc.sqlite3'}"
    app = unmigrated_app(url, tmp_path)
    client = app.test_client()
    for address, query in ((REMOTE, ""), (REMOTE, "?detail=1"), ("127.0.0.1", "")):
        response = client.get("/healthz" + query, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 503
        assert response.headers["Cache-Control"] == "no-store"
        assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    response = client.get("/healthz?detail=1", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "unreachable",
        "error": "OperationalError: unable to open database file",
    }
