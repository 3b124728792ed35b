"""Subscriptions survive: old section URLs answer 301 (app and nginx), deleted sections 410."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from devtools import nginx as nginx_tools
from feedsvc.publishing.export import export_root
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, FeedDocument, Section
from feedsvc.users import create_user
from tests.support.apiclient import Api, error, new_token
from tests.support.app import SITE_URL, WRITER, make_app
from tests.support.exportnginx import nginx_over_export
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.forms import edit_section, form_values, submit
from tests.support.published import fetch, publish

FILES = ("rss.xml", "atom.xml", "feed.json")
CHECKS = {"rss.xml": check_rss, "atom.xml": check_atom, "feed.json": check_json}
OLD_URLS = ("", *FILES)  # the page, then each feed


def assert_moved(client: FlaskClient, old: str, new: str) -> None:
    """Every URL of the old slug answers 301 straight to the new slug's, which answers 200."""
    for rest in OLD_URLS:
        response = client.get(f"/sections/{old}/{rest}")
        assert response.status_code == 301, (old, rest, response.status_code)
        assert response.headers["Location"] == f"{SITE_URL}/sections/{new}/{rest}"
        target = client.get(response.headers["Location"].removeprefix(SITE_URL))
        assert target.status_code == 200, (new, rest)  # one hop: no redirect after it
        if rest:
            CHECKS[rest](target.get_data())


def assert_gone(client: FlaskClient, slug: str) -> None:
    for rest in OLD_URLS:
        response = client.get(f"/sections/{slug}/{rest}")
        assert response.status_code == 410, (slug, rest, response.status_code)
        assert "deleted" in response.get_data(as_text=True)


def opml_slugs(client: FlaskClient) -> list[str]:
    text = fetch(client, "/opml.xml").decode()
    return sorted({part.split("/")[0] for part in text.split(f"{SITE_URL}/sections/")[1:]})


def test_every_old_url_answers_301_to_the_current_one_in_one_hop(
    editor: FlaskClient, app: Flask
) -> None:
    tech = make_section(app, "Tech")
    make_article(app, tech, "Chips")
    publish(app)
    edit_section(editor, tech, Slug="technology")
    publish(app)
    assert_moved(editor, "tech", "technology")
    edit_section(editor, tech, Slug="tech-news")
    publish(app)
    # No chain: both earlier slugs lead straight to the current one.
    assert_moved(editor, "tech", "tech-news")
    assert_moved(editor, "technology", "tech-news")
    assert opml_slugs(editor) == ["tech-news"]
    # A reader following the redirect keeps the same feed: its id never changed.
    old = feedparser.parse(fetch(editor, "/sections/tech-news/atom.xml"))
    assert [e.title for e in old.entries] == ["Chips"]
    # Going back to an old slug takes it over again; the others now lead there.
    edit_section(editor, tech, Slug="tech")
    publish(app)
    assert editor.get("/sections/tech/atom.xml").status_code == 200
    assert_moved(editor, "tech-news", "tech")
    assert_moved(editor, "technology", "tech")
    # A made-up slug is still a plain 404.
    assert editor.get("/sections/never-was/atom.xml").status_code == 404


def test_a_new_section_taking_an_old_slug_takes_over_its_urls(
    editor: FlaskClient, app: Flask
) -> None:
    tech = make_section(app, "Tech")
    publish(app)
    edit_section(editor, tech, Slug="technology")
    make_section(app, "Tech Policy", slug="tech")
    publish(app)
    feed = feedparser.parse(fetch(editor, "/sections/tech/atom.xml"))
    assert feed.feed.title.endswith("Tech Policy")
    assert editor.get("/sections/tech/").status_code == 200
    assert editor.get("/sections/technology/atom.xml").status_code == 200


def _delete_page(client: FlaskClient, section_id: int, **by_label: str) -> str:
    response = submit(client, f"/admin/sections/{section_id}/delete", by_label)
    return response.get_data(as_text=True) if response.status_code != 302 else ""


def _count(app: Flask, model: type) -> int:
    with transaction(app, write=False) as s:
        return len(s.scalars(select(model)).all())


def test_a_section_with_articles_is_deleted_only_with_a_section_to_move_them_to(
    editor: FlaskClient, app: Flask
) -> None:
    world, business = make_section(app, "World News"), make_section(app, "Business")
    story = make_article(app, world, "Elections")
    publish(app)
    [ident] = [e.id for e in feedparser.parse(fetch(editor, "/atom.xml")).entries]
    edit_section(editor, world, Slug="world")  # an old slug, to check it goes too
    publish(app)

    listing = editor.get("/admin/sections/").get_data(as_text=True)
    assert f'href="/admin/sections/{world}/delete">Delete</a>' in listing
    page = _delete_page(editor, world)
    assert "choose a section to move it to" in page
    assert _count(app, Section) == 2

    assert _delete_page(editor, world, **{"Move its articles to": str(business)}) == ""
    flashed = editor.get("/admin/sections/").get_data(as_text=True)
    assert "Section deleted: World News. 1 article(s) moved to Business." in flashed
    # Its URLs answer 410 at once (the stored feeds went with it), the old slug's too.
    assert_gone(editor, "world")
    assert_gone(editor, "world-news")
    publish(app)
    assert_gone(editor, "world")
    assert opml_slugs(editor) == ["business"]
    # The article kept its id, its page and its place in the site feed; Business has it now.
    moved = feedparser.parse(fetch(editor, "/sections/business/atom.xml")).entries
    assert [(e.id, e.tags[0].term) for e in moved] == [(ident, "Business")]
    assert [e.id for e in feedparser.parse(fetch(editor, "/atom.xml")).entries] == [ident]
    assert editor.get(f"/articles/{story}").status_code == 200
    with transaction(app, write=False) as s:
        assert not s.scalars(
            select(FeedDocument.path).where(FeedDocument.path.like("%world%"))
        ).all()
        assert s.scalars(select(Article.section_id)).all() == [business]


