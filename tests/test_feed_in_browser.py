"""A feed opened in a real Chromium: the page feed.xsl makes of it, from the app and from nginx."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from devtools.procs import free_port, wait_for
from feedsvc.publishing.export import sync_all
from feedsvc.storage.db import database
from tests.support.app import make_app
from tests.support.browser import require_chromium
from tests.support.exportnginx import nginx_over_export
from tests.support.factories import make_article, make_section
from tests.support.published import publish

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TITLES = ["Storm & <surge> hits the coast", "Ferries cancelled", "Harbour reopens"]
# Set to a path (e.g. docs/feed-in-browser.png) to keep the screenshot the README shows.
SCREENSHOT_ENV = "FEED_SCREENSHOT"

# Every CSP violation, with the element that caused it (CSP3 §5.3).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const by = e.target && e.target.tagName ? e.target.tagName.toLowerCase() : "document";
  window.__violations.push(`${by}: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});
"""
# Chromium 156 deprecates XSLT (https://chromestatus.com/feature/4709671889534976): it warns in
# the console and adds its own <xslt-warning-banner> to the page, whose inline style and
# handler the page's CSP refuses. Those are the browser's, not the page's: each refusal is
# checked to come from that element, and the page itself must cause none.
BANNER = "xslt-warning-banner"
DEPRECATION = "XSLTProcessor and XSLT Processing Instructions have been deprecated"
CSP_CONSOLE = re.compile(r"^console error: (Applying inline style|Executing inline event handler)")


@contextmanager
def app_server(app: Flask, port: int) -> Iterator[list[tuple[str, int]]]:
    """The whole app (fast path, Flask, headers) on a real threaded WSGI server; yields the
    (path, status) of every answer."""
    answered: list[tuple[str, int]] = []

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, *exc: Any) -> Any:
            answered.append((environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, *exc)

        return app(environ, start)

    server = make_server("127.0.0.1", port, recording, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield answered
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Tab:
    """One page, and everything the browser complained about while it loaded."""

    def __init__(self, browser: Browser) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1000, "height": 900})
        self.problems: list[str] = []
        self.fetched: dict[str, int] = {}  # path → status of every response
        self.page.add_init_script(RECORD_VIOLATIONS)
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", self._response)

    def _response(self, response: object) -> None:
        url = str(getattr(response, "url", ""))
        status = int(getattr(response, "status", 0))
        self.fetched[url.split("/", 3)[-1]] = status

    def open(self, url: str) -> None:
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        assert response.headers["content-type"] == "application/xml; charset=utf-8"
        self.page.wait_for_selector("main.feed-page")  # the page feed.xsl made
        violations = self.page.evaluate("window.__violations || []")
        banner = [v for v in violations if v.startswith(f"{BANNER}: ")]
        self.problems += [f"csp: {v}" for v in violations if v not in banner]
        # The console repeats each of the banner's refusals; the deprecation notice aside,
        # nothing else may be there.
        console = [p for p in self.problems if p.startswith("console ")]
        refusals = [p for p in console if CSP_CONSOLE.match(p)]
        assert len(refusals) <= len(banner), (refusals, banner)
        self.problems = [p for p in self.problems if p not in refusals and DEPRECATION not in p]
        # Nothing of the page's own needs inline style or script (the banner's shadow tree,
        # which Playwright's locators would enter, is not the page's).
        inline = f"[style]:not({BANNER}), [onclick], [onload], [onerror], script, style"
        assert self.page.evaluate(f"document.querySelectorAll('{inline}').length") == 0


def _check_page(tab: Tab, feed_url: str) -> None:
    page = tab.page
    assert page.get_by_role("heading", name="This is a web feed").count() == 1
    for title in TITLES:
        link = page.get_by_role("link", name=title, exact=True)
        assert link.count() == 1, title
        assert "/articles/" in (link.get_attribute("href") or "")
    assert page.get_by_label("Copy this address into your feed reader").input_value() == feed_url
    assert page.get_by_role("link", name="Feedly").count() == 1
    # The site's style sheets applied (the CSP allows 'self'): the header's colour is site.css's.
    color = page.eval_on_selector(
        "header.site", "e => getComputedStyle(e).getPropertyValue('background-color')"
    )
    assert color == "rgb(31, 58, 95)"
    assert tab.problems == [], "\n".join(tab.problems)
    assert {tab.fetched.get(p) for p in ("feed.xsl", "static/site.css")} == {200}, tab.fetched


def _icon_found(answered: Callable[[], list[tuple[str, int]]]) -> None:
    """The browser asks for /favicon.ico itself (Playwright does not report that request):
    the server saw it, and answered 200, so the console shows no 404."""
    wait_for("the icon request", lambda: ("/favicon.ico", 200) in answered(), timeout=10)


def _access_log(base: Path) -> list[tuple[str, int]]:
    """(path, status) of each request in nginx's access log (the "combined" format)."""
    found = []
    for line in (base / "logs" / "access.log").read_text().splitlines():
        match = re.search(r'"[A-Z]+ (\S+) HTTP/[0-9.]+" (\d{3}) ', line)
        if match:
            found.append((match.group(1), int(match.group(2))))
    return found


@pytest.fixture
def published(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, int]]:
    port = free_port()
    app = make_app(
        database_url,
        tmp_path,
        SITE_URL=f"http://127.0.0.1:{port}",
        EXPORT_DIR=str(tmp_path / "export"),
        DOCUMENT_CACHE_SECONDS=60.0,
    )
    section = make_section(app, "World News", description="Home and abroad.")
    for title in reversed(TITLES):
        make_article(app, section, title, body=f"{title}: the full story, *in brief*.")
    publish(app)
    sync_all(app)
    yield app, port
    database(app).dispose()


@pytest.mark.slow
def test_a_feed_opened_in_chromium_shows_its_items_and_how_to_subscribe(
    published: tuple[Flask, int], tmp_path: Path
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    app, port = published
    site = f"http://127.0.0.1:{port}"
    with app_server(app, port) as answered, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            for name in ("rss.xml", "atom.xml"):
                tab = Tab(browser)
                feed_url = f"{site}/sections/world-news/{name}"
                tab.open(feed_url)
                _check_page(tab, feed_url)
                _icon_found(lambda: answered)
                # The browser's deprecation banner (see BANNER) covers part of the page: the
                # screenshot shows the page alone.
                tab.page.evaluate(f"document.querySelector('{BANNER}')?.remove()")
                shot = tmp_path / f"feed-{name}.png"
                tab.page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                tab.page.close()
        finally:
            browser.close()
    keep = os.environ.get(SCREENSHOT_ENV)
    if keep:
        shutil.copyfile(tmp_path / "feed-rss.xml.png", keep)


@pytest.mark.slow
def test_the_same_page_from_nginx_serving_the_export(
    published: tuple[Flask, int], tmp_path: Path
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    app, _port = published
    with nginx_over_export(app, tmp_path / "nginx") as nginx, sync_playwright() as playwright:
        base = nginx.base
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            for name in ("rss.xml", "atom.xml"):
                tab = Tab(browser)
                tab.open(f"{base}/sections/world-news/{name}")
                # The subscribe address is the feed's own (SITE_URL's), not nginx's port.
                _check_page(tab, f"http://127.0.0.1:{_port}/sections/world-news/{name}")
                _icon_found(lambda: _access_log(tmp_path / "nginx"))
                tab.page.close()
        finally:
            browser.close()
        # The feeds, the stylesheet and the icon came from the export's files, not the app.
        assert not [p for p in nginx.seen if not p.startswith("/static/")], nginx.seen
