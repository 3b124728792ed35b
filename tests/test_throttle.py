"""Login throttling per account and per address, bad API tokens per address: 429s that say when.

These run on each app's in-memory store; test_throttle_stores runs the counts in a real Redis.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import feedsvc.users
from feedsvc.settings import SettingsError
from tests.support.apiclient import API, error, new_token
from tests.support.app import EDITOR, make_app
from tests.support.forms import submit
from tests.support.logins import OTHER, WRONG, attempt, failures_until_429, with_users


def retry_after(response: TestResponse) -> int:
    assert response.status_code == 429
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


# --- per account --------------------------------------------------------------------------


def test_five_wrong_passwords_then_429_even_for_the_right_one(client: FlaskClient) -> None:
    assert failures_until_429(client, EDITOR[0]) == 5
    refused = attempt(client, EDITOR[0], EDITOR[1])
    # The right password is refused too while the account is over its limit: otherwise a
    # guesser would just keep going until one attempt is let in.
    assert refused.status_code == 429
    assert 895 <= retry_after(refused) <= 900  # the oldest failure leaves 15 minutes after it
    page = refused.get_data(as_text=True)
    assert refused.mimetype == "text/html"
    assert "Too many login attempts" in page
    assert "Wait 15 minutes before trying again" in page
    assert re.search(r"after \d\d:\d\d UTC on \d{4}-\d\d-\d\d", page), page


def test_the_account_count_ignores_case_and_spares_other_accounts(tmp_path: Path) -> None:
    app = with_users(make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path))
    client = app.test_client()
    for name in ("editor", "EDITOR", "Editor", "eDiToR", "editor"):
        assert attempt(client, name).status_code == 200
    assert attempt(client, "EdItOr", EDITOR[1]).status_code == 429
    # Another account, same address (6 attempts so far, under the address's 30).
    assert attempt(client, OTHER[0], OTHER[1]).status_code == 302


def test_unknown_usernames_are_counted_like_real_ones(client: FlaskClient) -> None:
    # Same answers for a name that exists and one that does not: a 429 reveals nothing.
    assert failures_until_429(client, "nobody-here") == 5


def test_a_successful_login_forgets_the_accounts_failures(client: FlaskClient) -> None:
    for _ in range(4):
        assert attempt(client, EDITOR[0]).status_code == 200
    assert attempt(client, EDITOR[0], EDITOR[1]).status_code == 302
    # The owner typed the password four times wrong and got in: five fresh tries again.
    assert failures_until_429(client, EDITOR[0]) == 5


def test_the_account_limit_is_a_setting(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}",
            tmp_path,
            LOGIN_LIMIT_PER_ACCOUNT="2 per 1 hour",
            TIMEZONE="Europe/Berlin",
        )
    )
    client = app.test_client()
    assert failures_until_429(client, EDITOR[0]) == 2
    refused = attempt(client, EDITOR[0])
    assert 3595 <= retry_after(refused) <= 3600
    page = refused.get_data(as_text=True)
    assert "Wait 60 minutes" in page
    assert re.search(r"after \d\d:\d\d CES?T on ", page), page  # the newsroom's local time


# --- per address --------------------------------------------------------------------------


def test_one_address_trying_many_accounts_is_stopped(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}",
            tmp_path,
            LOGIN_LIMIT_PER_ADDRESS="4 per hour",
            LOGIN_LIMIT_PER_ACCOUNT="1 per hour",
        )
    )
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for name in ("anna", "ben", "carla", "editor"):
        assert attempt(sprayer, name).status_code == 200
    # A fifth attempt, even with the right password of a real account, is refused.
    assert attempt(sprayer, OTHER[0], OTHER[1]).status_code == 429
    # The refused attempt used up none of the account's one attempt, and another address is
    # not concerned.
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.8"
    assert attempt(colleague, OTHER[0], OTHER[1]).status_code == 302


def test_with_the_defaults_one_address_gets_thirty_attempts(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's figure. The hash is stubbed out: what counts does not depend on it."""
    monkeypatch.setattr(feedsvc.users, "check_password_hash", lambda stored, given: False)
    statuses = [attempt(client, f"user{n}").status_code for n in range(31)]
    assert statuses == [200] * 30 + [429]


def test_successful_logins_count_towards_the_address_limit(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, LOGIN_LIMIT_PER_ADDRESS="3 per hour"
        )
    )
    client = app.test_client()
    for _ in range(3):
        assert attempt(client, EDITOR[0], EDITOR[1]).status_code == 302
    assert attempt(client, EDITOR[0], EDITOR[1]).status_code == 429


