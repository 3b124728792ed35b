"""Subscriber analytics through the app: polls replayed, flushed in batches, shown to editors."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from feedsvc import analytics
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database, transaction
from feedsvc.web import readercount
from tests.support.app import make_app
from tests.support.factories import make_section

ATOM = "/sections/world-news/atom.xml"
RSS = "/sections/world-news/rss.xml"
SPORT = "/sections/sport/feed.json"
FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers; )"
FEEDBIN = "Feedbin feed-id:{} - {} subscribers"
NNW = "NetNewsWire (RSS Reader; https://netnewswire.com/)"
BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


@pytest.fixture
def site(app: Flask) -> Flask:
    make_section(app, "World News")
    make_section(app, "Sport")
    run_pass(app)
    return app


def poll(app: Flask, path: str, ua: str, address: str = "192.0.2.1", *, flask: bool = False) -> int:
    """One poll as a reader makes it: a conditional one after the first (304)."""
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    wsgi = app.wsgi_app
    if flask:  # past the fast path, to Flask's feed route
        app.wsgi_app = wsgi.app  # type: ignore[attr-defined,method-assign]
    try:
        first = client.get(path, headers={"User-Agent": ua}, environ_base=environ)
        again = client.get(
            path,
            headers={"User-Agent": ua, "If-None-Match": first.headers.get("ETag", "")},
            environ_base=environ,
        )
    finally:
        app.wsgi_app = wsgi  # type: ignore[method-assign]
    assert first.status_code == 200 and again.status_code == 304
    return again.status_code


def today(app: Flask) -> date:
    return datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()


def counted(app: Flask) -> dict[tuple[str, str], int]:
    """(feed path, reader) → subscribers today, as stored."""
    counter = readercount.of(app)
    assert counter is not None
    counter.flush()
    with transaction(app, write=False) as s:
        day = today(app)
        return {(t.feed_path, t.reader): t.subscribers for t in analytics.totals(s, day, day)}


def test_aggregators_count_their_highest_report_summed_over_feed_ids(site: Flask) -> None:
    poll(site, ATOM, FEEDLY.format(16))
    poll(site, ATOM, FEEDLY.format(18), "192.0.2.2")  # later that day: more
    poll(site, ATOM, FEEDLY.format(17), "192.0.2.3", flask=True)  # another poller: no less
    # Feedbin polls one feed under two ids (http and https): each id's subscribers add up.
    poll(site, ATOM, FEEDBIN.format(111, 3))
    poll(site, ATOM, FEEDBIN.format(222, 2), flask=True)
    poll(site, ATOM, FEEDBIN.format(222, 1))
    assert counted(site) == {
        ("sections/world-news/atom.xml", "Feedly"): 18,
        ("sections/world-news/atom.xml", "Feedbin"): 5,
    }


def test_other_readers_count_once_per_client_and_crawlers_not_at_all(site: Flask) -> None:
    for _ in range(3):
        poll(site, ATOM, NNW, "192.0.2.10")  # one laptop polling all day
    poll(site, ATOM, NNW, "192.0.2.11", flask=True)  # a second one, through Flask's route
    poll(site, ATOM, NNW, "2001:db8::1")
    poll(site, RSS, NNW, "192.0.2.10")  # the same laptop, another feed
    poll(site, ATOM, BOT, "192.0.2.50")
    poll(site, ATOM, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert counted(site) == {
        ("sections/world-news/atom.xml", "NetNewsWire"): 3,
        ("sections/world-news/rss.xml", "NetNewsWire"): 1,
    }


def test_no_address_is_stored(site: Flask) -> None:
    poll(site, ATOM, NNW, "198.51.100.77")
    counted(site)
    with transaction(site, write=False) as s:
        raw = " ".join(
            str(v) for row in s.execute(analytics.ReaderClient.__table__.select()) for v in row
        )
    assert "198.51.100.77" not in raw and "NetNewsWire" in raw


def test_polls_cost_no_database_write_until_the_flush(site: Flask) -> None:
    poll(site, ATOM, NNW)  # the documents are loaded
    writes: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    engine = database(site).engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        for i in range(30):
            poll(site, ATOM, FEEDLY.format(i + 1), f"192.0.2.{i}")
            poll(site, SPORT, NNW, f"192.0.2.{i}", flask=True)
        assert writes == []
        counter = readercount.of(site)
        assert counter is not None
        counter.flush()
        assert writes, "the flush writes"
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert counted(site)[("sections/sport/feed.json", "NetNewsWire")] == 30


def test_two_workers_flushes_combine(site: Flask, database_url: str, tmp_path: Path) -> None:
    other = make_app(database_url, tmp_path / "other")
    try:
        poll(site, ATOM, FEEDLY.format(40))
        poll(other, ATOM, FEEDLY.format(42))
        poll(site, ATOM, NNW, "192.0.2.10")
        poll(other, ATOM, NNW, "192.0.2.10")  # the same client at both: once
        poll(other, ATOM, NNW, "192.0.2.11")
        counter = readercount.of(other)
        assert counter is not None
        counter.flush()
        assert counted(site) == {
            ("sections/world-news/atom.xml", "Feedly"): 42,
            ("sections/world-news/atom.xml", "NetNewsWire"): 2,
        }
        poll(site, ATOM, FEEDLY.format(41))  # a lower report later changes nothing
        assert counted(site)[("sections/world-news/atom.xml", "Feedly")] == 42
    finally:
        database(other).dispose()


def test_archives_and_opml_are_not_subscriptions(site: Flask) -> None:
    client = site.test_client()
    assert client.get("/opml.xml", headers={"User-Agent": NNW}).status_code == 200
    assert counted(site) == {}


def test_a_full_worker_drops_and_counts_new_polls() -> None:
    stored: list[set[analytics.Poll]] = []
    counter = readercount.PollCounter(
        lambda _d, polls: stored.append(polls), ZoneInfo("UTC"), max_pending=2
    )
    for i in range(5):
        counter.count("atom.xml", f"192.0.2.{i}", NNW)
    counter.count("atom.xml", "192.0.2.0", NNW)  # already held: no drop
    assert counter.pending() == 2 and counter.dropped == 3
    counter.flush()
    assert [len(s) for s in stored] == [2] and counter.dropped == 0


def test_a_failed_flush_keeps_the_batch_for_the_next() -> None:
    calls: list[int] = []

    def store(_day: date, polls: set[analytics.Poll]) -> None:
        calls.append(len(polls))
        if len(calls) == 1:
            raise RuntimeError("database down")

    counter = readercount.PollCounter(store, ZoneInfo("UTC"))
    counter.count("atom.xml", "192.0.2.1", NNW)
    counter.flush()
    counter.flush()
    assert calls == [1, 1]


def test_analytics_off_counts_nothing(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, ANALYTICS=False)
    try:
        assert readercount.of(app) is None
        make_section(app, "World News")
        run_pass(app)
        poll(app, ATOM, NNW)
    finally:
        database(app).dispose()


def test_days_past_the_period_are_purged(site: Flask) -> None:
    day = today(site)
    with transaction(site) as s:
        for back in (0, 89, 90):
            found = analytics.tally("k" * 20, day - timedelta(days=back), [("atom.xml", "a", NNW)])
            analytics.store(s, found)
    with transaction(site) as s:
        assert analytics.purge(s, day) == 1
        kept = {t.day for t in analytics.totals(s, day - timedelta(days=400), day)}
    assert kept == {day, day - timedelta(days=89)}


def test_front_page_shows_todays_subscribers_per_section(site: Flask, editor: FlaskClient) -> None:
    poll(site, ATOM, FEEDLY.format(7))
    poll(site, RSS, NNW)
    poll(site, SPORT, NNW)
    counted(site)
    page = editor.get("/admin/").get_data(as_text=True)
    assert "Subscribers today" in page
    assert "<bdi>World News</bdi>: <strong>8</strong>" in page
    assert "<bdi>Sport</bdi>: <strong>1</strong>" in page


def test_analytics_page_charts_feeds_and_readers(site: Flask, editor: FlaskClient) -> None:
    poll(site, ATOM, FEEDLY.format(1234))
    poll(site, SPORT, NNW)
    counted(site)
    page = editor.get("/admin/analytics").get_data(as_text=True)
    assert page.count("<svg xmlns") == 2 and "<polyline" in page
    assert 'role="img"' in page and '<title id="feeds-chart-title">' in page
    assert "/sections/world-news/atom.xml</bdi></th><td>1,234</td>" in page
    assert "Feedly</bdi></th><td>1,234</td>" in page
    assert "NetNewsWire</bdi></th><td>1</td>" in page
    assert 'style="' not in page  # the CSP allows no inline style


def test_analytics_page_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/admin/analytics").status_code == 302


def test_a_batch_counts_on_the_day_of_its_first_poll() -> None:
    stored: list[date] = []
    now = [datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo("UTC"))]
    counter = readercount.PollCounter(
        lambda day, _polls: stored.append(day), ZoneInfo("UTC"), clock=lambda: now[0]
    )
    now[0] += timedelta(days=1)  # a worker idle since yesterday
    counter.count("atom.xml", "192.0.2.1", NNW)
    counter.flush()
    assert stored == [date(2026, 12, 4)]
    # The flusher wakes at midnight, so the next batch starts on the new day.
    now[0] = datetime(2026, 12, 4, 23, 59, 30, tzinfo=ZoneInfo("UTC"))
    assert counter.seconds_to_flush(60.0) == pytest.approx(30.01)
