"""The article form's Preview, and editors' look at drafts and scheduled articles' pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from feedsvc.limits import ROLE_ADMIN
from feedsvc.storage.db import database, transaction
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, Section
from feedsvc.users import create_user
from tests.support.app import EDITOR, make_app
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import entries
from tests.support.forms import AuthActions, add_article, form_values, labelled_fields
from tests.support.published import publish

ZONE = "Europe/Berlin"
BODY = (
    "Fares stay *frozen*; see [the minutes](minutes/12).\n\n"
    "<script>alert('x')</script><p onclick=\"steal()\">Click</p>\n\n"
    "The vote is next week."
)


@pytest.fixture
def berlin(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, FlaskClient]]:
    """An app whose newsroom is in Berlin, one section, and an editor logged in."""
    app = make_app(database_url, tmp_path, TIMEZONE=ZONE)
    with transaction(app) as s:
        create_user(s, *EDITOR, role=ROLE_ADMIN)
    make_section(app, "City Hall")
    client = app.test_client()
    assert AuthActions(client).login().status_code == 302
    yield app, client
    database(app).dispose()


def press(
    client: FlaskClient, page: str | TestResponse, button: str, by_label: dict[str, str]
) -> TestResponse:
    """Fill the article form by label and press the button (Save or Preview) by its text."""
    response = client.get(page) if isinstance(page, str) else page
    text = response.get_data(as_text=True)
    values = form_values(text)
    names = labelled_fields(text)
    for label, value in by_label.items():
        values[names[label]] = value
    doc = html.fromstring(text)
    (pressed,) = [b for b in doc.iter("button") if b.text_content().strip() == button]
    values[pressed.get("name")] = pressed.get("value")
    action = page if isinstance(page, str) else response.request.path
    return client.post(action, data=values)


def stored_state(app: Flask) -> tuple[Any, ...]:
    """Everything a save would move: the articles as stored, every section's revision and the
    queue of media for the scheduler to probe."""
    with transaction(app, write=False) as s:
        rows = s.execute(
            select(Article.id, Article.title, Article.version, Article.updated_at)
        ).all()
        revisions = s.execute(select(Section.id, Section.revision)).all()
        probes = s.scalar(select(func.count()).select_from(MediaProbe))
        return tuple(map(tuple, rows)), tuple(map(tuple, revisions)), probes


def preview_of(response: TestResponse) -> Any:
    """The preview region of the page, as a person (or a screen reader) finds it."""
    doc = html.fromstring(response.get_data(as_text=True))
    regions = doc.xpath("//section[@aria-labelledby='preview-heading']")
    return regions[0] if regions else None


def meta(region: Any) -> dict[str, str]:
    """The preview's labelled facts: Date, Author, Section and tags, Lead image, Summary."""
    terms = region.xpath(".//dl/dt")
    return {dt.text_content().strip(): dt.getnext().text_content().strip() for dt in terms}


def test_preview_shows_the_entry_and_stores_nothing(berlin: tuple[Flask, FlaskClient]) -> None:
    app, client = berlin
    before = stored_state(app)
    response = press(
        client,
        "/admin/articles/new",
        "Preview",
        {
            "Title": "Fares  frozen",
            "Body": BODY,
            "Author": "Ana Ruiz",
            "Tags": "transport, Transport, budget",
            "Publish at": "2031-07-01T14:30",
            "Image URL": "https://img.example.org/tram.jpg",
            "Image alt text": "A tram at night",
            "Attachment URL": "https://media.example.org/minutes.pdf",
        },
    )
    assert response.status_code == 200
    assert stored_state(app) == before  # no row, no revision
    region = preview_of(response)
    assert region is not None
    assert region.xpath(".//h3")[0].text_content() == "Fares frozen"  # cleaned as saved
    facts = meta(region)
    # 14:30 in Berlin in July is CEST, 12:30 UTC.
    assert facts["Date"] == "2031-07-01 14:30 CEST"
    assert region.xpath(".//time/@datetime") == ["2031-07-01T12:30:00+00:00"]
    assert "Scheduled: it goes out at 2031-07-01 14:30 CEST" in region.text_content()
    assert facts["Author"] == "Ana Ruiz"
    assert facts["Section and tags"] == "City Hall, transport, budget"
    assert "https://img.example.org/tram.jpg" in facts["Lead image"]
    assert "A tram at night" in facts["Lead image"]
    assert facts["Summary"].startswith("Fares stay frozen; see the minutes.")
    body = region.xpath(".//div[contains(@class, 'entry-body')]")[0]
    assert body.xpath(".//em")[0].text == "frozen"
    assert body.xpath(".//a/@href") == ["http://feeds.example.org/minutes/12"]  # absolute
    assert not body.xpath(".//script | .//*[@onclick]")
    assert "alert" not in html.tostring(body, encoding="unicode")
    # The form keeps every typed value, so the editor goes on and then saves.
    values = form_values(response)
    assert values["title"] == "Fares  frozen"
    # (a textarea's first newline is markup, not text: HTML §13.1.2.5)
    assert values["body"].lstrip("\r\n").splitlines() == BODY.splitlines()
    assert values["publish_at"] == "2031-07-01T14:30" and values["author"] == "Ana Ruiz"
    saved = press(client, response, "Save", {})
    assert saved.status_code == 302
    assert stored_state(app)[2] == 1  # the save queued what the preview did not
    with transaction(app, write=False) as s:
        article = s.scalars(select(Article)).one()
        assert article.title == "Fares frozen"
        assert article.publish_at == datetime(2031, 7, 1, 12, 30, tzinfo=UTC)


