"""Login redirects: back to the page asked for, never to another site."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.app import EDITOR
from tests.support.forms import submit


def _login_via(client: FlaskClient, next_value: str) -> str:
    page = client.get(f"/admin/login?next={next_value}")
    response = submit(client, page, {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert response.status_code == 302
    return str(response.headers["Location"])


def test_login_returns_to_the_admin_page_asked_for(client: FlaskClient) -> None:
    first = client.get("/admin/sections/new")
    assert first.status_code == 302
    login_page = client.get(first.headers["Location"])
    response = submit(client, login_page, {"Username": EDITOR[0], "Password": EDITOR[1]})
    assert response.headers["Location"].endswith("/admin/sections/new")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_login_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    location = _login_via(client, target)
    assert "evil.example" not in location and "javascript" not in location
    assert location.endswith("/admin/")


def test_usernames_are_case_insensitive_at_login(client: FlaskClient) -> None:
    response = submit(
        client, "/admin/login", {"Username": EDITOR[0].upper(), "Password": EDITOR[1]}
    )
    assert response.status_code == 302
