"""The admin in a real Chromium, as an editor uses it, with readers' software checking each step.

One story, against gunicorn and the scheduler (tests/support/e2e.py): log in, create a section,
write an article and preview it, schedule it and see it go out, publish another at once, make
a correction, delete one, look at a draft's page. After each step the public side is read
with a plain HTTP client, every feed through tests/support/feedcheck.py. Fields and buttons
are found by their labels and roles, as a person (or a screen reader) finds them.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from werkzeug.datastructures import Headers

from tests.support.e2e import Site, editor_browser, running_service, shot
from tests.support.feedcheck import Entry, entries

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ZONE = "Europe/Berlin"  # not UTC, so a time shown in the wrong zone is seen
FEEDS = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
# A step the scheduler completes within a few ticks (1 s here) takes this long at most.
DEADLINE = 30.0
SECOND = timedelta(seconds=1)
T = TypeVar("T")
SLUG, TRAM, LIBRARY = "city-hall", "Tram fares frozen", "Library opens on Sundays"

# Every CSP violation a page reports (CSP3 §5.3), recorded before the page's own scripts run.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@dataclass
class Reader:
    """A feed reader on the public side: plain urllib, conditional GETs (RFC 9110 §13.1.2),
    as polite readers poll (a fetch without validators counts against the poll limit).
    Header names in any case (§5.1): granian sends them in lower case."""

    base: str
    etags: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, path: str) -> tuple[int, Headers, bytes]:
        request = urllib.request.Request(self.base + path)
        known = self.etags.get(path)
        if known:
            request.add_header("If-None-Match", known[0])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, headers, body = (
                    response.status,
                    Headers(list(response.headers.items())),
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, Headers(list(error.headers.items())), error.read()
        if status == 304 and known:
            return 200, headers, known[1]
        if status == 200 and "ETag" in headers:
            self.etags[path] = (headers["ETag"], body)
        return status, headers, body

    def feed(self, slug: str, fmt: str) -> list[Entry]:
        status, _headers, body = self.get(f"/sections/{slug}/{FEEDS[fmt]}")
        assert status == 200, (slug, fmt, status)
        return entries(fmt, body)  # strict XML / RELAX NG / JSON Feed checks first

    def titles(self, slug: str) -> dict[str, set[str]]:
        """Each format's entry titles: all three must agree."""
        return {fmt: {e.title for e in self.feed(slug, fmt)} for fmt in FEEDS}

    def page(self, path: str) -> tuple[int, Headers, str]:
        status, headers, body = self.get(path)
        return status, headers, body.decode()


def until(what: str, check: Callable[[], T | None]) -> T:
    """Poll `check` until it gives a value, for DEADLINE seconds at most."""
    end = time.monotonic() + DEADLINE
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < end, f"not within {DEADLINE:.0f} s: {what}"
        time.sleep(0.2)  # a poll interval, not a wait for an event we could be told of


def in_all_feeds(reader: Reader, title: str, present: bool = True) -> Callable[[], bool]:
    """Whether the section's three feeds all have (or all lack) an entry titled `title`."""

    def check() -> bool:
        found = reader.titles(SLUG)
        return all((title in titles) == present for titles in found.values())

    return check


def local_input(moment: datetime) -> str:
    """A datetime-local value (HTML §2.3.5.5): the wall time, with seconds."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}"


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__violations || []")
    page.evaluate("window.__violations = []")
    return found


def row(page: Page, title: str) -> Locator:
    """The admin list's row of the article titled so."""
    return page.get_by_role("row").filter(has_text=title)


def article_id(page: Page, title: str) -> int:
    """The id in the article's View link on the admin list."""
    href = row(page, title).get_by_role("link", name="View").get_attribute("href") or ""
    match = re.fullmatch(r"/articles/(\d+)", href)
    assert match, href
    return int(match.group(1))


