"""Subscriber analytics for editors: today's per section on the front page, 90 days as charts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template
from markupsafe import Markup

from feedsvc import analytics, sections
from feedsvc.limits import ANALYTICS_DAYS
from feedsvc.storage.db import get_session
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web.auth import login_required
from feedsvc.web.charts import PALETTE, Series, line_chart, swatch

bp = Blueprint("analytics", __name__, url_prefix=ADMIN_PREFIX)
# Lines a chart draws before the rest is summed into one "others" line.
SHOWN = 7


def _today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


@dataclass(frozen=True)
class Row:
    label: str
    colour: str
    today: int
    yesterday: int
    peak: int
    values: list[int]


def _rows(totals: Iterable[tuple[str, date, int]], days: list[date], others: str) -> list[Row]:
    """One row per label, its daily values; the biggest SHOWN and one summing the others."""
    index = {d: i for i, d in enumerate(days)}
    found: dict[str, list[int]] = {}
    for label, day, n in totals:
        found.setdefault(label, [0] * len(days))[index[day]] += n
    ranked = sorted(found.items(), key=lambda item: (-sum(item[1]), item[0]))
    if len(ranked) > SHOWN + 1:
        rest = [sum(col) for col in zip(*(v for _label, v in ranked[SHOWN:]), strict=True)]
        ranked = [*ranked[:SHOWN], (others, rest)]
    return [
        Row(label, PALETTE[i % len(PALETTE)], v[-1], v[-2] if len(v) > 1 else 0, max(v), v)
        for i, (label, v) in enumerate(ranked)
    ]


def _chart(chart_id: str, title: str, rows: list[Row], days: list[date]) -> Markup:
    labels = [d.isoformat() for d in days]
    described = "; ".join(f"{r.label}: {r.today:,} today, at most {r.peak:,}" for r in rows)
    return line_chart(
        chart_id,
        title,
        f"Daily subscribers from {labels[0]} to {labels[-1]}. {described or 'No readers yet.'}",
        labels,
        [Series(r.label, r.values, r.colour) for r in rows],
    )


@bp.route("/analytics")
@login_required
def analytics_page() -> str:
    today = _today()
    first = analytics.first_kept_day(today)
    days = [first + timedelta(days=i) for i in range(ANALYTICS_DAYS)]
    totals = analytics.totals(get_session(), first, today)
    feeds = _rows(((f"/{t.feed_path}", t.day, t.subscribers) for t in totals), days, "Other feeds")
    readers = _rows(((t.reader, t.day, t.subscribers) for t in totals), days, "Other readers")
    by_day: dict[date, int] = {}
    for t in totals:
        by_day[t.day] = by_day.get(t.day, 0) + t.subscribers
    return render_template(
        "admin/analytics.html",
        today=today,
        days=ANALYTICS_DAYS,
        feeds=feeds,
        readers=readers,
        feed_chart=_chart("feeds-chart", "Subscribers per feed", feeds, days),
        reader_chart=_chart("readers-chart", "Subscribers per reader", readers, days),
        by_day=sorted(by_day.items(), reverse=True),
        swatch=swatch,
    )


@bp.app_template_global()
def subscribers_today() -> list[tuple[str, str, int]]:
    """(section name, slug, subscribers today) for every section, for the admin front page."""
    session = get_session()
    counted = analytics.section_totals(session, _today())
    return [(s.name, s.slug, counted.get(s.slug, 0)) for s in sections.list_sections(session)]
