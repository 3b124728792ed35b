"""The newsroom's wall clock: UTC ↔ local time in TIMEZONE, total at the calendar's edges.

Editors type and read "Publish at" on the wall clock of the newsroom's zone; the database
holds UTC. A wall time does not always name exactly one instant (PEP 495):

- In a gap, when clocks go forward (2026-03-29 02:30 in Europe/Berlin never happens), the
  time is read with the offset in force before the jump, so it means the instant the clock
  shows that much later: 02:30 is 01:30 UTC, shown afterwards as 03:30 CEST.
- In a fold, when clocks go back (2026-10-25 02:30 happens twice in Europe/Berlin), the time
  means its first occurrence: 02:30 CEST, 00:30 UTC.

Both are what `fold=0` gives. Near the ends of Python's calendar (years 1 and 9999) a
conversion can leave it and raise OverflowError; nothing here raises.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from feedsvc.limits import PUBLISH_AT_EARLIEST, PUBLISH_AT_LATEST

# No zone's offset has ever reached a day (the largest, Asia/Manila's local mean time before
# 1845, is -15:56), so a wall time further than this from the supported range is outside it
# in every zone, and any wall time within it converts without leaving years 1-9999.
_SLACK = timedelta(days=2)
_LOW = PUBLISH_AT_EARLIEST.replace(tzinfo=None) - _SLACK
_HIGH = PUBLISH_AT_LATEST.replace(tzinfo=None) + _SLACK


def to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time in zone as an aware UTC instant (gap and fold as the module says).

    A wall time far outside the supported Publish at range gives the calendar's first or
    last instant instead, which is outside that range too: the articles service refuses it
    with its usual sentence, whatever the zone.
    """
    wall = wall.replace(tzinfo=None, fold=0)
    if wall < _LOW:
        return datetime.min.replace(tzinfo=UTC)
    if wall > _HIGH:
        return datetime.max.replace(tzinfo=UTC)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """An aware instant on zone's wall clock; in UTC when zone's would leave years 1-9999.

    A stored value that far out (written before the range was enforced, or by hand) is still
    shown, never an error.
    """
    for target in (zone, UTC):
        try:
            return moment.astimezone(target)
        except OverflowError:
            continue
    return moment
