"""End to end: an editor imports a WordPress feed file at /admin/import in Chromium, reads
the report, and finds the imported stories on the public section page."""

from __future__ import annotations

from pathlib import Path

from feedsvc.storage.db import database
from tests.support.app import make_app
from tests.support.e2e import editor_browser, running_service, shot
from tests.support.factories import make_section

WORDPRESS = Path(__file__).parent / "data" / "wordpress.xml"


def test_an_editor_imports_a_feed_file_and_readers_see_its_stories(tmp_path: Path) -> None:
    with running_service(tmp_path) as site:
        app = make_app(site.database_url, tmp_path)
        make_section(app, "Harbour News", slug="harbour")
        database(app).dispose()
        with editor_browser(site) as page:
            page.get_by_role("link", name="Import").click()
            assert page.url == site.base + "/admin/import"
            page.get_by_label("Feed file").set_input_files(str(WORDPRESS))
            page.get_by_label("Section").select_option(label="Harbour News")
            page.get_by_role("button", name="Import").click()
            status = page.get_by_role("status").filter(has_text="imported")
            status.wait_for()
            assert "4 imported, 0 skipped (already imported), 1 refused" in status.inner_text()
            refused = page.locator("ul.refused li").inner_text()
            assert "Empty post" in refused and "Body is required." in refused
            shot(page, "admin-import", tmp_path)

            page.goto(site.base + "/sections/harbour/")
            body = page.locator("main").inner_text()
            for title in (
                "Ferry timetable changes – what you need to know…",
                "Council approves new sea wall",
                "Regatta week: road closures",
            ):
                assert title in body
            assert "Fish market moves indoors" not in body  # scheduled for 2099
