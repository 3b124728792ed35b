"""The JSON API's authentication: bearer tokens on every route, never the session cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc.storage.db import transaction
from feedsvc.storage.models import ApiToken, Article, Section
from feedsvc.tokens import revoke_token
from tests.support.apiclient import API, Api, api_rules, body, concrete, count, error, new_token


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


# --- authentication ------------------------------------------------------------------------


def test_every_route_needs_a_bearer_token(app: Flask, client: FlaskClient) -> None:
    anonymous = Api(client, None)
    seen = 0
    for rule, methods in api_rules(app):
        if rule == f"{API}/openapi.json":
            continue
        for method in methods:
            response = anonymous.send(method, concrete(rule), {})
            payload = error(response, 401)
            assert payload["error"] == "unauthorized"
            # RFC 6750 §3.1: no error code when the request carried no credentials.
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="feedsvc"'
            seen += 1
    assert seen >= 9
    assert count(app, Section) == 0 and count(app, Article) == 0


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fsv_" + "A" * 43,  # well-formed, unknown
        "Bearer fsv_short",
        "Bearer not-even-close",
        "Bearer fsv_" + "A" * 43 + "\u00e9",
        "bearer  fsv_" + "B" * 43,
    ],
)
def test_unknown_or_malformed_tokens_are_401_invalid_token(
    client: FlaskClient, header: str
) -> None:
    response = client.get(f"{API}/sections", headers={"Authorization": header})
    payload = error(response, 401)
    assert payload["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="feedsvc", error="invalid_token"')


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic ZWRpdG9yOnB3", "Token x"])
def test_other_schemes_or_empty_bearer_are_401(client: FlaskClient, header: str) -> None:
    response = client.get(f"{API}/sections", headers={"Authorization": header})
    assert error(response, 401)["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="feedsvc"'


def test_the_scheme_name_is_case_insensitive(api: Api) -> None:
    response = api.client.get(f"{API}/sections", headers={"Authorization": f"bEaReR {api.token}"})
    assert response.status_code == 200


def test_a_revoked_token_stops_working(app: Flask, api: Api) -> None:
    assert api.get("/sections").status_code == 200
    with transaction(app) as s:
        revoke_token(s, "fsv_" + (api.token or "")[4:12])
    assert error(api.get("/sections"), 401)["error"] == "invalid_token"


def test_the_session_cookie_does_not_authenticate(editor: FlaskClient, app: Flask) -> None:
    """A logged-in browser (cookie) cannot call the API, read or write, without a token."""
    assert editor.get("/admin/").status_code == 200  # logged in indeed
    cookie_only = Api(editor, None)
    assert error(cookie_only.get("/sections"), 401)["error"] == "unauthorized"
    # Not a CSRF failure (400) either: the API never looks at the cookie at all.
    assert error(cookie_only.post("/sections", {"name": "Sneaky"}), 401)["error"] == "unauthorized"
    assert count(app, Section) == 0


def test_a_logged_in_client_with_a_token_can_write(editor: FlaskClient, app: Flask) -> None:
    """Cookie and token together: the token counts; no CSRF token needed, no lock waits."""
    started = datetime.now(UTC)
    # Each token's first use is recorded: on a read beside the cookie user's read session, and
    # on a write inside the request's write transaction (SQLite: one writer at a time).
    assert Api(editor, new_token(app)).get("/sections").status_code == 200
    assert Api(editor, new_token(app)).post("/sections", {"name": "World"}).status_code == 201
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    with transaction(app, write=False) as s:
        assert all(t.last_used_at is not None for t in s.scalars(select(ApiToken)))


def test_openapi_document_needs_no_token(client: FlaskClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert body(response)["openapi"] == "3.1.0"


def test_api_answers_are_not_cached(api: Api) -> None:
    assert api.get("/sections").headers["Cache-Control"] == "no-store"
    assert api.client.get(f"{API}/sections").headers["Cache-Control"] == "no-store"
