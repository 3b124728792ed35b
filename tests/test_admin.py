"""The editors' forms, driven as a person would: by label, with the CSRF token, PRG."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section
from tests.support.factories import STORY, make_section
from tests.support.forms import (
    add_article,
    add_section,
    edit_article,
    labelled_fields,
    post_article,
    submit,
)


def count(app: Flask, model: type) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_every_admin_page_requires_login(client: FlaskClient) -> None:
    for path in ["/admin/", "/admin/sections/", "/admin/sections/new", "/admin/articles/new"]:
        response = client.get(path)
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]


def test_login_form_is_labelled_and_rejects_wrong_password(
    client: FlaskClient, auth: object
) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    assert {"Username", "Password"} <= set(labelled_fields(page))
    response = submit(client, "/admin/login", {"Username": "editor", "Password": "wrong"})
    assert response.status_code == 200
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_login_cookie_is_httponly_and_samesite(client: FlaskClient, auth: object) -> None:
    response = auth.login()  # type: ignore[attr-defined]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_post_without_csrf_token_is_refused(editor: FlaskClient, app: Flask) -> None:
    response = editor.post("/admin/sections/new", data={"name": "Sneaky", "items_per_feed": "5"})
    assert response.status_code == 400
    assert count(app, Section) == 0


def test_logout_ends_the_session(editor: FlaskClient, auth: object) -> None:
    auth.logout()  # type: ignore[attr-defined]
    assert editor.get("/admin/").status_code == 302


def test_section_slug_is_derived_and_clash_is_a_field_error(
    editor: FlaskClient, app: Flask
) -> None:
    add_section(editor, "World News")
    with transaction(app, write=False) as s:
        section = s.scalars(select(Section)).one()
        assert section.slug == "world-news"
        assert section.items_per_feed == 50
    response = submit(editor, "/admin/sections/new", {"Name": "Other", "Slug": "world-news"})
    assert response.status_code == 200
    assert "already used" in response.get_data(as_text=True)
    assert count(app, Section) == 1


def test_section_can_be_renamed(editor: FlaskClient, app: Flask) -> None:
    add_section(editor, "Busness")
    response = submit(editor, "/admin/sections/1/edit", {"Name": "Business", "Slug": "business"})
    assert response.status_code == 302
    with transaction(app, write=False) as s:
        assert s.scalars(select(Section.name)).one() == "Business"


def test_article_form_stores_article_and_redirects(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    page = editor.get("/admin/articles/new").get_data(as_text=True)
    labels = set(labelled_fields(page))
    assert {"Title", "Section", "Body", "Summary", "Author", "Publish at", "Status"} <= labels
    response = add_article(editor, Author="Ana Lopez")  # Post/Redirect/Get
    listing = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert "Council keeps fares" in listing and "Published" in listing
    with transaction(app, write=False) as s:
        article = s.scalars(select(Article)).one()
        assert article.body_html.count("<p>") == 3
        assert "“We will not raise fares,” the mayor said –" in article.body_html
        assert article.summary.startswith("The council met on Tuesday.")
        assert article.author == "Ana Lopez"


def test_validation_error_is_shown_next_to_field_and_nothing_stored(
    editor: FlaskClient, app: Flask
) -> None:
    make_section(app)
    response = post_article(editor, Title="   ", Body="Some text")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'id="title-error"' in text
    assert count(app, Article) == 0


def test_bad_publish_time_is_a_field_error(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    response = post_article(editor, **{"Publish at": "next tuesday"})
    assert response.status_code == 200
    assert 'id="publish_at-error"' in response.get_data(as_text=True)
    assert count(app, Article) == 0


def test_edit_keeps_guid_and_delete_removes(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor)
    with transaction(app, write=False) as s:
        before = s.scalars(select(Article)).one()
    edit = editor.get(f"/admin/articles/{before.id}/edit")
    assert STORY.split("\n")[0] in edit.get_data(as_text=True)  # the editor's text, not HTML
    response = submit(editor, edit, {"Title": "Council keeps fares, for now"})
    assert response.status_code == 302
    with transaction(app, write=False) as s:
        after = s.scalars(select(Article)).one()
    assert after.guid == before.guid and after.title == "Council keeps fares, for now"
    listing = editor.get("/admin/")
    response = submit(editor, listing, {}, form_action=f"/admin/articles/{before.id}/delete")
    assert response.status_code == 302
    assert count(app, Article) == 0


def test_article_form_without_sections_sends_editor_to_create_one(editor: FlaskClient) -> None:
    response = editor.get("/admin/articles/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/sections/new")


def test_editing_without_touching_publish_at_keeps_the_exact_time(
    editor: FlaskClient, app: Flask
) -> None:
    make_section(app)
    add_article(editor)
    with transaction(app, write=False) as s:
        before = s.scalars(select(Article)).one().publish_at
        # Make the stored time have seconds, as "now" usually does.
    with transaction(app) as s:
        s.scalars(select(Article)).one().publish_at = before.replace(second=42)
    edit_article(editor, 1, Title="Retitled")
    with transaction(app, write=False) as s:
        after = s.scalars(select(Article)).one()
    assert after.title == "Retitled"
    assert after.publish_at == before.replace(second=42)


def test_publish_at_out_of_range_is_refused(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    for when in ["0001-01-01T00:00", "9999-12-31T23:59"]:
        response = post_article(editor, **{"Publish at": when})
        assert response.status_code == 200
        assert "between 1970 and 2100" in response.get_data(as_text=True)
    response = post_article(editor, **{"Publish at": "tomorrow"})
    assert "like 2026-11-28T14:30" in response.get_data(as_text=True)
    assert count(app, Article) == 0


def test_with_several_sections_the_editor_must_choose_one(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "World News")
    make_section(app, "Business")
    response = post_article(editor)
    assert response.status_code == 200
    assert 'id="section_id-error"' in response.get_data(as_text=True)
    assert count(app, Article) == 0
    add_article(editor, Section="2")
    assert count(app, Article) == 1


def test_out_of_range_ids_are_not_found_not_errors(editor: FlaskClient, app: Flask) -> None:
    """Beyond PostgreSQL's INTEGER range a number must still be a plain miss."""
    make_section(app)
    huge = "99999999999"
    response = post_article(editor, Section=huge)
    assert response.status_code == 200
    assert 'id="section_id-error"' in response.get_data(as_text=True)
    assert editor.get(f"/admin/articles/{huge}/edit").status_code == 404
    assert editor.get(f"/admin/sections/{huge}/edit").status_code == 404
    assert editor.get(f"/articles/{huge}").status_code == 404
    assert count(app, Article) == 0


def test_wrong_method_names_the_allowed_ones(editor: FlaskClient) -> None:
    response = editor.get("/admin/logout")
    assert response.status_code == 405
    assert response.headers["Allow"].split(", ").count("POST") == 1