def test_an_empty_section_is_deleted_and_a_new_one_may_take_its_slug(
    editor: FlaskClient, app: Flask
) -> None:
    empty = make_section(app, "Weather")
    publish(app)
    assert _delete_page(editor, empty) == ""
    assert_gone(editor, "weather")
    make_section(app, "Weather")
    publish(app)
    check_atom(fetch(editor, "/sections/weather/atom.xml"))
    assert editor.get("/sections/weather/").status_code == 200


def test_only_admins_delete_sections(app: Flask, client: FlaskClient, writer: FlaskClient) -> None:
    world, business = make_section(app, "World News"), make_section(app, "Business")
    make_article(app, world, "Elections")
    assert writer.get(f"/admin/sections/{world}/delete").status_code == 403
    token = form_values(writer.get("/admin/articles/new"))["csrf_token"]
    response = writer.post(f"/admin/sections/{world}/delete", data={"csrf_token": token})
    assert response.status_code == 403
    with transaction(app) as s:
        create_user(s, "second-writer", WRITER[1])
    editor_api = Api(client, new_token(app, user="second-writer"))
    assert error(editor_api.delete(f"/sections/{world}"), 403)["error"] == "forbidden"

    admin_api = Api(client, new_token(app))
    refused = error(admin_api.delete(f"/sections/{world}"), 409)
    assert "move" in refused["fields"]["move_to"]
    assert error(admin_api.delete(f"/sections/{world}?move_to=nowhere"), 422)["fields"]
    assert error(admin_api.delete(f"/sections/{world}?move_to={world}"), 422)["fields"]
    assert error(admin_api.delete("/sections/999"), 404)["error"] == "not_found"
    assert _count(app, Section) == 2
    assert admin_api.delete(f"/sections/{world}?move_to=business").status_code == 204
    assert error(admin_api.get(f"/sections/{world}"), 404)["error"] == "not_found"
    assert _count(app, Section) == 1
    with transaction(app, write=False) as s:
        assert s.scalars(select(Article.section_id)).all() == [business]
    publish(app)
    assert_gone(client, "world-news")


@pytest.fixture
def export_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"))
    with transaction(app) as s:
        create_user(s, "admin", "correct horse battery", role="admin")
    yield app
    database(app).dispose()


@pytest.mark.slow
def test_through_nginx_old_urls_redirect_and_deleted_ones_are_gone(
    export_app: Flask, tmp_path: Path
) -> None:
    root = export_root(export_app)
    assert root is not None
    tech = make_section(export_app, "Tech")
    make_article(export_app, tech, "Chips")
    make_section(export_app, "Weather")
    publish(export_app)
    assert (root / "sections/tech/atom.xml").is_file()
    admin_api = Api(export_app.test_client(), new_token(export_app, user="admin"))
    response = admin_api.patch(f"/sections/{tech}", {"slug": "technology"})
    assert response.status_code == 200
    weather = 2
    assert admin_api.delete(f"/sections/{weather}").status_code == 204
    publish(export_app)
    # The export follows: the old slug's files and the deleted section's are gone.
    assert not (root / "sections/tech").exists() and not (root / "sections/weather").exists()
    assert (root / "sections/technology/atom.xml").is_file()

    with nginx_over_export(export_app, tmp_path / "nginx", **nginx_tools.POLL_OFF) as nginx:
        for name in FILES:
            response, _ = nginx.request("GET", f"/sections/tech/{name}")
            assert response.status == 301, name
            location = response.headers["Location"]
            assert location == f"{SITE_URL}/sections/technology/{name}"
            response, body = nginx.request("GET", location.removeprefix(SITE_URL))
            assert response.status == 200
            # Served from the exported file: nginx's own ETag (mtime-size), not the app's.
            assert "-" in response.headers["ETag"]
            CHECKS[name](body)
            response, _ = nginx.request("GET", f"/sections/weather/{name}")
            assert response.status == 410, name
        response, _ = nginx.request("GET", "/sections/tech/")
        assert response.status == 301
        assert response.headers["Location"] == f"{SITE_URL}/sections/technology/"
        response, _ = nginx.request("GET", "/sections/weather/")
        assert response.status == 410
        response, body = nginx.request("GET", "/opml.xml")
        assert b"/sections/technology/" in body and b"weather" not in body
