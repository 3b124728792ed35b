"""RFC 5005 §4 archived feeds: close fixed pages of older items, render the pages that changed.

A feed ("scope": the site, a section, a tag or an author; archivescopes.read_scopes) shows its
newest items in its subscription document; everything older sits in archive pages. A closed
page holds the scope's published items whose (publish_at, id) key lies above the previous
page's stored bound and at most its own: bounds never move, so adding or deleting an article
changes no other page, and a closed page's bytes change only when one of its own articles is
edited or deleted (the touches a save leaves, archiving.touch). Items between the newest bound
and the subscription document form the open page, which may still change: it takes the items
past the document's window in steps of ARCHIVE_OPEN_STEP, so it is rendered again once per
step of new items (publishing/archiveopen.py), not with each. Each pass closes
and renders at most ARCHIVE_PAGES_PER_PASS pages, so a large first backfill spreads over
several passes instead of one long one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import (
    BindParameter,
    Connection,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from feedsvc.publishing.archiveclosed import render_closed
from feedsvc.publishing.archivelinks import History, read_states, step_for
from feedsvc.publishing.archivescopes import (
    Scope,
    ScopeMap,
    count_above,
    due_keys,
    fingerprint,
    held_open,
    nth_above,
    read_scopes,
)
from feedsvc.publishing.changes import Due
from feedsvc.publishing.store import Fenced
from feedsvc.storage.archives import ArchivePage, ArchiveScope, ArchiveTouch
from feedsvc.storage.db import transaction

log = logging.getLogger(__name__)
# Feeds whose scopes and states one statement reads (a backfill goes through thousands).
CHUNK = 100
Write = tuple[Any, dict[str, Any]]  # a statement built once, and the values it runs with

# Built once, values bound per call (publishing/archivequeries.py says why).
_TOUCHES = select(
    ArchiveTouch.id, ArchiveTouch.feed_key, ArchiveTouch.publish_at, ArchiveTouch.article_id
)
_DIRTY_PAGES = select(ArchivePage.feed_key).where(ArchivePage.dirty).distinct()
_FLAGGED = select(ArchiveScope.feed_key, ArchiveScope.open_dirty, ArchiveScope.backlog).where(
    or_(ArchiveScope.open_dirty, ArchiveScope.backlog)
)
_at: BindParameter[Any] = bindparam("at")
_TOUCHED_PAGE = (
    select(ArchivePage.page)
    .where(
        ArchivePage.feed_key == bindparam("key"),
        or_(
            ArchivePage.bound_publish_at > _at,
            and_(ArchivePage.bound_publish_at == _at, ArchivePage.bound_id >= bindparam("ident")),
        ),
    )
    .order_by(ArchivePage.page)
    .limit(1)
)
_DIRTY_PAGE_SET = (
    update(ArchivePage)
    .where(
        ArchivePage.feed_key == bindparam("key"),
        ArchivePage.page.in_(bindparam("pages", expanding=True)),
    )
    .values(dirty=True)
)
_DIRTY_FEED = update(ArchivePage).where(ArchivePage.feed_key == bindparam("key")).values(dirty=True)
_NEW_PAGE = insert(ArchivePage)
_SET_STATE = update(ArchiveScope).where(ArchiveScope.feed_key == bindparam("key"))
_NEW_STATE = insert(ArchiveScope)
_DONE_TOUCHES = delete(ArchiveTouch).where(ArchiveTouch.id.in_(bindparam("ids", expanding=True)))
_OPENED = (
    update(ArchiveScope)
    .where(ArchiveScope.feed_key.in_(bindparam("keys", expanding=True)))
    .values(open_dirty=False)
)
# The writes after which some closed page waits to be rendered.
_DIRTYING = (_NEW_PAGE, _DIRTY_PAGE_SET, _DIRTY_FEED)


@dataclass
class Plan:
    """What advance did: the pass's due list (with feeds whose links moved), open pages due."""

    due: Due
    open_pages: list[tuple[Scope, History]] = field(default_factory=list)
    failure: str = ""  # why advancing failed, for the pass's failures ("" when it did not)
    touches: list[int] = field(default_factory=list)  # drained: deleted with the pass's last write
    opened: list[str] = field(default_factory=list)  # open pages stored with the last write

    def on_commit(self, session: Session) -> None:
        """Inside the pass's last write: the touches it drained are done with, and the open
        pages stored with it are up to date."""
        if self.touches:
            session.connection().execute(_DONE_TOUCHES, {"ids": self.touches})
        opened(session, self.opened)


def opened(session: Session, keys: Sequence[str]) -> None:
    """In the transaction that stores their open pages: those pages are up to date."""
    if keys:
        session.connection().execute(_OPENED, {"keys": list(keys)})


