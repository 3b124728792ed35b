"""/admin/import: any logged-in account imports a file or URL and reads the report there."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select
from werkzeug.test import TestResponse

from feedsvc.limits import IMPORT_FORM_ITEMS_MAX
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article
from tests.support.factories import make_section
from tests.support.forms import edit_article, form_values, labelled_fields

WORDPRESS = (Path(__file__).parent / "data" / "wordpress.xml").read_bytes()


def post_import(
    client: FlaskClient, *, url: str = "", file: bytes | None = None, section: str = "local"
) -> TestResponse:
    """Fill the import form by its labels and press Import."""
    page = client.get("/admin/import").get_data(as_text=True)
    names = labelled_fields(page, "/admin/import")
    assert {"Feed URL", "Feed file", "Section"} <= set(names)
    assert "Import</button>" in page
    values: dict[str, object] = dict(form_values(page, "/admin/import"))
    values[names["Feed URL"]] = url
    values[names["Section"]] = section
    if file is not None:
        values[names["Feed file"]] = (io.BytesIO(file), "export.xml")
    return client.post("/admin/import", data=values, content_type="multipart/form-data")


def text_of(response: TestResponse) -> str:
    return " ".join(html.fromstring(response.get_data(as_text=True)).text_content().split())


def test_the_page_needs_a_login_and_is_in_the_navigation(
    app: Flask, client: FlaskClient, writer: FlaskClient
) -> None:
    response = client.get("/admin/import")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    page = writer.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/import"' in page


def test_an_editor_imports_a_file_and_sees_the_report(app: Flask, writer: FlaskClient) -> None:
    make_section(app, "Local", slug="local")
    response = post_import(writer, file=WORDPRESS)
    assert response.status_code == 200
    report = text_of(response)
    assert "4 imported, 0 skipped (already imported), 1 refused" in report
    assert "Item 5 “Empty post” (https://gazette.example.org/?p=4001): Body is required." in report
    assert "Council approves new sea wall" in report
    again = text_of(post_import(writer, file=WORDPRESS))
    assert "0 imported, 4 skipped (already imported), 1 refused" in again


def test_an_edit_in_the_form_keeps_the_imported_html(app: Flask, writer: FlaskClient) -> None:
    make_section(app, "Local", slug="local")
    post_import(writer, file=WORDPRESS)
    with transaction(app, write=False) as s:
        article_id = s.scalar(select(Article.id).where(Article.guid.endswith("?p=4107")))
    assert article_id is not None
    form = writer.get(f"/admin/articles/{article_id}/edit").get_data(as_text=True)
    assert "HTML (imported): sanitised and kept as HTML, never as Markdown." in form
    edit_article(writer, article_id, Title="Ferry timetable changes (updated)")
    with transaction(app, write=False) as s:
        article = s.get(Article, article_id)
        assert article is not None and article.title == "Ferry timetable changes (updated)"
        assert "<p>* This line starts with an asterisk" in article.body_html
        assert "<li>" not in article.body_html


def test_refusals_are_said_on_the_form(app: Flask, editor: FlaskClient) -> None:
    make_section(app, "Local", slug="local")
    loopback = post_import(editor, url="http://127.0.0.1:9/feed")
    assert loopback.status_code == 422
    assert "127.0.0.1 is a loopback address" in text_of(loopback)
    neither = post_import(editor)
    assert neither.status_code == 422
    assert "Give a feed URL or choose a feed file." in text_of(neither)
    evil = post_import(
        editor, file=b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss/>'
    )
    assert evil.status_code == 422 and "declares a DTD" in text_of(evil)
    item = "<item><guid>https://x.example/{n}</guid><title>t</title><description>b</description></item>"
    many = "".join(item.format(n=n) for n in range(IMPORT_FORM_ITEMS_MAX + 1))
    big = f'<rss version="2.0"><channel><title>Big</title>{many}</channel></rss>'.encode()
    too_many = post_import(editor, file=big)
    assert too_many.status_code == 422
    assert "flask --app feedsvc import-feed" in text_of(too_many)
    with transaction(app, write=False) as s:
        assert s.scalar(select(Article.id)) is None