def test_the_address_is_the_one_the_trusted_proxy_saw(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}",
            tmp_path,
            LOGIN_LIMIT_PER_ADDRESS="2 per hour",
            TRUSTED_PROXIES=1,
        )
    )
    client = app.test_client()  # every request arrives from nginx at 127.0.0.1

    def via_nginx(client_address: str) -> int:
        page = client.get("/admin/login")
        fields = {"Username": "anna", "Password": WRONG}
        client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        try:
            return submit(client, page, fields).status_code
        finally:
            del client.environ_base["HTTP_X_FORWARDED_FOR"]

    assert [via_nginx("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert via_nginx("203.0.113.2") == 200


def test_a_proxy_that_is_not_trusted_is_pointed_out_once(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"
    attempt(client, "anna")
    attempt(client, "ben")
    warnings = [r.getMessage() for r in caplog.records if "TRUSTED_PROXIES is 0" in r.getMessage()]
    assert len(warnings) == 1
    assert "every client counts as 127.0.0.1" in warnings[0]


# --- logging ------------------------------------------------------------------------------


def test_logins_are_logged_with_name_and_address_but_never_the_password(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    caplog.set_level(logging.INFO, logger="feedsvc")
    attempt(client, "editor\nFAKE login ok for user 'admin'", "secret-guess-1")
    attempt(client, EDITOR[0], EDITOR[1])
    lines = [r.getMessage() for r in caplog.records if r.name == "feedsvc"]
    failed = [m for m in lines if m.startswith("login failed")]
    assert failed == [
        """login failed for user "editor\\nFAKE login ok for user 'admin'" from 192.0.2.44"""
    ]
    assert any(m.startswith("login ok for user 'editor' from 192.0.2.44 (session ") for m in lines)
    text = caplog.text
    assert "secret-guess-1" not in text and EDITOR[1] not in text
    assert all("\n" not in m for m in lines)  # one line per event, whatever was typed


def test_a_long_username_is_cut_in_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc")
    attempt(client, "x" * 5000)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("login failed")]
    assert line == f"login failed for user {'x' * 100!r}… from 127.0.0.1"


def test_refusals_are_logged(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    failures_until_429(client, EDITOR[0])
    assert "login refused (LOGIN_LIMIT_PER_ACCOUNT) for user 'editor' from 127.0.0.1" in (
        caplog.text
    )


# --- the login form's token expires -------------------------------------------------------


def _later(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Move the clock itsdangerous checks CSRF tokens (and cookies) against."""
    import itsdangerous

    real = itsdangerous.TimestampSigner.get_timestamp
    monkeypatch.setattr(
        itsdangerous.TimestampSigner, "get_timestamp", lambda self: real(self) + seconds
    )


def test_a_login_page_older_than_an_hour_is_refused(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/admin/login")
    _later(monkeypatch, 3601)
    response = submit(client, page, {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert response.status_code == 200
    assert "open too long" in response.get_data(as_text=True)
    # The page that said so carries a fresh token, which works.
    again = submit(client, response, {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert again.status_code == 302


def test_a_login_page_younger_than_an_hour_works(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/admin/login")
    _later(monkeypatch, 3500)
    assert submit(client, page, {"Username": EDITOR[0], "Password": EDITOR[1]}).status_code == 302


def test_other_admin_forms_outlive_the_hour(
    editor: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = editor.get("/admin/sections/new")
    _later(monkeypatch, 3 * 3600)  # a long article: the form was open three hours
    response = submit(editor, page, {"Name": "World News"})
    assert response.status_code == 302, response.get_data(as_text=True)


# --- the API's bearer check -----------------------------------------------------------------


def _bad(client: FlaskClient, token: str = "fsv_" + "A" * 43) -> TestResponse:
    return client.get(f"{API}/sections", headers={"Authorization": f"Bearer {token}"})


def test_bad_tokens_from_one_address_get_429_in_the_apis_shape(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, TOKEN_LIMIT_PER_ADDRESS="3 per hour"
        )
    )
    client = app.test_client()
    good = new_token(app)
    # Missing credentials are a mistake, not a guess: not counted.
    for _ in range(5):
        assert client.get(f"{API}/sections").status_code == 401
    assert [_bad(client).status_code for _ in range(3)] == [401, 401, 401]
    refused = _bad(client, "not-even-shaped-like-a-token")
    payload = error(refused, 429)
    assert payload["error"] == "too_many_requests"
    assert 3595 <= retry_after(refused) <= 3600
    assert "wait 60 minutes" in payload["message"]
    # A valid token from the same address is never slowed, however many bad ones came first.
    for _ in range(5):
        ok = client.get(f"{API}/sections", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200
    # Another address is not concerned.
    client.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    assert _bad(client).status_code == 401


def test_bad_tokens_on_different_routes_share_one_count(tmp_path: Path) -> None:
    app = with_users(
        make_app(
            f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, TOKEN_LIMIT_PER_ADDRESS="2 per hour"
        )
    )
    client = app.test_client()
    auth = {"Authorization": "Bearer fsv_" + "B" * 43}
    assert client.get(f"{API}/sections", headers=auth).status_code == 401
    assert client.get(f"{API}/articles", headers=auth).status_code == 401
    assert client.post(f"{API}/sections", headers=auth, json={}).status_code == 429


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS", "TOKEN_LIMIT_PER_ADDRESS"]
)
@pytest.mark.parametrize("value", ["5", "five per minute", "0 per minute", "5 per fortnight", ""])
def test_a_bad_rate_is_refused_at_start(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as caught:
        make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, **{name: value})
    assert "like “5 per 15 minutes”" in caught.value.message


@pytest.mark.parametrize("value", ["5/minute", "10 per hour; 50 per day", "3 per 15 minutes"])
def test_good_rates_are_taken(tmp_path: Path, value: str) -> None:
    make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, LOGIN_LIMIT_PER_ACCOUNT=value)


def test_a_rate_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_LOGIN_LIMIT_PER_ACCOUNT", "1 per day")
    app = with_users(make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path))
    assert failures_until_429(app.test_client(), EDITOR[0]) == 1


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379", "127.0.0.1:6379", "memcached://x"])
def test_a_redis_url_must_be_redis(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, REDIS_URL=value)
