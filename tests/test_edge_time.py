"""Publish at at the calendar's edges, in DST gaps and folds, in every zone: errors, not 500s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select, update

from feedsvc import localtime
from feedsvc.articles import ArticleInput, create_article
from feedsvc.errors import ValidationError
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article
from feedsvc.users import create_user
from tests.support.apiclient import Api, add_section, body, count, error, new_token
from tests.support.app import EDITOR, make_app
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.forms import AuthActions, edit_article, form_values, post_article

RANGE = "Publish at must be between 1970 and 2100 (1970-01-01 00:00 to 2100-12-31 23:59 UTC)."
FIRST_DAY, LAST_DAY = "0001-01-01T00:00", "9999-12-31T23:59"

Zoned = Callable[[str], tuple[Flask, FlaskClient]]


@pytest.fixture
def zoned(database_url: str, tmp_path: Path) -> Iterator[Zoned]:
    """An app in a given TIMEZONE (one database, one section), and an editor logged in to it."""
    apps: list[Flask] = []

    def make(zone: str) -> tuple[Flask, FlaskClient]:
        app = make_app(database_url, tmp_path, TIMEZONE=zone)
        if not apps:
            with transaction(app) as s:
                create_user(s, *EDITOR)
            make_section(app)
        apps.append(app)
        client = app.test_client()
        assert AuthActions(client).login().status_code == 302
        return app, client

    yield make
    for app in apps:
        database(app).dispose()


def _stored(app: Flask) -> datetime | None:
    return _latest(app)[1]


def _latest(app: Flask) -> tuple[int, datetime | None]:
    """The newest article's id and stored publish time."""
    with transaction(app, write=False) as s:
        query = select(Article.id, Article.publish_at).order_by(Article.id.desc())
        row = s.execute(query).first()
        assert row is not None
        return row[0], row[1]


def _shown(client: FlaskClient, article_id: int) -> str:
    """What the edit form's Publish at field holds."""
    return form_values(client.get(f"/admin/articles/{article_id}/edit"))["publish_at"]


def test_the_calendars_ends_are_a_field_error_in_any_zone(zoned: Zoned) -> None:
    """Berlin, Kiritimati and Anchorage (+14:00 local mean time in the year 1) used to
    overflow at year 1, Los Angeles and Anchorage at 9999: an OverflowError, a 500."""
    for zone in [
        "Europe/Berlin",
        "Pacific/Kiritimati",
        "America/Los_Angeles",
        "America/Anchorage",
        "UTC",
    ]:
        app, editor = zoned(zone)
        for when in [FIRST_DAY, LAST_DAY, "1000-06-15T12:00", "3000-01-01T00:00"]:
            response = post_article(editor, **{"Publish at": when})
            assert response.status_code == 200, (zone, when)
            page = html.fromstring(response.get_data(as_text=True))
            assert page.xpath('string(//*[@id="publish_at-error"])').strip() == RANGE
        assert count(app, Article) == 0


def test_the_range_is_exact_to_the_minute_on_the_newsrooms_clock(zoned: Zoned) -> None:
    app, berlin = zoned("Europe/Berlin")  # UTC+1 in the winter of 1970
    assert RANGE in post_article(berlin, **{"Publish at": "1970-01-01T00:59"}).get_data(True)
    post_article(berlin, **{"Publish at": "1970-01-01T01:00"})
    assert _stored(app) == datetime(1970, 1, 1, 0, 0, tzinfo=UTC)
    app, los_angeles = zoned("America/Los_Angeles")  # UTC-8 in December
    post_article(los_angeles, **{"Publish at": "2100-12-31T15:59"})
    assert _stored(app) == datetime(2100, 12, 31, 23, 59, tzinfo=UTC)
    page = post_article(los_angeles, **{"Publish at": "2100-12-31T16:00"}).get_data(True)
    assert RANGE in page
    assert count(app, Article) == 2


# Zone, the time typed, the instant stored (UTC), the time the form shows afterwards.
GAPS = [
    # Clocks go 02:00 → 03:00: 02:30 is read at the old offset (+01:00), and that instant is
    # 03:30 on the clock after the jump.
    ("Europe/Berlin", "2026-03-29T02:30", datetime(2026, 3, 29, 1, 30), "2026-03-29T03:30"),
    ("America/New_York", "2026-03-08T02:30", datetime(2026, 3, 8, 7, 30), "2026-03-08T03:30"),
    # A half-hour jump (02:00 → 02:30), and the whole day Samoa skipped in 2011.
    ("Australia/Lord_Howe", "2026-10-04T02:15", datetime(2026, 10, 3, 15, 45), "2026-10-04T02:45"),
    ("Pacific/Apia", "2011-12-30T12:00", datetime(2011, 12, 30, 22, 0), "2011-12-31T12:00"),
]
# 02:30 happens at +02:00 (CEST), then again at +01:00 (CET): the first is meant.
FOLDS = [
    ("Europe/Berlin", "2026-10-25T02:30", datetime(2026, 10, 25, 0, 30), "2026-10-25T02:30"),
    ("America/New_York", "2026-11-01T01:30", datetime(2026, 11, 1, 5, 30), "2026-11-01T01:30"),
    ("Australia/Lord_Howe", "2026-04-05T01:45", datetime(2026, 4, 4, 14, 45), "2026-04-05T01:45"),
]


