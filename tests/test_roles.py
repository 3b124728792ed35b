"""Roles in the admin: an editor writes articles; sections, users and tokens are an admin's."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section, User
from feedsvc.tokens import create_token
from tests.support.app import EDITOR, WRITER
from tests.support.factories import make_article, make_section
from tests.support.forms import add_article, edit_article, submit

# (method, path) of every page only an admin may use; {s}, {u}, {t}: a section, user, token.
ADMIN_ONLY = [
    ("GET", "/admin/sections/"),
    ("GET", "/admin/sections/new"),
    ("POST", "/admin/sections/new"),
    ("GET", "/admin/sections/{s}/edit"),
    ("POST", "/admin/sections/{s}/edit"),
    ("GET", "/admin/users/"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/{u}"),
    ("POST", "/admin/users/{u}/role"),
    ("POST", "/admin/users/{u}/password"),
    ("POST", "/admin/users/{u}/disable"),
    ("POST", "/admin/users/{u}/enable"),
    ("GET", "/admin/tokens/"),
    ("POST", "/admin/tokens/"),
    ("POST", "/admin/tokens/{t}/revoke"),
]


def csrf_token(client: FlaskClient) -> str:
    """A valid CSRF token of the client's session, from a page every account may open."""
    page = html.fromstring(client.get("/admin/password").get_data(as_text=True))
    return str(page.xpath("//input[@name='csrf_token']/@value")[0])


def nav_links(client: FlaskClient) -> list[str]:
    page = html.fromstring(client.get("/admin/").get_data(as_text=True))
    return [a.text_content().strip() for a in page.xpath("//header//nav//a")]


def test_an_editor_gets_403_with_a_page_saying_why_on_every_admin_only_page(
    app: Flask, writer: FlaskClient
) -> None:
    section = make_section(app)
    with transaction(app) as s:
        token_id = create_token(s, EDITOR[0], "cms")[0].id
    token = csrf_token(writer)
    for method, path in ADMIN_ONLY:
        url = path.format(s=section, u=1, t=token_id)
        response = writer.open(
            url, method=method, data={"csrf_token": token, "name": "Sneaky", "role": "admin"}
        )
        assert response.status_code == 403, (method, url, response.status_code)
        text = response.get_data(as_text=True)
        assert "This page is for admins." in text, url
        assert response.mimetype == "text/html"
    with transaction(app, write=False) as s:
        assert s.scalars(select(Section.name)).all() == ["World News"]


def test_anonymous_visitors_are_sent_to_log_in_not_told_403(client: FlaskClient) -> None:
    for path in ["/admin/users/", "/admin/tokens/", "/admin/password", "/admin/users/1"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/admin/login" in response.headers["Location"]


def test_the_navigation_shows_what_the_role_may_use(
    editor: FlaskClient, writer: FlaskClient
) -> None:
    assert nav_links(editor) == [
        "Articles",
        "New article",
        "Import",
        "Subscribers",
        "Sections",
        "Users",
        "API tokens",
        "Password",
    ]
    # Every account writes, imports into any section and reads the subscriber counts.
    assert nav_links(writer) == ["Articles", "New article", "Import", "Subscribers", "Password"]


def test_an_editor_writes_and_changes_articles(app: Flask, writer: FlaskClient) -> None:
    section = make_section(app)
    add_article(writer)
    edit_article(writer, 1, Title="Retitled")
    make_article(app, section, "Another")
    assert writer.get("/admin/").status_code == 200
    assert writer.get("/admin/articles/1/edit").status_code == 200
    with transaction(app, write=False) as s:
        assert s.scalars(select(Article.title).order_by(Article.id)).all() == [
            "Retitled",
            "Another",
        ]


def test_an_editor_without_sections_is_told_to_ask_an_admin(
    app: Flask, writer: FlaskClient
) -> None:
    response = writer.get("/admin/articles/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    listing = writer.get("/admin/").get_data(as_text=True)
    assert "ask an admin to create one" in listing
    assert "/admin/sections/new" not in listing


def test_every_account_may_open_its_password_page(editor: FlaskClient, writer: FlaskClient) -> None:
    for client in (editor, writer):
        response = client.get("/admin/password")
        assert response.status_code == 200
        assert "Current password" in response.get_data(as_text=True)


def test_an_admin_page_after_losing_the_admin_role_is_403(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    """The role is read on every request: a change counts at once, no new login needed."""
    with transaction(app, write=False) as s:
        writer_id = s.scalars(select(User.id).where(User.username == WRITER[0])).one()
    page = editor.get(f"/admin/users/{writer_id}")
    submit(editor, page, {"Role": "admin"}, form_action=f"/admin/users/{writer_id}/role")
    assert writer.get("/admin/users/").status_code == 200
    page = editor.get(f"/admin/users/{writer_id}")
    submit(editor, page, {"Role": "editor"}, form_action=f"/admin/users/{writer_id}/role")
    assert writer.get("/admin/users/").status_code == 403