def test_preview_refuses_what_save_refuses_in_the_same_words(
    berlin: tuple[Flask, FlaskClient],
) -> None:
    app, client = berlin
    bad = {"Title": "Fares", "Body": "Text.", "Image URL": "javascript:alert(1)"}
    previewed = press(client, "/admin/articles/new", "Preview", bad)
    saved = press(client, "/admin/articles/new", "Save", bad)
    assert previewed.status_code == saved.status_code == 200
    assert preview_of(previewed) is None

    def errors(response: TestResponse) -> list[str]:
        doc = html.fromstring(response.get_data(as_text=True))
        found = doc.xpath("//*[contains(concat(' ', @class, ' '), ' error ')]")
        return [e.text_content() for e in found]

    assert errors(previewed) == errors(saved) and len(errors(previewed)) == 2
    assert "Nothing was saved" in errors(previewed)[0]
    empty = press(client, "/admin/articles/new", "Preview", {"Title": "", "Body": "Text."})
    assert "Title is required." in empty.get_data(as_text=True)
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 0


def test_preview_of_an_edit_moves_no_version_and_saving_after_it_works(
    berlin: tuple[Flask, FlaskClient],
) -> None:
    app, client = berlin
    section = int(form_values(client.get("/admin/articles/new"))["section_id"])
    article = make_article(app, section, "Old title", body="Old text.", author="Ana")
    publish(app)
    before = stored_state(app)
    page = f"/admin/articles/{article}/edit"
    response = press(client, page, "Preview", {"Title": "New title", "Body": "New *text*."})
    assert stored_state(app) == before  # same title, version, updated_at and revisions
    region = preview_of(response)
    assert region.xpath(".//h3")[0].text_content() == "New title"
    assert region.xpath(".//em")[0].text == "text"
    assert "Published: saving changes it for readers." in region.text_content()
    assert meta(region)["Author"] == "Ana"
    # Readers have seen it: a silent fix keeps the date feeds show as updated...
    with transaction(app, write=False) as s:
        revised = s.get(Article, article).revised_at  # type: ignore[union-attr]
    assert revised is not None
    shown = revised.astimezone(ZoneInfo(ZONE))
    assert meta(region)["Updated"] == f"{shown:%Y-%m-%d %H:%M %Z}, unchanged: a silent fix"
    # ...a correction moves it to the save.
    label = "Correction: show readers this story again (its updated date moves)"
    fix = {"Title": "New title", label: "correction"}
    corrected = press(client, page, "Preview", fix)
    assert meta(preview_of(corrected))["Updated"] == "the moment you save"
    assert stored_state(app) == before
    # The form was opened at the stored version and still is: Save goes through.
    saved = press(client, response, "Save", {})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with transaction(app, write=False) as s:
        assert s.get(Article, article).title == "New title"  # type: ignore[union-attr]


def test_what_is_previewed_is_what_the_feeds_carry(berlin: tuple[Flask, FlaskClient]) -> None:
    app, client = berlin
    typed = {"Title": "Budget passes", "Body": BODY, "Tags": "budget", "Summary": ""}
    region = preview_of(press(client, "/admin/articles/new", "Preview", typed))
    shown_body = region.xpath(".//div[contains(@class, 'entry-body')]")[0]
    shown = "".join(html.tostring(c, encoding="unicode") for c in shown_body)
    facts = meta(region)
    add_article(client, **typed)
    publish(app)
    feed = client.get("/sections/city-hall/atom.xml")
    (entry,) = entries("atom", feed.get_data())
    assert entry.title == "Budget passes"
    assert html.fromstring(entry.content).text_content() == html.fromstring(shown).text_content()
    assert entry.summary == facts["Summary"]
    assert entry.tags == ["City Hall", "budget"]
    assert facts["Author"].startswith(app.config["SITE_NAME"])  # no author: the site's name
    assert entry.author == app.config["SITE_NAME"]


def test_drafts_and_scheduled_pages_are_for_editors_only_and_never_cached(
    app: Flask, editor: FlaskClient
) -> None:
    section = make_section(app)
    draft = make_article(app, section, "Draft story", status="draft")
    later = datetime.now(UTC) + timedelta(days=2)
    scheduled = make_article(app, section, "Tomorrow's story", when=later)
    public = app.test_client()
    for article in (draft, scheduled):
        response = public.get(f"/articles/{article}")
        assert response.status_code == 404
        assert response.headers["Cache-Control"] == "no-store"
        seen = editor.get(f"/articles/{article}")
        assert seen.status_code == 200
        assert seen.headers["Cache-Control"] == "private, no-store"
    draft_page = editor.get(f"/articles/{draft}").get_data(as_text=True)
    assert "Draft — not published." in draft_page and "Draft story" in draft_page
    scheduled_page = editor.get(f"/articles/{scheduled}").get_data(as_text=True)
    assert f"Scheduled for {later:%Y-%m-%d %H:%M} UTC." in scheduled_page
    # The admin list links every article's page, drafts too.
    listing = editor.get("/admin/").get_data(as_text=True)
    assert f'href="/articles/{draft}">View' in listing
    # Once published the page is everyone's, with no banner and no private marking.
    edit = f"/admin/articles/{draft}/edit"
    assert press(editor, edit, "Save", {"Status": "published"}).status_code == 302
    for client in (public, editor):
        response = client.get(f"/articles/{draft}")
        assert response.status_code == 200
        assert "private" not in response.headers.get("Cache-Control", "")
        assert "not published" not in response.get_data(as_text=True)
