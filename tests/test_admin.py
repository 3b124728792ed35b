"""The editors' forms, driven as a person would: by label, with the CSRF token, PRG."""

from __future__ import annotations

import dataclasses

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from feedsvc import limits
from feedsvc.articles import ArticleInput
from feedsvc.sections import SectionInput
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section
from feedsvc.web.forms import ArticleForm, SectionForm
from tests.support.factories import STORY, make_section
from tests.support.forms import (
    add_article,
    add_section,
    edit_article,
    form_values,
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
    # The service's SlugInUse, shown on the field the slug came from.
    page = html.fromstring(response.get_data(as_text=True))
    assert page.get_element_by_id("slug-error").text_content() == (
        "The slug “world-news” is already used by another section."
    )
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


def field_errors(response: object) -> dict[str, str]:
    """The page's field errors, by field name (each field's "<name>-error" paragraph)."""
    page = html.fromstring(response.get_data(as_text=True))  # type: ignore[attr-defined]
    return {p.get("id")[: -len("-error")]: p.text_content() for p in page.xpath("//p[@id]")}


def test_section_form_limits_are_the_ones_in_limits(editor: FlaskClient, app: Flask) -> None:
    """Through the form: every limit at its value is stored, one past it is a field error."""
    at = {
        "Name": "n" * limits.SECTION_NAME_MAX,
        "Slug": "s" * limits.SLUG_MAX,
        "Description": "d" * limits.DESCRIPTION_MAX,
        "Items per feed": str(limits.ITEMS_PER_FEED_MAX),
    }
    add_section(editor, **at)
    add_section(editor, "Least", **{"Items per feed": str(limits.ITEMS_PER_FEED_MIN)})
    with transaction(app, write=False) as s:
        stored = s.scalars(select(Section).order_by(Section.id)).all()
        assert [x.items_per_feed for x in stored] == [
            limits.ITEMS_PER_FEED_MAX,
            limits.ITEMS_PER_FEED_MIN,
        ]
    past = {
        "Name": "n" * (limits.SECTION_NAME_MAX + 1),
        "Slug": "t" * (limits.SLUG_MAX + 1),
        "Description": "d" * (limits.DESCRIPTION_MAX + 1),
    }
    response = submit(editor, "/admin/sections/new", past)
    assert field_errors(response) == {
        "name": f"The name is longer than {limits.SECTION_NAME_MAX} characters.",
        "slug": "A slug is lower-case letters, digits and single hyphens, "
        f"at most {limits.SLUG_MAX} characters (like world-news).",
        "description": f"Description must be at most {limits.DESCRIPTION_MAX} characters.",
    }
    items_rule = (
        f"Items per feed must be between {limits.ITEMS_PER_FEED_MIN} and "
        f"{limits.ITEMS_PER_FEED_MAX}."
    )
    for items in [limits.ITEMS_PER_FEED_MIN - 1, limits.ITEMS_PER_FEED_MAX + 1]:
        response = submit(
            editor, "/admin/sections/new", {"Name": "Many", "Items per feed": str(items)}
        )
        assert field_errors(response) == {"items_per_feed": items_rule}
    assert count(app, Section) == 2


def test_the_section_form_range_and_default_are_the_ones_in_limits(
    editor: FlaskClient, app: Flask
) -> None:
    values = form_values(editor.get("/admin/sections/new"))
    assert values["items_per_feed"] == str(limits.ITEMS_PER_FEED_DEFAULT)
    # The form's own check, before the service's: the same range.
    low, high = limits.ITEMS_PER_FEED_MIN, limits.ITEMS_PER_FEED_MAX
    for items, valid in [(low - 1, False), (low, True), (high, True), (high + 1, False)]:
        formdata = MultiDict({"name": "N", "items_per_feed": str(items)})
        with app.test_request_context():
            form = SectionForm(formdata=formdata, meta={"csrf": False})
            assert form.validate() is valid, items


def test_article_form_limits_are_the_ones_in_limits(editor: FlaskClient, app: Flask) -> None:
    add_section(editor)
    add_article(
        editor,
        Title="t" * limits.TITLE_MAX,
        Author="a" * limits.AUTHOR_MAX,
        Summary="s" * limits.SUMMARY_MAX,
    )
    response = post_article(
        editor,
        Title="t" * (limits.TITLE_MAX + 1),
        Author="a" * (limits.AUTHOR_MAX + 1),
        Summary="s" * (limits.SUMMARY_MAX + 1),
    )
    assert field_errors(response) == {
        "title": f"The title is longer than {limits.TITLE_MAX} characters.",
        "author": f"The author is longer than {limits.AUTHOR_MAX} characters.",
        "summary": f"The summary must be at most {limits.SUMMARY_MAX} characters.",
    }
    assert count(app, Article) == 1


def test_the_forms_have_a_field_for_each_input_field(app: Flask) -> None:
    """admin.py maps form and input by name: a field missing on either side fails here."""
    with app.test_request_context():
        article_form = [f.name for f in ArticleForm() if f.name != "csrf_token"]
        section_form = [f.name for f in SectionForm() if f.name != "csrf_token"]
    assert article_form == [f.name for f in dataclasses.fields(ArticleInput)]
    assert section_form == [f.name for f in dataclasses.fields(SectionInput)]


def test_the_edit_form_starts_from_what_the_editor_wrote(editor: FlaskClient, app: Flask) -> None:
    add_section(editor)
    add_article(
        editor, Summary="My own\nsummary.", Author="Ana", **{"Publish at": "2026-01-02T03:04"}
    )
    # A newline right after <textarea> is not part of its value (HTML, "textarea" element).
    values = {
        k: v.removeprefix("\n")
        for k, v in form_values(editor.get("/admin/articles/1/edit")).items()
    }
    assert {
        k: values[k] for k in ["title", "body", "summary", "author", "publish_at", "status"]
    } == {
        "title": "Council keeps fares",
        "body": STORY,
        "summary": "My own\nsummary.",
        "author": "Ana",
        "publish_at": "2026-01-02T03:04",
        "status": "published",
    }
    with transaction(app, write=False) as s:
        section_id = s.scalars(select(Section.id)).one()
    assert values["section_id"] == str(section_id)


def test_optional_fields_left_out_of_a_post_take_their_defaults(
    editor: FlaskClient, app: Flask
) -> None:
    add_section(editor)
    values = form_values(editor.get("/admin/articles/new"))
    for name in ["summary", "author", "publish_at", "status"]:
        del values[name]
    values.update(title="Bare", body="Text.")
    assert editor.post("/admin/articles/new", data=values).status_code == 302
    with transaction(app, write=False) as s:
        article = s.scalars(select(Article)).one()
        assert (article.summary_source, article.author, article.status) == ("", "", "published")
        assert article.publish_at is not None
