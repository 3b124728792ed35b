"""An archived feed's state as a render needs it: its floor, and its RFC 5005 links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import and_, bindparam, select
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

    @property
    def newest_page(self) -> int:
        """The newest archive page (0: none): the subscription document's prev-archive.

        While pages are still waiting to close (a first backfill) the open page is not
        rendered, so the feed links the newest closed one meanwhile.
        """
        return self.closed + 1 if self.open_page and not self.backlog else self.closed

    def above_floor(self, rows: Sequence[K]) -> list[K]:
        """The rows a subscription document shows: none an archive page holds, so following
        the links reaches every item exactly once."""
        floor = self.floor
        if floor is None:
            return list(rows)
        return [r for r in rows if (r.publish_at, r.id) > floor]

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


# One indexed read on the Core connection (each pass asks it for every feed it renders): the
# state and the newest closed page's bound, the floor.
_STATE = (
    select(
        ArchiveScope.closed,
        ArchiveScope.open_page,
        ArchiveScope.backlog,
        ArchiveScope.fingerprint,
        ArchivePage.bound_publish_at,
        ArchivePage.bound_id,
    )
    .outerjoin(
        ArchivePage,
        and_(
            ArchivePage.feed_key == ArchiveScope.feed_key,
            ArchivePage.page == ArchiveScope.closed,
        ),
    )
    .where(ArchiveScope.feed_key == bindparam("key"))
)


def read_state(session: Session, key: str) -> History:
    """The feed's archive state as stored; History() for a feed never archived."""
    row = session.connection().execute(_STATE, {"key": key}).first()
    if row is None:
        return History()
    closed, open_page, backlog, fingerprint, bound_at, bound_id = row
    floor = (bound_at, bound_id) if closed and bound_at is not None else None
    return History(closed, bool(open_page), bool(backlog), floor, fingerprint)
