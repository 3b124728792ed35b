"""Revocable sessions: a copied cookie stops working after logout, a password change,
disabling, idle and absolute expiry, on every instance; the session id rotates at login."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update

from devtools.browser import Browser
from devtools.procs import free_port, service_env, serving, web
from feedsvc.settings import SettingsError
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import User
from feedsvc.users import create_user
from feedsvc.web import logins
from tests.support.app import EDITOR, make_app
from tests.support.forms import AuthActions, form_values, labelled_fields, submit

ENDED = "Your session has ended"


class Clock:
    """The time the session checks read (logins.clock), moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
        monkeypatch.setattr(logins, "clock", lambda: self.now)

    def advance(self, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += minutes * 60 + hours * 3600


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/admin/")
    if response.status_code == 302:
        assert "/admin/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    assert "Log out editor" in response.get_data(as_text=True)
    return True


def steal(victim: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser (or app instance) holding a copy of the victim's session cookie."""
    cookie = victim.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def login_page_says(client: FlaskClient, text: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    assert text in page, page


def bump_version(app: Flask, username: str = EDITOR[0]) -> None:
    """What a password change does to the account (besides the new hash)."""
    with transaction(app) as s:
        s.execute(
            update(User)
            .where(User.username == username)
            .values(session_version=User.session_version + 1)
        )


# --- a stolen cookie -----------------------------------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(
    app: Flask, editor: FlaskClient, auth: AuthActions
) -> None:
    thief = steal(editor, app)
    assert logged_in(thief)
    response = auth.logout()
    assert response.status_code == 302
    login_page_says(editor, "You are logged out, on every device.")
    assert not logged_in(thief)
    login_page_says(thief, ENDED)
    # The ended session's cookie was cleared, so the thief's next request is anonymous.
    assert not logged_in(thief)


def test_logout_ends_every_session_of_the_user(app: Flask, auth: AuthActions) -> None:
    phone, laptop = app.test_client(), app.test_client()
    for device in (phone, laptop):
        assert AuthActions(device).login().status_code == 302
    assert AuthActions(phone).logout().status_code == 302
    assert not logged_in(laptop)


def test_a_copied_cookie_stops_working_after_a_password_change(
    app: Flask, editor: FlaskClient
) -> None:
    thief = steal(editor, app)
    bump_version(app)
    assert not logged_in(thief)
    assert not logged_in(editor)


def test_a_copied_cookie_stops_working_when_the_account_is_disabled(
    app: Flask, editor: FlaskClient
) -> None:
    thief = steal(editor, app)
    with transaction(app) as s:
        s.execute(update(User).values(disabled_at=datetime.now(UTC)))
    assert not logged_in(thief)
    # And a disabled account cannot log in again.
    response = AuthActions(app.test_client()).login()
    assert response.status_code == 200
    assert "do not match" in response.get_data(as_text=True)


def test_a_deleted_account_has_no_session(app: Flask, editor: FlaskClient) -> None:
    with transaction(app) as s:
        s.execute(delete(User))
    assert not logged_in(editor)


def test_another_users_logout_ends_only_their_sessions(app: Flask, editor: FlaskClient) -> None:
    bump_version(app, "someone-else")  # no such row: nothing changes for the editor
    assert logged_in(editor)


# --- idle and absolute expiry ---------------------------------------------------------------


def test_twelve_idle_hours_end_a_session(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login()
    clock.advance(hours=11, minutes=59)
    assert logged_in(client)  # a request: the idle time starts again
    clock.advance(hours=11, minutes=59)
    assert logged_in(client)
    clock.advance(hours=12)
    assert not logged_in(client)
    login_page_says(client, "Your session ended after 12 hours without a request")


def test_a_login_page_shown_before_the_session_ended_still_logs_in(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login()
    page = client.get("/admin/login")  # the session is live while this page is shown
    clock.advance(hours=13)
    response = submit(client, page, {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert response.status_code == 302
    assert logged_in(client)


def test_seven_days_end_even_a_busy_session(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login()
    for _ in range(16):  # a request every 10 hours: never idle, 160 hours in all
        clock.advance(hours=10)
        assert logged_in(client)
    clock.advance(hours=7, minutes=59)
    assert logged_in(client)  # 167:59 after the login
    clock.advance(minutes=1)
    assert not logged_in(client)
    login_page_says(client, "Your session ended 7 days after you logged in")


def test_idle_and_absolute_limits_are_settings(tmp_path: Path, clock: Clock) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        SESSION_IDLE_MINUTES=30,
        SESSION_MAX_HOURS=2,
    )
    with transaction(app) as s:
        create_user(s, *EDITOR)
    client = app.test_client()
    AuthActions(client).login()
    clock.advance(minutes=29)
    assert logged_in(client)
    clock.advance(minutes=30)
    assert not logged_in(client)
    login_page_says(client, "after 30 minutes without a request")
    AuthActions(client).login()
    for _ in range(4):
        clock.advance(minutes=29)
        assert logged_in(client)
    clock.advance(minutes=4)  # 2 hours after this login
    assert not logged_in(client)
    login_page_says(client, "2 hours after you logged in")


@pytest.mark.parametrize(("name", "value"), [("SESSION_IDLE_MINUTES", 0), ("SESSION_MAX_HOURS", 0)])
def test_session_limits_below_one_are_refused(tmp_path: Path, name: str, value: int) -> None:
    with pytest.raises(SettingsError, match=name):
        make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, **{name: value})


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login()
    client.get("/admin/")  # the first admin page stores the form token: a Set-Cookie
    quiet = [client.get("/admin/") for _ in range(3)]
    assert [r.headers.get("Set-Cookie") for r in quiet] == [None, None, None]
    clock.advance(minutes=1)
    assert "session=" in (client.get("/admin/").headers.get("Set-Cookie") or "")
    assert client.get("/admin/").headers.get("Set-Cookie") is None


# --- the session id, the cookie ------------------------------------------------------------


def test_the_session_id_and_form_secret_change_at_every_login(
    client: FlaskClient, auth: AuthActions
) -> None:
    client.get("/admin/login")
    with client.session_transaction() as before:
        anonymous_secret = before["csrf_token"]
        assert "sid" not in before
    auth.login()
    with client.session_transaction() as first:
        first_sid = first["sid"]
        # Nothing from before the login survives (Flask's own _permanent flag aside).
        assert set(first) == {"uid", "ver", "sid", "iat", "seen", "_permanent"}
    client.get("/admin/")
    with client.session_transaction() as s:
        assert s["csrf_token"] != anonymous_secret
    auth.login()
    with client.session_transaction() as second:
        assert second["sid"] != first_sid
        assert len(second["sid"]) >= 20


def test_a_cookie_from_before_versions_logs_nobody_in(client: FlaskClient) -> None:
    with client.session_transaction() as s:
        s["user_id"] = 1  # what a 14-day cookie of the previous release carries
    assert not logged_in(client)
    with client.session_transaction() as s:
        assert "user_id" not in s


def _set_cookie(app: Flask, base_url: str) -> str:
    client = app.test_client()
    page = client.get("/admin/login", base_url=base_url)
    values = form_values(page)
    names = labelled_fields(page.get_data(as_text=True))
    values.update({names["Username"]: EDITOR[0], names["Password"]: EDITOR[1]})
    response = client.post("/admin/login", data=values, base_url=base_url)
    assert response.status_code == 302, response.get_data(as_text=True)
    [header] = response.headers.getlist("Set-Cookie")
    return header


def test_the_cookie_is_secure_whenever_the_site_is_https(tmp_path: Path, app: Flask) -> None:
    https = make_app(app.config["DATABASE_URL"], tmp_path, SITE_URL="https://feeds.example.org")
    header = _set_cookie(https, "https://feeds.example.org")
    name, _, rest = header.partition("=")
    attributes = {a.strip().split("=")[0].lower(): a for a in rest.split(";")[1:]}
    # __Host-: browsers take it only when Secure, host-only, for every path (RFC 6265bis).
    assert name == "__Host-session"
    assert {"secure", "httponly", "path", "samesite", "expires"} <= set(attributes)
    assert "domain" not in attributes
    assert attributes["path"].strip() == "Path=/"
    assert attributes["samesite"].strip() == "SameSite=Lax"
    expires = parsedate_to_datetime(attributes["expires"].split("=", 1)[1])
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    assert 6.99 < days <= 7  # the absolute lifetime, not the 14 days of before
    database(https).dispose()


def test_the_cookie_is_httponly_and_lax_over_http(app: Flask) -> None:
    header = _set_cookie(app, "http://localhost")
    assert header.startswith("session=")
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header


# --- several instances ----------------------------------------------------------------------


def test_logout_on_one_instance_ends_the_session_on_another(
    app: Flask, editor: FlaskClient, auth: AuthActions, tmp_path: Path
) -> None:
    other = make_app(app.config["DATABASE_URL"], tmp_path)  # same database, same key
    thief = steal(editor, other)
    assert logged_in(thief)
    auth.logout()  # on the first instance
    assert not logged_in(thief)
    database(other).dispose()


@pytest.mark.slow
def test_logout_on_one_web_server_ends_the_copy_on_another(app: Flask, tmp_path: Path) -> None:
    url = app.config["DATABASE_URL"]
    port_a, port_b = free_port(), free_port()
    web_a = web(service_env(url, port=port_a), tmp_path / "a.log")
    web_b = web(service_env(url, port=port_b), tmp_path / "b.log")
    with serving(web_a, port_a, "/healthz"), serving(web_b, port_b, "/healthz"):
        a, b = Browser(f"http://127.0.0.1:{port_a}"), Browser(f"http://127.0.0.1:{port_b}")
        a.submit("/admin/login", {"Username": EDITOR[0], "Password": EDITOR[1]})
        for cookie in a.cookies:  # cookies are per host, not per port: a copy for B
            b.cookies.set_cookie(cookie)
        assert b"Log out editor" in b.get("/admin/")[1]
        assert a.log_out() == 302
        status, body = b.get("/admin/")
    assert status == 200 and b"Log out editor" not in body
    assert ENDED.encode() in body  # B's login page says why
