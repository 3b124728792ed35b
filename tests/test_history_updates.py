"""Honest updates: a feed's updated moves for a correction, never for a silent fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import feedparser
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import MetaData, inspect, update

from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, utcnow
from tests.support.apiclient import Api, body, conforms, error, new_token
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import check_atom, check_json
from tests.support.forms import edit_article
from tests.support.published import publish

ATOM, JSON = "/sections/world-news/atom.xml", "/sections/world-news/feed.json"
CORRECTION = "Correction: show readers this story again (its updated date moves)"
SILENT = "Silent fix: keep the updated date (a typo, a broken link)"
WRITTEN = (utcnow() - timedelta(hours=2)).replace(microsecond=0)


def story(app: Flask) -> int:
    """A story published and last revised two hours ago, as readers have seen it since."""
    article = make_article(app, make_section(app), "Council keeps fares", body="Teh vote.")
    with transaction(app) as s:
        s.execute(
            update(Article)
            .where(Article.id == article)
            .values(publish_at=WRITTEN, updated_at=WRITTEN, revised_at=WRITTEN)
        )
    publish(app)
    return article


def seen(client: FlaskClient) -> tuple[str, datetime, datetime, str, str]:
    """What a reader sees: (id, Atom updated, JSON date_modified, Atom content, Atom ETag)."""
    atom = client.get(ATOM)
    check_atom(atom.get_data())
    [entry] = feedparser.parse(atom.get_data()).entries
    [item] = check_json(client.get(JSON).get_data())["items"]
    assert item["id"] == entry.id
    return (
        entry.id,
        datetime(*entry.updated_parsed[:6], tzinfo=UTC),
        datetime.fromisoformat(item["date_modified"]),
        entry.content[0].value,
        atom.headers["ETag"],
    )


def test_the_edit_form_asks_and_defaults_to_a_silent_fix(editor: FlaskClient, app: Flask) -> None:
    article = story(app)
    page = html.fromstring(editor.get(f"/admin/articles/{article}/edit").get_data(as_text=True))
    [legend] = page.xpath("//fieldset/legend")
    assert legend.text_content() == "What kind of change is this?"
    radios = {
        page.xpath(f"//label[@for='{r.get('id')}']")[0].text_content(): r
        for r in page.xpath("//input[@type='radio'][@name='correction']")
    }
    assert set(radios) == {CORRECTION, SILENT}
    assert radios[SILENT].get("checked") is not None
    assert radios[CORRECTION].get("checked") is None


def test_a_silent_fix_keeps_updated_and_a_correction_moves_it(
    editor: FlaskClient, app: Flask
) -> None:
    article = story(app)
    ident, updated, modified, _content, etag = seen(editor)
    assert updated == modified == WRITTEN

    edit_article(editor, article, Body="The vote.")  # the default: a silent fix
    publish(app)
    fixed = seen(editor)
    assert fixed[0] == ident and fixed[1] == fixed[2] == WRITTEN  # readers are not told again
    assert "The vote." in fixed[3] and fixed[4] != etag  # but they get the fixed text
    with transaction(app, write=False) as s:  # the admin still sees when it was saved
        saved = s.get(Article, article)
        assert saved is not None and saved.updated_at > WRITTEN

    edit_article(editor, article)  # saved again without a change: the feeds' bytes stay
    publish(app)
    assert seen(editor) == fixed

    before = utcnow()
    edit_article(
        editor, article, Title="Council keeps fares, after all", **{CORRECTION: "correction"}
    )
    publish(app)
    corrected = seen(editor)
    assert corrected[0] == ident  # the same story, never a new id
    assert corrected[1] == corrected[2] >= before  # shown again as updated
    assert corrected[4] != fixed[4]


def test_the_api_takes_the_same_choice(app: Flask, client: FlaskClient) -> None:
    article = story(app)
    api = Api(client, new_token(app))
    ident, updated, _modified, _content, _etag = seen(client)

    response = api.patch(f"/articles/{article}", {"body": "The vote."})
    assert response.status_code == 200, response.get_data(as_text=True)
    saved = body(response)
    conforms(saved, "Article")
    assert datetime.fromisoformat(saved["revised_at"]) == WRITTEN  # a silent fix keeps it
    assert datetime.fromisoformat(saved["updated_at"]) > WRITTEN  # the save's own time
    publish(app)
    assert seen(client)[:3] == (ident, updated, updated)

    before = utcnow()
    response = api.patch(f"/articles/{article}", {"correction": True, "title": "Fares rise"})
    saved = body(response)
    assert response.status_code == 200 and saved["guid"] == ident
    assert datetime.fromisoformat(saved["revised_at"]) >= before
    publish(app)
    moved = seen(client)
    assert moved[0] == ident and moved[1] == moved[2] >= before

    response = api.patch(f"/articles/{article}", {"correction": "yes"})
    assert error(response, 400)["fields"] == {"correction": "“correction” must be true or false."}
    # A new article has nothing to correct: the field is the PATCH's alone.
    response = api.post("/articles", {"title": "x", "section": 1, "body": "x", "correction": True})
    assert "correction" in error(response, 400)["fields"]


def test_the_openapi_description_documents_the_choice(client: FlaskClient) -> None:
    document = json.loads(client.get("/api/v1/openapi.json").get_data())
    schemas = document["components"]["schemas"]
    correction = schemas["ArticlePatch"]["properties"]["correction"]
    assert correction["type"] == "boolean" and correction["default"] is False
    assert "silent fix" in correction["description"]
    assert "correction" not in schemas["ArticleCreate"]["properties"]
    assert "revised_at" in schemas["Article"]["required"]


def test_the_migration_fills_revised_at_from_what_feeds_showed(empty_app: Flask) -> None:
    engine = database(empty_app).engine
    migrate.upgrade(engine, "0009")
    tables = MetaData()
    tables.reflect(engine, only=["sections", "articles"])
    sections, articles = tables.tables["sections"], tables.tables["articles"]
    with engine.begin() as conn:
        conn.execute(
            sections.insert().values(
                id=1, guid="urn:uuid:s", name="World", slug="world", description="",
                items_per_feed=50, revision=1, rendered_revision=0,
                created_at=WRITTEN, updated_at=WRITTEN,
            )
        )  # fmt: skip
        conn.execute(
            articles.insert().values(
                id=7, guid="urn:uuid:a", section_id=1, title="Old", body_source="x",
                body_html="<p>x</p>", summary_source="", summary="x", author="",
                status="published", publish_at=WRITTEN - timedelta(days=1),
                created_at=WRITTEN - timedelta(days=1), updated_at=WRITTEN,
            )
        )  # fmt: skip
    migrate.upgrade(engine)
    with transaction(empty_app, write=False) as s:
        article = s.get(Article, 7)
        assert article is not None and article.revised_at == WRITTEN
    migrate.downgrade(engine, "0009")
    assert "revised_at" not in {c["name"] for c in inspect(engine).get_columns("articles")}
    assert "tombstones" not in inspect(engine).get_table_names()
