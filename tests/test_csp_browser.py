"""The public and admin pages in a real Chromium under their Content-Security-Policy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devtools.procs import free_port, service_env, serving, web
from feedsvc import analytics
from feedsvc.storage.db import database, transaction
from feedsvc.users import create_user
from tests.support.app import EDITOR, make_app
from tests.support.browser import require_chromium
from tests.support.factories import make_article, make_section
from tests.support.nginx import check_skips_locally_fails_in_ci
from tests.support.published import publish

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

# Every CSP violation the page reports, as it happens (CSP3 §5.3 "securitypolicyviolation"):
# an init script runs before the page's own and is not subject to its policy.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.mark.parametrize("ci", [None, "true", "1"])
def test_missing_chromium_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    check_skips_locally_fails_in_ci(monkeypatch, ci, require_chromium, "chromium is not installed")


class Visits:
    """One browser tab: every page it opens, and what the browser refused on each."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.refused: list[str] = []  # "path: what", from events and the console alike
        self.errors: list[str] = []  # uncaught script errors
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    def _console(self, message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text:
            self.refused.append(f"{self.page.url}: console: {text}")

    def open(self, path: str) -> None:
        response = self.page.goto(self.base + path, wait_until="networkidle")
        assert response is not None and response.status < 500, path
        self.collect()

    def collect(self) -> None:
        found = self.page.evaluate("window.__violations || []")
        self.refused += [f"{self.page.url}: {v}" for v in found]
        self.page.evaluate("window.__violations = []")

    def style_of(self, selector: str, prop: str) -> str:
        value: str = self.page.eval_on_selector(
            selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')"
        )
        return value


@pytest.mark.slow
def test_public_and_admin_pages_work_under_their_csp_in_chromium(tmp_path: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    port = free_port()
    site = f"http://127.0.0.1:{port}"
    url = f"sqlite:///{tmp_path / 'csp.sqlite3'}"
    app = make_app(url, tmp_path, SITE_URL=site)
    with transaction(app) as s:
        create_user(s, *EDITOR)
    section = make_section(app, "World News", description="Home and abroad.")
    body = (
        "Turnout was *high*; see [the count](https://example.org/count).\n\n"
        f"![Turnout chart]({site}/static/no-such-chart.png)\n\n"
        "| Party | Seats |\n|:--|--:|\n| Greens | 12 |\n"
    )
    article = make_article(app, section, "Elections", body=body)
    publish(app)
    # Readers counted today, so /admin/analytics draws its SVG charts under the policy too.
    with transaction(app) as s:
        polls = [("sections/world-news/atom.xml", "192.0.2.1", "curl/8.5.0")]
        analytics.store(
            s, analytics.tally(str(app.config["SECRET_KEY"]), datetime.now(UTC).date(), polls)
        )
    database(app).dispose()

    env = service_env(url, port=port, site_url=site)
    with (
        serving(web(env, tmp_path / "gunicorn.log"), port),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            visits = Visits(browser.new_page(), site)
            page = visits.page

            for path in ("/", "/sections/world-news/", f"/articles/{article}", "/nope"):
                visits.open(path)
                # site.css applies: the style sheet is this site's, which the CSP allows.
                assert visits.style_of("header.site", "background-color") == "rgb(31, 58, 95)"
            visits.open(f"/articles/{article}")
            assert page.locator(".body img[alt='Turnout chart']").count() == 1
            assert page.locator(".body td[align='right']").inner_text() == "12"

            visits.open("/admin/login")
            page.get_by_label("Username").fill(EDITOR[0])
            page.get_by_label("Password").fill(EDITOR[1])
            with page.expect_navigation():
                page.get_by_role("button", name="Log in").click()
            assert page.url == site + "/admin/"
            visits.collect()
            for path in (
                "/admin/sections/",
                "/admin/sections/new",
                f"/admin/sections/{section}/edit",
                "/admin/articles/new",
                f"/admin/articles/{article}/edit",
                "/admin/analytics",
                "/admin/",
            ):
                visits.open(path)
                assert visits.style_of("header.site", "background-color") == "rgb(31, 58, 95)"

            # The delete button asks first (static/admin.js, no inline handler): "Cancel"
            # keeps the article, "OK" deletes it.
            asked: list[str] = []

            def answer(accept: bool) -> None:
                def handle(dialog: Dialog) -> None:
                    asked.append(dialog.message)
                    dialog.accept() if accept else dialog.dismiss()

                page.once("dialog", handle)

            delete = page.get_by_role("button", name="Delete “Elections”")
            answer(accept=False)
            delete.click()
            assert asked == ["Delete this article? Readers will no longer see it."]
            visits.open("/admin/")
            assert page.get_by_text("Elections").count() == 1
            answer(accept=True)
            with page.expect_navigation():
                page.get_by_role("button", name="Delete “Elections”").click()
            assert len(asked) == 2
            assert page.get_by_text("No articles yet.").count() == 1
            visits.collect()

            assert visits.refused == []
            assert visits.errors == []

            # The watch itself works: an inline script is refused, and reported.
            page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.__ran = true'; document.head.appendChild(s); }"
            )
            page.wait_for_function("window.__violations.length > 0")
            assert page.evaluate("window.__ran === undefined")
            visits.collect()
            # Reported both ways: the event, and Chromium's console line.
            reports = sorted(v.split(": ", 1)[1] for v in visits.refused)
            assert len(reports) == 2, reports
            assert reports[0].startswith("console: Executing inline script violates")
            assert reports[1] == "script-src-elem blocked inline"
        finally:
            browser.close()
