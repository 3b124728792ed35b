"""The article list in Chromium, as an editor who has not read the code uses it: search,
the Status filter, Older and Newer, against the real service (gunicorn and the scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.articles import ArticleInput, create_article
from feedsvc.storage.db import database, transaction
from tests.support.app import make_app
from tests.support.e2e import editor_browser, running_service, shot
from tests.support.factories import BASE_URL, make_section

pytestmark = pytest.mark.slow
NOW = datetime.now(UTC).replace(microsecond=0)


def _seed(database_url: str, tmp_path: Path) -> None:
    """120 articles as the services store them: 100 published an hour apart (every fourth
    about the harbour), 12 drafts, 8 scheduled; two sections, three authors."""
    app = make_app(database_url, tmp_path / "seed")
    try:
        world, sport = make_section(app, "World"), make_section(app, "Sport")
        authors = ["Ana Lopez", "Kaito Tanaka", "Rosa Okafor"]
        with transaction(app) as s:
            for n in range(120):
                if n < 8:
                    status, when, kind = "published", NOW + timedelta(days=8 - n), "Scheduled"
                elif n < 20:
                    status, when, kind = "draft", None, "Draft"
                else:
                    status, when, kind = "published", NOW - timedelta(hours=n), "Story"
                topic = "harbour" if n % 4 == 0 else "council"
                data = ArticleInput(
                    title=f"{kind} {n:03d}: the {topic} {'reopens' if n % 2 else 'votes'}",
                    section_id=world if n % 3 else sport,
                    body=f"Reporting on the **{topic}** from the newsroom, part {n}.",
                    author=authors[n % 3], status=status, publish_at=when,
                )  # fmt: skip
                create_article(s, data, base_url=BASE_URL)
    finally:
        database(app).dispose()


def _titles(page: object) -> list[str]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    return page.locator("table.list tbody tr td:first-child .title").all_inner_texts()


def test_search_filter_and_pages_in_a_browser(database_url: str, tmp_path: Path) -> None:
    with running_service(tmp_path, database_url) as site:
        _seed(site.database_url, tmp_path)
        with editor_browser(site) as page:
            page.goto(site.base + "/admin/")
            first = _titles(page)
            assert len(first) == 50
            assert first[0] == "Scheduled 000: the harbour votes"  # the latest publish time first
            assert (
                page.get_by_role("row")
                .filter(has_text="Scheduled 000")
                .get_by_text("Goes out")
                .is_visible()
            )

            # Older, then Newer: the next 50, then the same first page again.
            page.get_by_role("link", name="Older").click()
            second = _titles(page)
            assert len(second) == 50 and not set(second) & set(first)
            page.get_by_role("link", name="Older").click()
            third = _titles(page)
            assert len(third) == 20
            assert page.get_by_role("link", name="Older").count() == 0
            page.get_by_role("link", name="Newer").click()
            assert _titles(page) == second
            page.get_by_role("link", name="Newer").click()
            assert _titles(page) == first
            assert page.get_by_role("link", name="Newer").count() == 0

            # Search and a status together; the URL keeps both, so it can be shared.
            page.get_by_label("Search").fill("Harbour")
            page.get_by_label("Status").select_option(label="Published")
            page.get_by_role("button", name="Filter").click()
            found = _titles(page)
            assert found and all("harbour" in t and t.startswith("Story") for t in found)
            assert len(found) == len([n for n in range(20, 120) if n % 4 == 0])  # 25
            assert "q=Harbour" in page.url and "status=published" in page.url
            assert page.get_by_label("Search").input_value() == "Harbour"

            page.get_by_label("Status").select_option(label="Any status")
            page.get_by_role("button", name="Filter").click()
            mixed = _titles(page)
            assert len(mixed) == 30  # 25 stories, 3 drafts, 2 scheduled about the harbour
            assert any(t.startswith("Draft") for t in mixed)
            shot(page, "admin-articles-search", tmp_path)

            page.get_by_label("Search").fill("zeppelin")
            page.get_by_role("button", name="Filter").click()
            assert page.get_by_text("No articles match these filters.").is_visible()
