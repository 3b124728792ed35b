"""What every feed says about how it updates: polling hints from the real tick, WebSub hubs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypedDict

# Minutes in each sy:updatePeriod (RSS 1.0 Syndication module), shortest first; a month is
# taken as 30 days and a year as 365: the hint is a polling rate, not a calendar.
PERIOD_MINUTES: Final = (
    ("hourly", 60),
    ("daily", 1_440),
    ("weekly", 10_080),
    ("monthly", 43_200),
    ("yearly", 525_600),
)


class Hints(TypedDict):
    """FeedMeta's update fields, ready to pass as keyword arguments."""

    ttl_minutes: int
    update_period: str
    update_frequency: int
    hubs: tuple[str, ...]


def poll_minutes(tick_seconds: float) -> int:
    """RSS 2.0 <ttl>: the scheduler's tick in whole minutes, at least one.

    A feed can change at most once per tick between edits, and its Cache-Control max-age is
    the tick too; <ttl> counts minutes, so a sub-minute tick still says 1.
    """
    return max(1, round(tick_seconds / 60))


def update_schedule(tick_seconds: float) -> tuple[str, int]:
    """sy:updatePeriod and sy:updateFrequency saying the same rate as <ttl>.

    The shortest period that holds at least one poll interval, and how many whole intervals
    fit in it (rounded down: never a faster rate than <ttl> says). A 60-second tick is
    ("hourly", 60); a two-hour tick is ("daily", 12).
    """
    minutes = poll_minutes(tick_seconds)
    for period, length in PERIOD_MINUTES:
        if length >= minutes:
            return period, length // minutes
    return PERIOD_MINUTES[-1][0], 1


def feed_hints(config: Mapping[str, Any]) -> Hints:
    """The update fields of every feed's FeedMeta, from the app's settings."""
    tick = float(config["TICK_SECONDS"])
    period, frequency = update_schedule(tick)
    return Hints(
        ttl_minutes=poll_minutes(tick),
        update_period=period,
        update_frequency=frequency,
        hubs=tuple(config.get("WEBSUB_HUBS", ())),
    )
