"""The admin's article list: pages of 50 newest first, filters, search, and lenient URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html

from feedsvc.articles import ArticleInput, create_article
from feedsvc.storage.db import database, transaction
from tests.support.app import make_app
from tests.support.factories import BASE_URL, make_section
from tests.support.forms import AuthActions, labelled_fields

NOW = datetime.now(UTC).replace(microsecond=0)
PAGE = 50


def _rows(page: str) -> list[str]:
    doc = html.fromstring(page)
    return [
        span.text_content() for span in doc.xpath("//table//tbody/tr/td[1]/span[@class='title']")
    ]


def _link(page: str, text: str) -> str | None:
    found = html.fromstring(page).xpath("//nav[@class='pager']/a[contains(., $t)]/@href", t=text)
    return str(found[0]) if found else None


def _get(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _walk(client: FlaskClient, url: str) -> list[list[str]]:
    """Every page from url by its Older links; then back up by Newer, checked to match."""
    pages: list[list[str]] = []
    urls = []
    next_url: str | None = url
    while next_url is not None and len(pages) < 20:
        page = _get(client, next_url)
        urls.append(next_url)
        pages.append(_rows(page))
        next_url = _link(page, "Older")
    back: list[list[str]] = []
    page = _get(client, urls[-1])
    while (newer := _link(page, "Newer")) is not None and len(back) < 20:
        page = _get(client, newer)
        back.append(_rows(page))
    assert back[::-1] == pages[:-1], "Newer leads back through the same pages"
    return pages


@pytest.fixture
def archive(app: Flask) -> dict[str, list[str]]:
    """125 articles in two sections: published an hour apart (some at one same minute, so
    ties go by id), drafts, scheduled ones; each title says what it is. Titles by the order
    an editor expects: newest publish time first, drafts by when they were written."""
    world = make_section(app, "World")
    sport = make_section(app, "Sport")
    expected: dict[str, list[str]] = {"all": [], "world": [], "draft": [], "scheduled": []}
    specs: list[tuple[str, int, str, datetime | None]] = []
    for n in range(5):  # scheduled: publish time to come, the newest of all
        specs.append((f"Scheduled {n} harbour", world, "published", NOW + timedelta(days=5 - n)))
    for n in range(110):
        when = NOW - timedelta(hours=n // 3 if n < 30 else n)  # threes share a time
        section = world if n % 2 == 0 else sport
        word = "harbour" if n % 5 == 0 else "council"
        specs.append((f"Published {n:03d} {word}", section, "published", when))
    for n in range(10):
        specs.append((f"Draft {n} harbour", sport, "draft", NOW - timedelta(days=200 + n)))
    with transaction(app) as s:
        # Inserted oldest first within a tie, so that the higher id (newer row) lists first.
        for title, section, status, when in reversed(specs):
            data = ArticleInput(
                title=title, section_id=section, body=f"Body of {title.lower()}.",
                status=status, publish_at=when, author="Ana Lopez" if "3" in title else "",
            )  # fmt: skip
            create_article(s, data, base_url=BASE_URL)
    for title, section, status, _when in specs:
        expected["all"].append(title)
        if section == world:
            expected["world"].append(title)
        if status == "draft":
            expected["draft"].append(title)
        if title.startswith("Scheduled"):
            expected["scheduled"].append(title)
    return expected


def _flat(pages: list[list[str]]) -> list[str]:
    return [title for page in pages for title in page]


def _chunks(titles: list[str]) -> list[list[str]]:
    return [titles[i : i + PAGE] for i in range(0, len(titles), PAGE)]


def test_pages_walk_every_article_once_newest_first(
    editor: FlaskClient, archive: dict[str, list[str]]
) -> None:
    pages = _walk(editor, "/admin/")
    assert [len(p) for p in pages] == [50, 50, 25]
    assert pages == _chunks(archive["all"])


def test_filters_and_search_keep_through_the_pages(
    editor: FlaskClient, archive: dict[str, list[str]]
) -> None:
    page = _get(editor, "/admin/")
    fields = labelled_fields(page, "/admin/")
    assert {"Section", "Status", "Author", "Search"} <= set(fields)
    world = html.fromstring(page).xpath("//select[@name='section']/option[.='World']/@value")[0]

    pages = _walk(editor, f"/admin/?section={world}")
    assert pages == _chunks(archive["world"])

    searched = [t for t in archive["world"] if "harbour" in t]
    pages = _walk(editor, f"/admin/?section={world}&q=HARBOUR")
    assert _flat(pages) == searched

    published = [t for t in archive["all"] if t.startswith("Published") and "harbour" in t]
    pages = _walk(editor, "/admin/?status=published&q=harbour&q=ignored")
    assert _flat(pages) == published

    assert _flat(_walk(editor, "/admin/?status=draft")) == archive["draft"]
    assert _flat(_walk(editor, "/admin/?status=scheduled")) == archive["scheduled"]


def test_author_filter_finds_the_author_in_any_case(
    editor: FlaskClient, archive: dict[str, list[str]]
) -> None:
    wanted = [t for t in archive["all"] if "3" in t]
    assert _flat(_walk(editor, "/admin/?author=ana+LOPEZ")) == wanted
    bylines = html.fromstring(_get(editor, "/admin/?author=ana+LOPEZ")).xpath("//td[1]/small")
    assert {b.text_content() for b in bylines} == {"by Ana Lopez"}  # the list shows it too
    page = _get(editor, "/admin/?author=Nobody+Here")
    assert _rows(page) == []
    assert "No author is called “Nobody Here”" in page


BAD = [
    ("section=999999", "That section does not exist"),
    ("section=abc", "That section does not exist"),
    ("section=99999999999999999999", "That section does not exist"),
    ("status=deleted", "Status is draft, scheduled or published"),
    ("before=garbage", "That page link is damaged"),
    ("after=20261304T000000.000000_1", "That page link is damaged"),
    ("before=20260101T000000.000000_99999999999", "That page link is damaged"),
    ("q=%22%28*%5E-", "Search looks for words"),
]


def test_bad_parameters_are_named_and_ignored_and_no_result_is_said(
    editor: FlaskClient, archive: dict[str, list[str]]
) -> None:
    for query, message in BAD:
        page = _get(editor, f"/admin/?{query}")
        assert message in page, query
        assert _rows(page) == archive["all"][:PAGE], query
    page = _get(editor, "/admin/?q=" + "harbour " * 40)
    assert "Only the first 200 characters" in page
    assert _rows(page)[0] == "Scheduled 0 harbour"

    page = _get(editor, "/admin/?q=zebra")  # nothing found: said so, the search kept
    assert _rows(page) == []
    assert "No articles match these filters." in page
    assert 'value="zebra"' in page


def test_scheduled_articles_show_when_they_go_out_in_the_newsrooms_zone(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(database_url, tmp_path, TIMEZONE="Asia/Tokyo")
    try:
        from feedsvc.users import create_user
        from tests.support.app import EDITOR

        with transaction(app) as s:
            create_user(s, *EDITOR, role="admin")
        section = make_section(app, "World")
        out = datetime(2099, 3, 4, 5, 6, tzinfo=UTC)
        with transaction(app) as s:
            for title, status, when in [
                ("Later", "published", out), ("Idea", "draft", None), ("Done", "published", None)
            ]:  # fmt: skip
                data = ArticleInput(title=title, section_id=section, body="x", status=status,
                                    publish_at=when)  # fmt: skip
                create_article(s, data, base_url=BASE_URL)
        client = app.test_client()
        AuthActions(client).login()
        doc = html.fromstring(_get(client, "/admin/"))
        cells = {
            row.xpath("td[1]/span")[0].text_content(): (
                row.xpath("td[3]")[0].text_content().strip(),
                row.xpath("td[4]")[0].text_content().strip(),
            )
            for row in doc.xpath("//table//tbody/tr")
        }
        assert cells["Later"][0] == "Scheduled"
        assert cells["Later"][1].startswith("Goes out 2099-03-04 14:06")  # UTC+9
        assert cells["Idea"] == ("Draft", "not set")
        assert cells["Done"][0] == "Published" and cells["Done"][1][:4].isdigit()
    finally:
        database(app).dispose()
