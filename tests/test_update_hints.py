"""Polling hints from the real schedule: RSS <ttl> and sy:updatePeriod/updateFrequency."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from feedsvc.feeds import FeedMeta, render
from feedsvc.publishing.feedhints import update_schedule
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database
from tests.support.app import make_app
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import check_atom, check_rss

META = FeedMeta(
    id="tag:news.example.org,2001:feed",
    title="Example News",
    description="News.",
    home_url="https://news.example.org/",
    self_url="https://news.example.org/rss.xml",
    language="en",
    updated=datetime(2024, 1, 1, tzinfo=UTC),
    author="Newsroom",
)


@pytest.mark.parametrize(
    ("tick", "ttl", "period", "frequency"),
    [
        (5.0, 1, "hourly", 60),  # the default tick: readers still poll at most once a minute
        (60.0, 1, "hourly", 60),
        (90.0, 2, "hourly", 30),
        (600.0, 10, "hourly", 6),
        (3600.0, 60, "hourly", 1),
        (7200.0, 120, "daily", 12),
        (864_000.0, 14_400, "monthly", 3),  # ten days: three a (30-day) month
    ],
)
def test_published_feeds_say_how_often_they_change(
    database_url: str, tmp_path: Path, tick: float, ttl: int, period: str, frequency: int
) -> None:
    app = make_app(database_url, tmp_path, TICK_SECONDS=tick, LEASE_SECONDS=tick + 10)
    try:
        make_article(app, make_section(app, "World"), "Story")
        run_pass(app)
        client = app.test_client()
        rss = check_rss(client.get("/sections/world/rss.xml").data)
        assert (rss.feed.ttl, rss.feed.sy_updateperiod) == (str(ttl), period)
        assert rss.feed.sy_updatefrequency == str(frequency)
        # RFC 4287 §6.4 foreign markup: the same hints in Atom, still valid (RELAX NG, feedparser).
        check_atom(atom := client.get("/atom.xml").data)
        parsed = feedparser.parse(atom).feed
        assert (parsed.sy_updateperiod, parsed.sy_updatefrequency) == (period, str(frequency))
    finally:
        database(app).dispose()


def test_the_hints_never_ask_for_more_polls_than_ttl() -> None:
    minutes = {"hourly": 60, "daily": 1_440, "weekly": 10_080, "monthly": 43_200}
    for tick in (1.0, 59.0, 61.0, 420.0, 4000.0, 50_000.0, 700_000.0):
        period, frequency = update_schedule(tick)
        ttl = max(1, round(tick / 60))
        assert minutes[period] / frequency >= ttl


def test_without_a_period_no_syndication_module_is_declared() -> None:
    body = render("rss", META, [])
    assert b"sy:" not in body and b"syndication" not in body
    check_rss(body)


def test_an_unknown_period_is_the_callers_bug() -> None:
    with pytest.raises(ValueError, match="update_period 'fortnightly'"):
        render("rss", replace(META, update_period="fortnightly"), [])
    with pytest.raises(ValueError, match="update_frequency must be at least 1"):
        render("atom", replace(META, update_period="daily", update_frequency=0), [])
