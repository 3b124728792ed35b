"""End-to-end harness: the real service (gunicorn + scheduler) and an editor in Debian's Chromium.

    with running_service(tmp_path, database_url) as site, editor_browser(site) as page:
        ...  # page is logged in to site.base + "/admin/" as site.editor

Screenshots: `shot(page, "admin-articles")` always writes under the test's tmp folder; with
E2E_SCREENSHOTS=docs/screenshots (a folder) it also keeps the picture there, which is how the
README's images are refreshed: `E2E_SCREENSHOTS=docs/screenshots make test`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devtools.procs import free_port, scheduler, service_env, serving, web
from feedsvc.limits import ROLE_ADMIN
from feedsvc.storage.db import database
from tests.support.app import EDITOR, add_account, make_app
from tests.support.browser import require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS_ENV = "E2E_SCREENSHOTS"


@dataclass
class Site:
    base: str  # http://127.0.0.1:PORT, no trailing slash
    database_url: str
    editor: tuple[str, str]  # username, password (an admin: sections and tokens too)
    workdir: Path


@contextmanager
def running_service(
    tmp_path: Path, database_url: str | None = None, *, tick: float = 1.0, **settings: str
) -> Iterator[Site]:
    """gunicorn and the scheduler on a free port, over a migrated database with one admin.

    database_url defaults to a new SQLite file under tmp_path; settings are FEEDSVC_<NAME>
    values for both processes (e.g. FEEDSVC_MEDIA_PROBE_ALLOW_PRIVATE="true")."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = database_url or f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    app = make_app(url, tmp_path, SITE_URL=base)
    add_account(app, EDITOR[0], EDITOR[1], ROLE_ADMIN)
    database(app).dispose()
    env = service_env(url, port=port, site_url=base, FEEDSVC_TICK_SECONDS=str(tick), **settings)
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    with (
        scheduler(env, logs / "scheduler.log"),
        serving(web(env, logs / "gunicorn.log"), port),
    ):
        yield Site(base=base, database_url=url, editor=EDITOR, workdir=tmp_path)


@contextmanager
def editor_browser(site: Site, *, log_in: bool = True) -> Iterator[Page]:
    """A Chromium tab (1200 × 900), logged in as the site's editor unless log_in=False."""
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            if log_in:
                login(page, site)
            yield page
        finally:
            browser.close()


def login(page: Page, site: Site) -> None:
    """Log in through the form, as a person would (labels, not selectors)."""
    page.goto(site.base + "/admin/login")
    page.get_by_label("Username").fill(site.editor[0])
    page.get_by_label("Password").fill(site.editor[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.url == site.base + "/admin/", page.url


def shot(page: Page, name: str, tmp_path: Path) -> Path:
    """A full-page PNG of what the editor sees now; kept in $E2E_SCREENSHOTS too when set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get(SCREENSHOTS_ENV)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(keep) / path.name)
    return path
