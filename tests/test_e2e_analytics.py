"""Subscriber analytics end to end: readers poll the running service, an editor sees them."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from flask import Flask

from devtools.procs import wait_for
from feedsvc import analytics
from feedsvc.storage.db import database, transaction
from tests.support.app import make_app
from tests.support.e2e import editor_browser, running_service, shot
from tests.support.factories import make_section

ATOM = "/sections/world-news/atom.xml"
SPORT = "/sections/sport/rss.xml"
# Readers as they poll: (User-Agent, feed). Real shapes; the numbers are this test's.
POLLS = [
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 120 subscribers; )", ATOM),
    ("Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com; 45 subscribers)", ATOM),
    ("Feedbin feed-id:1373711 - 9 subscribers", ATOM),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", ATOM),
    ("Newsboat/2.34.0 (Linux x86_64)", SPORT),
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 20 subscribers; )", SPORT),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ATOM),
]


def fetch(url: str, ua: str, etag: str = "") -> tuple[int, str]:
    headers = {"User-Agent": ua, **({"If-None-Match": etag} if etag else {})}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("ETag", "")
    except urllib.error.HTTPError as exc:  # 304 comes as an "error" from urllib
        return exc.code, etag


def answered(url: str, ua: str, status: int, etag: str = "") -> tuple[int, str] | None:
    found = fetch(url, ua, etag)
    return found if found[0] == status else None


def served(url: str) -> bool:
    """200 several times over: each of gunicorn's workers learns of a new feed on its own."""
    return all(fetch(url, "curl/8.5.0")[0] == 200 for _ in range(6))


def test_editor_sees_readers_counted_from_their_polls(tmp_path: Path, database_url: str) -> None:
    # Every reader here polls from 127.0.0.1: no polling limit (web/polling.py) in the way.
    settings = {"FEEDSVC_ANALYTICS_FLUSH_SECONDS": "0.3", "FEEDSVC_POLL_MIN_INTERVAL": "0"}
    with running_service(tmp_path, database_url, **settings) as site:
        app = make_app(site.database_url, tmp_path / "setup", SITE_URL=site.base)
        try:
            make_section(app, "World News")
            make_section(app, "Sport")
            _history(app)  # earlier days, so the chart has a shape
            for path in (ATOM, SPORT):  # rendered by the scheduler within a tick or two
                wait_for(path, partial(served, site.base + path))
            for ua, path in POLLS:
                # A worker that has not yet seen the new feed answers 503 (not counted): again.
                _status, etag = wait_for(path, partial(answered, site.base + path, ua, 200))
                wait_for(path, partial(answered, site.base + path, ua, 304, etag))  # counted too
            day = datetime.now(UTC).date()

            def stored() -> dict[str, int]:
                with transaction(app, write=False) as s:
                    found: dict[str, int] = {}
                    for t in analytics.totals(s, day, day):
                        found[t.reader] = found.get(t.reader, 0) + t.subscribers
                return found

            expected = {
                "Feedly": 140,
                "Inoreader": 45,
                "Feedbin": 9,
                "NetNewsWire": 1,
                "Newsboat": 1,
                "curl": 2,  # what waited for the two feeds (Googlebot: not counted)
            }
            # Each gunicorn worker flushes on its own; both within a few flush intervals.
            wait_for("the workers' flushes", lambda: stored() == expected)
        finally:
            database(app).dispose()
        with editor_browser(site) as page:
            today = page.get_by_role("region", name="Subscribers today")
            assert "World News: 176" in today.inner_text().replace("\n", " ")
            page.get_by_role("link", name="Subscribers", exact=True).click()
            page.wait_for_url(site.base + "/admin/analytics")
            assert page.get_by_role("img", name="Subscribers per feed").is_visible()
            assert page.get_by_role("img", name="Subscribers per reader").is_visible()
            feedly = page.get_by_role("row", name="Feedly")
            assert feedly.get_by_role("cell").first.inner_text() == "140"  # both feeds
            feed = page.get_by_role("row", name=ATOM)
            assert feed.get_by_role("cell").first.inner_text() == "176"
            shot(page, "admin-analytics", tmp_path)


def _history(app: Flask) -> None:
    """Thirty earlier days of a growing readership, stored as the workers would store them."""
    today = datetime.now(UTC).date()
    with transaction(app) as s:
        for back in range(1, 31):
            day = today - timedelta(days=back)
            grow = 31 - back
            polls = [
                ("sections/world-news/atom.xml", "", analytics_ua("Feedly", 60 + 2 * grow)),
                ("sections/world-news/atom.xml", "", analytics_ua("Inoreader", 20 + grow)),
                ("sections/sport/rss.xml", "", analytics_ua("Feedly", 10 + grow // 3)),
            ]
            polls += [
                ("sections/sport/rss.xml", f"192.0.2.{i}", "Newsboat/2.34.0")
                for i in range(back % 4)
            ]
            analytics.store(s, analytics.tally(str(app.config["SECRET_KEY"]), day, polls))


def analytics_ua(reader: str, n: int) -> str:
    if reader == "Feedly":
        return f"Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers; )"
    return f"Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com; {n} subscribers)"