def advance(app: Flask, due: Due, now: datetime, *, token: int | None) -> Plan:
    """Drain touches, close full pages and render the closed pages that need it (stored here).

    Runs before the pass renders its subscription documents, which then read the new state.
    A failure is logged and leaves the archive for the next pass; the feeds still render.
    """
    try:
        return _advance(app, due, now, token)
    except Fenced:  # this process no longer leads: the pass ends here
        raise
    except Exception as exc:
        log.exception("advancing the feed archives failed; the next pass tries again")
        return Plan(due, failure=f"{type(exc).__name__}: {exc}")


def _advance(app: Flask, due: Due, now: datetime, token: int | None) -> Plan:
    config = app.config
    page_items = int(config["ARCHIVE_PAGE_ITEMS"])
    step = int(config["ARCHIVE_OPEN_STEP"])
    budget = int(config["ARCHIVE_PAGES_PER_PASS"])
    moved_sections, moved_topics = set[int](), set[int]()
    site_moved = False
    plan = Plan(due)
    # Reads only here; what must be written (rare: a page closes, an old article was edited)
    # is collected and written in one transaction afterwards: a tick with nothing for the
    # archives opens no write transaction.
    writes: list[Write] = []
    with transaction(app, write=False) as s:
        c = s.connection()
        touches: dict[str, list[tuple[int, datetime, int]]] = defaultdict(list)
        for touch_id, key, at, article_id in c.execute(_TOUCHES):
            touches[key].append((touch_id, at, article_id))
        # Feeds with work now first (their subscription documents render in this pass, or a
        # page of theirs waits to be rendered again), then those with pages left to close.
        keys, scopes = due_keys(c, config, due)
        dirty_pages = set(c.execute(_DIRTY_PAGES).scalars())
        # Open pages waiting to be rendered: flagged by an earlier pass whose store failed,
        # or by an upgrade (migration 0015). A feed still backfilling renders none: it waits
        # its turn with the backlog below, within the pass's page budget.
        open_dirty, backlog = set[str](), set[str]()
        for key, is_open_dirty, in_backlog in c.execute(_FLAGGED):
            if in_backlog:
                backlog.add(key)
            elif is_open_dirty:
                open_dirty.add(key)
        keys += sorted((set(touches) | dirty_pages | open_dirty) - set(keys))
        urgent = len(keys)
        keys += sorted(backlog - set(keys))
        if not keys:
            return plan
        states: dict[str, History] = {}
        for position, key in enumerate(keys):
            if position >= urgent and budget <= 0:
                del keys[position:]  # the rest of the backlog waits for the next passes
                break
            if key not in states:
                _read_ahead(c, config, keys[position : position + CHUNK], scopes, states)
            scope, before = scopes[key], states[key]
            if scope is None:
                if before.open_dirty:  # gone (a deleted tag): nothing left to render
                    writes.append((_SET_STATE, {"key": key, "open_dirty": False}))
                continue
            touched = touches.get(key, ())
            writes += _mark_touched(c, key, before, touched)
            print_ = fingerprint(config, scope)
            sizes = (page_items, step)
            state, budget = _close(c, scope, before, now, sizes, budget, print_, writes)
            state = _open_state(state, before, touched, full=due.full)
            _write_state(key, state, before, writes)
            if state.newest_page != before.newest_page or state.open_bound != before.open_bound:
                # Its feeds' prev-archive (RFC 5005 §4) moved: they render in this pass.
                if scope.topic_id is not None:
                    moved_topics.add(scope.topic_id)
                elif scope.section_id is None:
                    site_moved = True
                else:
                    moved_sections.add(scope.section_id)
            if state.open_page and not state.backlog and state.open_dirty:
                plan.open_pages.append((scope, state))
    plan.touches = [t[0] for ts in touches.values() for t in ts]
    # Some closed page waits to be rendered: one flagged before, or by a write of this pass.
    pages_dirty = bool(dirty_pages) or any(w[0] in _DIRTYING for w in writes)
    if writes:
        if plan.touches:  # done with here already
            writes.append((_DONE_TOUCHES, {"ids": plan.touches}))
            plan.touches = []
        with transaction(app) as s:
            c = s.connection()
            for statement, values in writes:
                c.execute(statement, values)
    if pages_dirty:  # else no page waits to be rendered: not even asked
        render_closed(app, keys, now, int(config["ARCHIVE_PAGES_PER_PASS"]), token)
    if moved_sections or site_moved or moved_topics:
        plan.due = replace(
            due,
            sections=sorted(set(due.sections) | moved_sections),
            site=due.site or site_moved,
            topics=sorted(set(due.topics) | moved_topics),
        )
    return plan


