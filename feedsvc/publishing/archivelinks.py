"""An archived feed's state as a render needs it: its floor, and its RFC 5005 links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, and_, bindparam, select
from sqlalchemy.orm import Session

from feedsvc import feeds, urls
from feedsvc.storage.archives import ArchivePage, ArchiveScope

Key = tuple[datetime, int]  # an item's place in its feed: (publish_at, article id)


class Keyed(Protocol):
    @property
    def publish_at(self) -> datetime: ...

    @property
    def id(self) -> int: ...


K = TypeVar("K", bound=Keyed)


@dataclass(frozen=True, slots=True)
class History:
    """One feed's archive: closed pages 1..closed; the open page closed + 1 once published."""

    closed: int = 0
    open_page: bool = False
    backlog: bool = False
    floor: Key | None = None  # the newest closed page's bound; items at or below are archived
    fingerprint: str = ""  # what its pages' heads were rendered from (ArchiveScope.fingerprint)
    open_bound: Key | None = None  # the open page's newest item (None: it holds none)
    open_dirty: bool = False  # the open page's documents wait to be rendered

    @property
    def newest_page(self) -> int:
        """The newest archive page (0: none): the subscription document's prev-archive.

        While pages are still waiting to close (a first backfill) the open page is not
        rendered, so the feed links the newest closed one meanwhile.
        """
        return self.closed + 1 if self.open_page and not self.backlog else self.closed

    def reach(self, window: int, step: int) -> int:
        """How many of the newest rows to read for the subscription document (see shown)."""
        return (
            window + step_for(window, step) - 1 if self.open_page and not self.backlog else window
        )

    def shown(self, rows: Sequence[K], window: int) -> list[K]:
        """The rows a subscription document shows, from its newest reach() rows: none
        an archive page holds, so following the links reaches every item exactly once.

        Once the open page is out, the document holds what lies above it: its window and up
        to step_for() - 1 more, so the open page changes once per step of new items rather
        than with each (publishing/archives.py). Before (or while a backfill leaves it
        unrendered) the document holds the newest window items above the floor.
        """
        if not self.open_page or self.backlog:
            return _above(rows, self.floor)[:window]
        return _above(rows, self.open_bound or self.floor)

    def subscription_links(self, site_url: str, base: str) -> dict[str, feeds.ArchiveLinks] | None:
        """Per format, the subscription document's link to the newest page (RFC 5005 §4)."""
        newest = self.newest_page
        if not newest:
            return None
        return {
            fmt: feeds.ArchiveLinks(
                prev_archive=urls.absolute(site_url, urls.archive_doc_path(base, newest, fmt))
            )
            for fmt in feeds.FORMATS
        }

    def page_links(self, site_url: str, base: str, page: int, fmt: str) -> feeds.ArchiveLinks:
        """An archive page's links: current, its older and newer neighbours, fh:archive."""

        def at(n: int) -> str:
            return urls.absolute(site_url, urls.archive_doc_path(base, n, fmt))

        subscription = f"{base}{urls.FEED_FILES[fmt]}"
        return feeds.ArchiveLinks(
            current=urls.absolute(site_url, subscription),
            prev_archive=at(page - 1) if page > 1 else "",
            # A closed page always has a newer one (the open page is published as soon as
            # a page closes): the link is part of its fixed bytes. The open page has none.
            next_archive=at(page + 1) if page <= self.closed else "",
            is_archive=True,
        )


def step_for(window: int, step: int) -> int:
    """The open page's step for a feed of this window: ARCHIVE_OPEN_STEP, but at most a fifth
    of the window, so a feed never shows more than 20% beyond its own item count (a window of
    3 items moves its open page with every item, as with a step of 1)."""
    return max(1, min(step, window // 5))


def _above(rows: Sequence[K], key: Key | None) -> list[K]:
    if key is None:
        return list(rows)
    return [r for r in rows if (r.publish_at, r.id) > key]


# Indexed reads on the Core connection (each pass asks them for every feed it renders): the
# state and the newest closed page's bound, the floor; of one feed, or of several at once.
_COLUMNS = (
    ArchiveScope.closed,
    ArchiveScope.open_page,
    ArchiveScope.backlog,
    ArchiveScope.fingerprint,
    ArchiveScope.open_bound_publish_at,
    ArchiveScope.open_bound_id,
    ArchiveScope.open_dirty,
    ArchivePage.bound_publish_at,
    ArchivePage.bound_id,
)
_FLOOR = and_(
    ArchivePage.feed_key == ArchiveScope.feed_key,
    ArchivePage.page == ArchiveScope.closed,
)
_STATE = (
    select(*_COLUMNS)
    .outerjoin(ArchivePage, _FLOOR)
    .where(ArchiveScope.feed_key == bindparam("key"))
)
_STATES = (
    select(ArchiveScope.feed_key, *_COLUMNS)
    .outerjoin(ArchivePage, _FLOOR)
    .where(ArchiveScope.feed_key.in_(bindparam("keys", expanding=True)))
)


def read_state(session: Session, key: str) -> History:
    """The feed's archive state as stored; History() for a feed never archived."""
    row = session.connection().execute(_STATE, {"key": key}).first()
    return History() if row is None else _history(row)


def read_states(c: Connection, keys: Sequence[str]) -> dict[str, History]:
    """read_state for several feeds in one statement."""
    found = dict.fromkeys(keys, History())
    for row in c.execute(_STATES, {"keys": list(keys)}):
        found[row[0]] = _history(row[1:])
    return found


def _history(row: Sequence[Any]) -> History:
    closed, open_page, backlog, fingerprint, open_at, open_id, open_dirty, bound_at, bound_id = row
    floor = (bound_at, bound_id) if closed and bound_at is not None else None
    open_bound = (open_at, open_id) if open_at is not None and open_id is not None else None
    return History(
        closed, bool(open_page), bool(backlog), floor, fingerprint, open_bound, bool(open_dirty)
    )
