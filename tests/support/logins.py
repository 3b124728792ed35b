"""Logging in through the real form, for the throttling and session tests."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from feedsvc.storage.db import transaction
from feedsvc.users import create_user
from tests.support.app import EDITOR
from tests.support.forms import submit

WRONG = "not the password"
OTHER = ("reporter", "another long passphrase")


def attempt(client: FlaskClient, username: str, password: str = WRONG) -> TestResponse:
    """One login through the real form (its page fetched first, for the CSRF token)."""
    return submit(client, "/admin/login", {"Username": username, "Password": password})


def failures_until_429(client: FlaskClient, username: str, most: int = 40) -> int:
    """How many wrong passwords the form takes before answering 429."""
    for n in range(most):
        response = attempt(client, username)
        if response.status_code == 429:
            return n
        assert response.status_code == 200, response.status_code
        assert "do not match" in response.get_data(as_text=True)
    raise AssertionError(f"no 429 after {most} attempts")


def with_users(app: Flask) -> Flask:
    with transaction(app) as s:
        create_user(s, *EDITOR)
        create_user(s, *OTHER)
    return app