@pytest.mark.parametrize("table", [GAPS, FOLDS], ids=["gap: after the jump", "fold: the first"])
def test_a_time_the_clock_skips_or_repeats_has_one_meaning(
    zoned: Zoned, table: list[tuple[str, str, datetime, str]]
) -> None:
    found = []
    for zone, typed, _stored_at, _shown_after in table:
        app, editor = zoned(zone)
        assert post_article(editor, **{"Publish at": typed}).status_code == 302, zone
        article_id, stored = _latest(app)
        found.append((zone, typed, stored, _shown(editor, article_id)))
    assert found == [(z, t, at.replace(tzinfo=UTC), shown) for z, t, at, shown in table]


def test_an_untouched_second_occurrence_stays_the_second(zoned: Zoned) -> None:
    app, editor = zoned("Europe/Berlin")
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, after the clocks went back
    make_article(app, 1, when=second)
    assert _shown(editor, 1) == "2026-10-25T02:30"
    edit_article(editor, 1, Title="Retitled")
    assert _stored(app) == second


def test_the_field_says_what_gap_and_fold_times_mean(zoned: Zoned) -> None:
    _app, editor = zoned("Europe/Berlin")
    page = html.fromstring(editor.get("/admin/articles/new").get_data(as_text=True))
    assert page.xpath('string(//*[@id="publish_at-help"])') == (
        "In Europe/Berlin. Empty means now; a future time schedules the article. A time the "
        "clocks skip when they go forward is moved on by the jump (02:30 becomes 03:30); a "
        "time that occurs twice when they go back means the first."
    )


@pytest.mark.parametrize(
    ("zone", "listed", "shown"),
    [
        # Berlin's local mean time in the year 1 was +00:53:28; in 9999 it would be 10000.
        (
            "Europe/Berlin",
            ["0001-01-01 00:53 LMT", "9999-12-31 23:59 UTC"],
            ["0001-01-01T00:53", "9999-12-31T23:59"],
        ),
        # Los Angeles was at -07:52:58 (before the year 1 began); in 9999 it is -08:00.
        (
            "America/Los_Angeles",
            ["0001-01-01 00:00 UTC", "9999-12-31 15:59 PST"],
            ["0001-01-01T00:00", "9999-12-31T15:59"],
        ),
    ],
)
def test_stored_times_at_the_calendars_ends_are_shown_not_errors(
    zoned: Zoned, zone: str, listed: list[str], shown: list[str]
) -> None:
    """Rows written before the range was enforced, or by hand: on the newsroom's clock where
    it has one, else in UTC; never a 500."""
    app, editor = zoned(zone)
    first, last = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    for when in [first, last]:
        article_id = make_article(app, 1)
        with transaction(app) as s:  # past the service, which would refuse it
            s.execute(update(Article).where(Article.id == article_id).values(publish_at=when))
    page = html.fromstring(editor.get("/admin/").get_data(as_text=True))
    assert sorted(t.text for t in page.iter("time")) == listed
    assert [_shown(editor, 1), _shown(editor, 2)] == shown
    # Saved unchanged, the old value is still refused, with the sentence saying why.
    page = editor.post(
        "/admin/articles/1/edit", data=form_values(editor.get("/admin/articles/1/edit"))
    )
    assert RANGE in page.get_data(as_text=True)
    assert app.test_client().get("/articles/1").status_code == 200  # public: it is in the past
    api = Api(app.test_client(), new_token(app))
    assert body(api.get("/articles/1"))["publish_at"] == "0001-01-01T00:00:00Z"


def test_every_zone_at_both_ends_gives_a_clear_error_or_a_valid_time(app: Flask) -> None:
    """All IANA zones: the calendar's ends are refused with the range sentence; the range's own
    ends (a day inside) convert to an instant inside it; nothing raises either way."""
    inside = [datetime(1970, 1, 2, 0, 0), datetime(2100, 12, 30, 23, 59)]
    outside = [datetime(1, 1, 1, 0, 0), datetime(9999, 12, 31, 23, 59)]
    section = make_section(app)
    zones = sorted(available_timezones())
    assert len(zones) > 400
    with transaction(app) as s:
        for name in zones:
            zone = ZoneInfo(name)
            for wall in inside:
                moment = localtime.to_utc(wall, zone)
                assert datetime(1970, 1, 1, tzinfo=UTC) <= moment, name
                assert moment <= datetime(2100, 12, 31, 23, 59, tzinfo=UTC), name
                assert localtime.to_local(moment, zone).replace(tzinfo=None) == wall, name
            for wall in outside:
                moment = localtime.to_utc(wall, zone)
                data = ArticleInput("T", section, "Text.", publish_at=moment)
                with pytest.raises(ValidationError) as refused:
                    create_article(s, data, base_url=BASE_URL)
                assert refused.value.errors == {"publish_at": RANGE}, name
            for stored in [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]:
                assert localtime.to_local(stored, zone).utcoffset() is not None, name
    assert count(app, Article) == 0


# Sent with an offset; stored (as the API answers it), or None: refused with RANGE.
OFFSETS = [
    ("2101-01-01T00:59:00+01:00", "2100-12-31T23:59:00Z"),
    ("1969-12-31T19:00:00-05:00", "1970-01-01T00:00:00Z"),
    ("0001-01-01T00:00:00+23:59", None),
    ("9999-12-31T23:59:59-23:59", None),
    ("1970-01-01T00:59:59+01:00", None),
]


def test_the_api_takes_the_same_range_with_any_offset(app: Flask, client: FlaskClient) -> None:
    api = Api(client, new_token(app))
    add_section(api)
    for sent, stored in OFFSETS:
        payload = {"title": "T", "section": "world-news", "body": "Text.", "publish_at": sent}
        response = api.post("/articles", payload)
        if stored is None:
            assert error(response, 422)["fields"] == {"publish_at": RANGE}, sent
        else:
            assert response.status_code == 201, response.get_data(as_text=True)
            assert body(response)["publish_at"] == stored