def _read_ahead(
    c: Connection,
    config: Any,
    keys: Sequence[str],
    scopes: ScopeMap,
    states: dict[str, History],
) -> None:
    """The next feeds' stored states and scopes (those not known yet), a statement each."""
    states.update(read_states(c, keys))
    scopes.update(read_scopes(c, config, [k for k in keys if k not in scopes]))


def _mark_touched(
    c: Connection, key: str, history: History, touched: Sequence[tuple[int, datetime, int]]
) -> list[Write]:
    """Marking dirty the closed pages holding the touched placements (above the floor: none)."""
    floor = history.floor
    if floor is None:
        return []
    pages = set()
    for _id, at, article_id in touched:
        if (at, article_id) > floor:
            continue  # the open page or the subscription document: rendered anyway
        page = c.execute(_TOUCHED_PAGE, {"key": key, "at": at, "ident": article_id}).scalar()
        if page is not None:
            pages.add(page)
    if not pages:
        return []
    return [(_DIRTY_PAGE_SET, {"key": key, "pages": sorted(pages)})]


def _close(
    c: Connection,
    scope: Scope,
    history: History,
    now: datetime,
    sizes: tuple[int, int],
    budget: int,
    print_: str,
    writes: list[Write],
) -> tuple[History, int]:
    """Close pages while the items past the subscription window fill one; return the state
    (its open bound and flag as before: _open_state settles them)."""
    page_items, step = sizes
    closed, floor = history.closed, history.floor
    # The oldest page_items items above the floor are past the window when at least
    # window + page_items items are above it.
    reach = scope.window + page_items
    count = count_above(c, scope, now, floor, reach)
    closable = count >= reach
    while budget > 0 and closable:
        new_floor = nth_above(c, scope, now, floor, page_items)
        closed += 1
        assert new_floor[0] is not None  # published articles have a publish time
        writes.append(
            (
                _NEW_PAGE,
                {
                    "feed_key": scope.key,
                    "page": closed,
                    "bound_publish_at": new_floor[0],
                    "bound_id": new_floor[1],
                    "dirty": True,
                },
            )
        )
        budget -= 1
        floor = new_floor
        count = count_above(c, scope, now, floor, reach)
        closable = count >= reach
    backlog = closable  # asked after the last page closed (or before, none closed)
    # Published once anything is past the window, and kept from then on (possibly empty):
    # the newest closed page's next-archive link is part of its fixed bytes.
    open_page = history.open_page or closed > 0 or count > scope.window
    open_bound = history.open_bound  # a backfill renders no open page: it waits
    if not backlog:
        held = held_open(count, scope.window, step_for(scope.window, step))
        open_bound = nth_above(c, scope, now, floor, held) if held else None
    state = History(
        closed, open_page, backlog, floor, print_, open_bound, history.open_dirty and open_page
    )
    if print_ != history.fingerprint and history.closed:
        # The feed's title, path or the site's address changed: every page says it.
        writes.append((_DIRTY_FEED, {"key": scope.key}))
    return state, budget


def _open_state(
    state: History, before: History, touched: Sequence[tuple[int, datetime, int]], *, full: bool
) -> History:
    """The open page must be rendered again when what it holds or says may have changed: it
    was just published, its bounds or the feed's head moved, one of its articles was saved
    (a touch at or below its bound), or the pass re-renders everything."""
    if not state.open_page:
        return replace(state, open_dirty=False)
    floor, bounds = state.floor, [b for b in (state.open_bound, before.open_bound) if b]
    inside = bool(bounds) and any(
        (floor is None or (at, ident) > floor) and (at, ident) <= max(bounds)
        for _id, at, ident in touched
    )
    changed = (state.open_page, state.floor, state.open_bound, state.fingerprint) != (
        before.open_page,
        before.floor,
        before.open_bound,
        before.fingerprint,
    )
    return replace(state, open_dirty=state.open_dirty or changed or inside or full)


def _write_state(key: str, state: History, before: History, writes: list[Write]) -> None:
    """Store the feed's state when it changed (one statement, in the pass's archive write)."""
    fields = ("closed", "open_page", "backlog", "fingerprint", "open_bound", "open_dirty")
    if all(getattr(state, f) == getattr(before, f) for f in fields):
        return
    at, ident = state.open_bound or (None, None)
    values = {
        "closed": state.closed,
        "open_page": state.open_page,
        "backlog": state.backlog,
        "fingerprint": state.fingerprint,
        "open_bound_publish_at": at,
        "open_bound_id": ident,
        "open_dirty": state.open_dirty,
    }
    # A stored state always has its fingerprint: none means no row yet.
    if before.fingerprint:
        writes.append((_SET_STATE, {"key": key, **values}))
    else:
        writes.append((_NEW_STATE, {"feed_key": key, **values}))