def write(page: Page, title: str, body: str, **by_label: str) -> None:
    """Open New article and fill it in (not saved)."""
    with page.expect_navigation():
        page.get_by_role("navigation").get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Section").select_option(label="City Hall")
    page.get_by_label("Body").fill(body)
    for label, value in by_label.items():
        if label == "Status":
            page.get_by_label(label).select_option(label=value)
        else:
            page.get_by_label(label, exact=True).fill(value)


def save(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").filter(has_text="saved").count() >= 1, page.content()


def run_story(site: Site, tmp_path: Path) -> None:
    reader = Reader(site.base)
    zone = ZoneInfo(ZONE)
    with editor_browser(site) as page:
        page.add_init_script(RECORD_VIOLATIONS)
        # Loopback only: anything else the pages might ask for is refused, never fetched.
        local = re.compile(r"^(?!" + re.escape(site.base) + r"[/?#]|" + re.escape(site.base) + "$)")
        page.route(local, lambda route: route.abort())
        image = site.base + "/favicon.ico"  # the site's own icon stands in for a photo

        # A section, from the Sections page.
        with page.expect_navigation():
            page.get_by_role("navigation").get_by_role("link", name="Sections").click()
        with page.expect_navigation():
            page.get_by_role("link", name="New section").click()
        page.get_by_label("Name").fill("City Hall")
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        assert page.get_by_role("cell", name="City Hall").count() == 1
        until("the section's feeds", lambda: reader.get("/sections/city-hall/atom.xml")[0] == 200)

        # Write, then Preview: the entry as readers will see it, and nothing published.
        planned = (datetime.now(zone) + timedelta(hours=1)).replace(microsecond=0)
        write(
            page,
            TRAM,
            "The council *froze* tram fares for 2027.\n\nThe vote was 31 to 12.",
            Author="Ana Ruiz",
            Tags="transport, budget",
            **{"Image URL": image, "Image alt text": "A tram"},
        )
        page.get_by_label("Publish at").fill(local_input(planned))
        shot(page, "article-form", tmp_path)
        with page.expect_navigation():
            page.get_by_role("button", name="Preview").click()
        preview = page.get_by_role("region", name="Preview")
        assert preview.get_by_role("heading", name=TRAM).is_visible()
        text = preview.inner_text()
        assert f"Scheduled: it goes out at {planned:%Y-%m-%d %H:%M %Z}" in text, text
        assert "Ana Ruiz" in text and "City Hall, transport, budget" in text
        assert image in text and "A tram" in text
        assert preview.get_by_role("emphasis").inner_text() == "froze"
        assert "The council froze tram fares for 2027. The vote was 31 to 12." in text  # summary
        assert page.get_by_label("Title").input_value() == TRAM  # kept
        assert violations(page) == []
        shot(page, "article-preview", tmp_path)
        assert reader.titles(SLUG) == {fmt: set() for fmt in FEEDS}
        assert "Tram fares" not in reader.page("/sections/city-hall/")[2]

        # The editor brings the time forward to a few seconds from now, and saves: listed as
        # scheduled, its page the editor's alone until then.
        when = (datetime.now(zone) + timedelta(seconds=8)).replace(microsecond=0)
        page.get_by_label("Publish at").fill(local_input(when))
        save(page)
        assert "Scheduled" in row(page, TRAM).inner_text()
        tram = article_id(page, TRAM)
        status, headers, _ = reader.page(f"/articles/{tram}")
        assert status == 404 and headers["Cache-Control"] == "no-store"
        with page.expect_navigation():
            row(page, TRAM).get_by_role("link", name="View").click()
        banner = page.get_by_role("status").filter(has_text="Scheduled for")
        assert f"Scheduled for {when:%Y-%m-%d %H:%M %Z}" in banner.inner_text()
        shot(page, "scheduled-page", tmp_path)
        page.go_back()

        # Another, published at once, while the first waits for its time.
        write(page, LIBRARY, "From January, every Sunday 10 to 16.")
        save(page)
        shot(page, "admin-articles", tmp_path)
        library = article_id(page, LIBRARY)
        until("the library story in every feed", in_all_feeds(reader, LIBRARY))
        status, _headers, html_page = reader.page(f"/articles/{library}")
        assert status == 200 and LIBRARY in html_page
        assert LIBRARY in reader.page("/sections/city-hall/")[2]  # the section page lists it

        # The scheduled one goes out by itself.
        until("the tram story in every feed", in_all_feeds(reader, TRAM))
        # Until every worker has re-checked (DOCUMENT_CACHE_SECONDS), another may still
        # answer with the feed before it: fetched until it has the entry too.
        entry = until(
            "the tram story's Atom entry",
            lambda: next((e for e in reader.feed(SLUG, "atom") if e.title == TRAM), None),
        )
        assert entry.published == when.astimezone(entry.published.tzinfo)
        assert entry.author == "Ana Ruiz" and entry.tags == ["City Hall", "transport", "budget"]
        assert entry.summary == "The council froze tram fares for 2027. The vote was 31 to 12."

        # A correction: readers are shown the story again (its updated date moves). Feeds
        # carry whole seconds, so the story is first let be out for one.
        until("a second after publication", lambda: datetime.now(zone) >= when + SECOND)
        page.reload()
        with page.expect_navigation():
            row(page, TRAM).get_by_role("link", name="Edit").click()
        page.get_by_label("Title").fill("Tram fares frozen until 2028")
        page.get_by_label(re.compile("^Correction")).check()
        shot(page, "article-edit", tmp_path)
        with page.expect_navigation():
            page.get_by_role("button", name="Preview").click()
        preview = page.get_by_role("region", name="Preview")
        assert re.search(r"Updated\s+the moment you save", preview.inner_text())
        assert page.get_by_label(re.compile("^Correction")).is_checked()  # kept for the save
        save(page)
        fixed = "Tram fares frozen until 2028"
        until("the corrected title", in_all_feeds(reader, fixed))
        entry = until(
            "the corrected Atom entry",
            lambda: next((e for e in reader.feed(SLUG, "atom") if e.title == fixed), None),
        )
        assert entry.updated is not None and entry.updated >= entry.published + SECOND

        # Delete one, confirming the browser's question.
        questions: list[str] = []
        page.once("dialog", lambda d: (questions.append(d.message), d.accept()))
        with page.expect_navigation():
            row(page, LIBRARY).get_by_role("button", name=re.compile("^Delete")).click()
        assert questions == ["Delete this article? Readers will no longer see it."]
        until("the library story gone", in_all_feeds(reader, LIBRARY, False))
        atom = reader.get("/sections/city-hall/atom.xml")[2]
        assert etree.fromstring(atom).findall(f"{{{TOMBSTONES}}}deleted-entry")  # RFC 6721
        status, headers, _ = reader.page(f"/articles/{library}")
        assert status == 410 and headers["Cache-Control"] == "no-store"

        # A draft: the editor sees its page with a banner, the public a 404.
        write(page, "Budget talks", "Notes for Tuesday.", Status="Draft")
        save(page)
        draft = article_id(page, "Budget talks")
        with page.expect_navigation():
            row(page, "Budget talks").get_by_role("link", name="View").click()
        assert page.get_by_role("status").filter(has_text="Draft — not published").count() == 1
        assert violations(page) == []
        shot(page, "draft-page", tmp_path)
        assert reader.page(f"/articles/{draft}")[0] == 404
        assert reader.titles(SLUG) == {fmt: {fixed} for fmt in FEEDS}


@pytest.mark.slow
def test_an_editor_publishes_through_the_admin_in_chromium(
    database_url: str, tmp_path: Path
) -> None:
    with running_service(tmp_path, database_url, FEEDSVC_TIMEZONE=ZONE) as site:
        run_story(site, tmp_path)
