"""The API tokens page: list, create (the token shown once, in that answer only), revoke."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select
from werkzeug.test import TestResponse

from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import ApiToken, User
from feedsvc.users import create_user
from tests.support.app import EDITOR, make_app
from tests.support.forms import AuthActions, labelled_fields, submit

TOKEN = re.compile(r"fsv_[A-Za-z0-9_-]{43}")
HEADINGS = ["Prefix", "User", "Name", "Scope", "Created", "Last used", "Expires", "Status"]


def make(client: FlaskClient, **by_label: str) -> TestResponse:
    return submit(client, "/admin/tokens/", by_label, form_action="/admin/tokens/")


def shown_token(response: TestResponse) -> str:
    assert response.status_code == 201, response.get_data(as_text=True)
    page = html.fromstring(response.get_data(as_text=True))
    return str(page.get_element_by_id("new-token").text_content())


def table(client: FlaskClient) -> list[dict[str, str]]:
    doc = html.fromstring(client.get("/admin/tokens/").get_data(as_text=True))
    headings = [" ".join(th.text_content().split()) for th in doc.xpath("//thead//th")]
    assert headings == [*HEADINGS, "Actions"]
    return [
        dict(
            zip(
                headings,
                [" ".join(td.text_content().split()) for td in tr.xpath("./td")],
                strict=True,
            )
        )
        for tr in doc.xpath("//tbody/tr")
    ]


def errors_of(response: TestResponse) -> dict[str, str]:
    page = html.fromstring(response.get_data(as_text=True))
    return {p.get("id")[: -len("-error")]: p.text_content() for p in page.xpath("//p[@id]")}


def api(client: FlaskClient, token: str, method: str = "GET") -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if method == "GET":
        return client.get("/api/v1/sections", headers=headers).status_code
    return client.post("/api/v1/sections", json={"name": "N"}, headers=headers).status_code


def test_the_form_and_a_token_made_with_it(app: Flask, editor: FlaskClient) -> None:
    page = editor.get("/admin/tokens/").get_data(as_text=True)
    assert set(labelled_fields(page, "/admin/tokens/")) == {"User", "Name", "Scope", "Expires on"}
    response = make(editor, User=EDITOR[0], Name="Newsroom CMS")
    token = shown_token(response)
    assert TOKEN.fullmatch(token)
    text = response.get_data(as_text=True)
    assert text.count(token) == 1 and "shown only this once" in text
    assert response.headers["Cache-Control"] == "no-store"
    # Read only unless asked: a read works, a write is refused.
    assert (api(editor, token), api(editor, token, "POST")) == (200, 403)
    [row] = table(editor)
    assert row["Prefix"] == token[:12] + "…"
    assert (row["User"], row["Name"], row["Scope"]) == (EDITOR[0], "Newsroom CMS", "Read only")
    assert (row["Expires"], row["Status"]) == ("never", "Active")
    assert row["Created"].endswith("UTC") and row["Last used"].endswith("UTC")


def test_the_token_is_in_that_answer_only(app: Flask, editor: FlaskClient) -> None:
    """Not in a cookie (the flash messages live there), not in a later page, not stored."""
    response = make(editor, User=EDITOR[0], Scope="write")
    token = shown_token(response)
    secret = token[len("fsv_") :]
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    cookie = editor.get_cookie("session")
    assert cookie is not None
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    assert secret not in cookies and secret not in repr(session)
    assert secret[8:] not in editor.get("/admin/tokens/").get_data(as_text=True)
    assert secret[8:] not in editor.get("/admin/").get_data(as_text=True)
    with transaction(app, write=False) as s:
        row = s.scalars(select(ApiToken)).one()
        assert secret[8:] not in " ".join(str(getattr(row, c.key)) for c in ApiToken.__table__.c)
    assert api(editor, token, "POST") == 201


def test_revoking_from_the_list(app: Flask, editor: FlaskClient) -> None:
    token = shown_token(make(editor, User=EDITOR[0]))
    listing = editor.get("/admin/tokens/")
    response = submit(editor, listing, {}, form_action="/admin/tokens/1/revoke")
    assert response.status_code == 302
    assert "revoked; requests with it now get 401" in editor.get("/admin/tokens/").get_data(True)
    assert api(editor, token) == 401
    assert table(editor)[0]["Status"].startswith("Revoked 20")
    assert "/admin/tokens/1/revoke" not in editor.get("/admin/tokens/").get_data(as_text=True)
    page = html.fromstring(editor.get("/admin/tokens/").get_data(as_text=True))
    csrf = page.xpath("//input[@name='csrf_token']/@value")[0]
    assert editor.post("/admin/tokens/99/revoke", data={"csrf_token": csrf}).status_code == 404


@pytest.fixture
def berlin(database_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    """An admin logged in on a site whose TIMEZONE is Europe/Berlin."""
    app = make_app(database_url, tmp_path, TIMEZONE="Europe/Berlin")
    with transaction(app) as s:
        create_user(s, *EDITOR, role="admin")
    client = app.test_client()
    AuthActions(client).login()
    yield client
    database(app).dispose()


def test_an_expiry_date_means_midnight_in_the_sites_time_zone(berlin: FlaskClient) -> None:
    day = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=30)
    make(berlin, User=EDITOR[0], **{"Expires on": day.isoformat()})
    with transaction(berlin.application, write=False) as s:
        expires = s.scalars(select(ApiToken.expires_at)).one()
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Europe/Berlin"))
    assert expires == midnight.astimezone(UTC)
    assert expires.hour in (22, 23)  # 00:00 in Berlin is 22:00 or 23:00 UTC
    assert table(berlin)[0]["Expires"] == f"{day.isoformat()} 00:00 {midnight.tzname()}"


@pytest.mark.parametrize("when", ["yesterday", "today", "0001-01-01", "9999-12-31", "20xx-01-01"])
def test_an_expiry_not_ahead_or_too_far_is_a_field_error(berlin: FlaskClient, when: str) -> None:
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    value = {"yesterday": (today - timedelta(days=1)).isoformat(), "today": today.isoformat()}
    response = make(berlin, User=EDITOR[0], **{"Expires on": value.get(when, when)})
    assert response.status_code == 200
    message = errors_of(response)["expires_at"]
    assert message.startswith(("The expiry date must be after today", "Expires on must be"))
    with transaction(berlin.application, write=False) as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_a_disabled_account_is_not_offered_and_is_refused(app: Flask, editor: FlaskClient) -> None:
    with transaction(app) as s:
        create_user(s, "gone", "a long passphrase").disabled_at = datetime.now(UTC)
    page = editor.get("/admin/tokens/").get_data(as_text=True)
    offered = html.fromstring(page).xpath("//select[@name='username']/option/@value")
    assert offered == [EDITOR[0]]
    values = {"csrf_token": html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0]}
    response = editor.post(
        "/admin/tokens/", data={**values, "username": "gone", "scope": "write", "name": ""}
    )
    assert response.status_code == 200
    assert errors_of(response) == {"username": "The user “gone” is disabled; enable it first."}
    response = editor.post("/admin/tokens/", data={**values, "username": "x", "scope": "all"})
    assert errors_of(response) == {
        "username": "There is no user “x”.",
        "scope": "The scope must be “read” or “write”.",
    }
    with transaction(app, write=False) as s:
        assert s.scalars(select(ApiToken)).all() == []
        assert s.scalars(select(User.username).where(User.disabled_at.is_not(None))).all() == [
            "gone"
        ]
