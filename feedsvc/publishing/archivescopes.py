"""Which articles an archived feed holds: its scope (site, section, ...), its pages' rows."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from feedsvc import archiving, feeds, scopes, urls
from feedsvc.publishing import archivequeries
from feedsvc.publishing.archivelinks import History, Key
from feedsvc.publishing.changes import Due
from feedsvc.publishing.snapshot import (
    SECTION_FEED,
    FeedHead,
    Rendered,
    feed_items,
    render_formats,
    section_head,
    site_head,
    stored_entries,
)
from feedsvc.publishing.topicfeeds import TOPIC_FEED_ITEMS, topic_head
from feedsvc.reading import FeedRow
from feedsvc.storage.models import Section
from feedsvc.storage.topics import AUTHOR, TAG, Topic


@dataclass(frozen=True)
class Scope:
    """An archived feed: which articles, how many its subscription document shows, its head."""

    key: str  # "site", "section:<id>", "tag:<id>", "author:<id>" (feedsvc/scopes.py)
    base: str  # document path prefix: "", "sections/<slug>/", "tags/<slug>/", ...
    window: int  # items in the subscription document
    head: FeedHead
    section_id: int | None = None  # the section whose feeds link to it, None for the site
    topic_id: int | None = None  # the tag or author whose feeds link to it

    @property
    def kind(self) -> str:
        """Which statements read its articles (archivequeries: site, section or topic)."""
        if self.topic_id is not None:
            return archivequeries.TOPIC
        return archivequeries.SITE if self.section_id is None else archivequeries.SECTION

    @property
    def scope_id(self) -> int | None:
        """The section's or topic's id its statements bind (None for the site)."""
        return self.section_id if self.topic_id is None else self.topic_id


ScopeMap = dict[str, Scope | None]  # by key; None: the feed is gone (or the key not understood)

# Read on the Core connection, several feeds per statement: a pass asks them for every feed
# whose archive it advances.
_FIRST_SECTION = select(Section.created_at).order_by(Section.created_at).limit(1)
_SECTIONS = SECTION_FEED.where(Section.id.in_(bindparam("ids", expanding=True)))
_TOPICS = (
    select(Topic.id, Topic.kind, Topic.name, Topic.slug, Topic.created_at)
    .where(Topic.id.in_(bindparam("ids", expanding=True)))
    .order_by(Topic.id)
)
_SECTION_NAMES = select(Section.id, Section.name).where(
    Section.id.in_(bindparam("ids", expanding=True))
)


def _section_scope(config: Mapping[str, Any], row: Any) -> Scope:
    return Scope(
        archiving.section_key(row.id),
        urls.section_base(row.slug),
        row.items_per_feed,
        section_head(config, row),
        section_id=row.id,
    )


def _topic_scope(config: Mapping[str, Any], topic: Any) -> Scope:
    """A tag's or author's feed: the articles linked to the topic, ordered by the links'
    copies of their status and publish time (kept in step by every save), as its feed is."""
    return Scope(
        scopes.Scope(topic.kind, topic.id).key,
        urls.topic_base(topic.kind, topic.slug),
        TOPIC_FEED_ITEMS,
        topic_head(config, topic),
        topic_id=topic.id,
    )


def due_keys(c: Connection, config: Mapping[str, Any], due: Due) -> tuple[list[str], ScopeMap]:
    """The keys of the feeds a pass renders: their archives advance first; with the scopes of
    the due topics, read in the same statement. A topic's key needs its kind: read for the due
    topics only, never for all of them."""
    keys = [archiving.section_key(i) for i in due.sections]
    keys += [archiving.SITE_KEY] if due.site else []
    found: ScopeMap = {}
    if due.topics:
        for topic in c.execute(_TOPICS, {"ids": list(due.topics)}):
            scope = _topic_scope(config, topic)
            keys.append(scope.key)
            found[scope.key] = scope
    return keys, found


def read_scopes(c: Connection, config: Mapping[str, Any], keys: Sequence[str]) -> ScopeMap:
    """The scopes these keys name, None for one that no longer exists (or is not understood):
    one statement per kind of feed, whatever the number of keys."""
    found: ScopeMap = dict.fromkeys(keys)
    sections: dict[int, list[str]] = defaultdict(list)
    topics: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for key in keys:
        if key == archiving.SITE_KEY:
            first = c.execute(_FIRST_SECTION).scalar()
            site = Scope(key, "", int(config["SITE_FEED_ITEMS"]), site_head(config, first))
            found[key] = site
            continue
        kind, _, ident = key.partition(":")
        if kind == scopes.SECTION and ident.isdigit():
            sections[int(ident)].append(key)
        elif kind in (TAG, AUTHOR) and ident.isdigit():
            topics[int(ident)].append((key, kind))
    if sections:
        for row in c.execute(_SECTIONS, {"ids": sorted(sections)}):
            for key in sections[row.id]:
                found[key] = _section_scope(config, row)
    if topics:
        for topic in c.execute(_TOPICS, {"ids": sorted(topics)}):
            for key, kind in topics[topic.id]:
                found[key] = _topic_scope(config, topic) if topic.kind == kind else None
    return found


def scope_of(session: Session, config: Mapping[str, Any], key: str) -> Scope | None:
    """The scope a key names, None when it no longer exists (or the key is not understood)."""
    return read_scopes(session.connection(), config, [key])[key]


def count_above(c: Connection, scope: Scope, as_of: datetime, floor: Key | None, limit: int) -> int:
    """How many of the scope's items published by as_of lie above floor, counted up to limit
    (one index range, counted by the engine: no row reaches Python)."""
    values = archivequeries.bound(scope.scope_id, as_of, floor)
    values["reach"] = limit
    statement = archivequeries.count_statement(scope.kind, floor is not None)
    return int(c.execute(statement, values).scalar_one())


def nth_above(c: Connection, scope: Scope, as_of: datetime, floor: Key | None, n: int) -> Key:
    """The (publish_at, id) key of the scope's n-th oldest item above floor (n >= 1)."""
    values = archivequeries.bound(scope.scope_id, as_of, floor)
    values["skip"] = n - 1
    statement = archivequeries.nth_statement(scope.kind, floor is not None)
    at, ident = c.execute(statement, values).one()
    return (at, ident)


def held_open(count: int, window: int, step: int) -> int:
    """How many items the open page holds, of count above the floor: those past the window,
    in whole steps (the subscription document keeps its window and fewer than a step more)."""
    past = count - window
    return past - past % step if past > 0 else 0


def fingerprint(config: Mapping[str, Any], scope: Scope) -> str:
    """What a feed's archive pages say besides their items: their path, head and the settings
    they are rendered with. Rendered again, every page, when it changes."""
    settings = [config[name] for name in ("SITE_URL", "SITE_LANGUAGE", "SITE_NAME")]
    settings += [config["TICK_SECONDS"], config["ARCHIVE_MAX_AGE"]]
    return hashlib.sha256(repr((scope.base, scope.head, settings)).encode()).hexdigest()[:32]


def page_rows(
    c: Connection, scope: Scope, as_of: datetime, floor: Key | None, upper: Key
) -> tuple[list[FeedRow], dict[int, str]]:
    """A page's articles as feed rows (above floor, at most upper, newest first), and the
    names of the sections they belong to."""
    statement = archivequeries.page_statement(scope.kind, floor is not None)
    values = archivequeries.bound(scope.scope_id, as_of, floor, upper)
    rows = [FeedRow(*r) for r in c.execute(statement, values)]
    wanted = sorted({r.section_id for r in rows})
    names: dict[int, str] = {}
    if wanted:
        names = {i: n for i, n in c.execute(_SECTION_NAMES, {"ids": wanted})}
    return rows, names


def page_docs(
    config: Mapping[str, Any],
    scope: Scope,
    history: History,
    page: int,
    rows: tuple[list[FeedRow], dict[int, str]],
    max_age: int | None,
    app: Flask | None = None,
) -> list[Rendered]:
    """One archive page's documents in every format (closed pages carry max_age).

    With app, entries come from the stored page and subscription feed where unchanged: an
    open page holds the items that just left the feed, rendered there already.
    """
    site_url = config["SITE_URL"]
    paths = {fmt: urls.archive_doc_path(scope.base, page, fmt) for fmt in feeds.FORMATS}
    links = {fmt: history.page_links(site_url, scope.base, page, fmt) for fmt in feeds.FORMATS}
    items = feed_items(site_url, *rows)
    previous = None
    if app is not None:
        feed = {fmt: f"{scope.base}{urls.FEED_FILES[fmt]}" for fmt in feeds.FORMATS}
        previous = stored_entries(app, paths, feed)
    return render_formats(config, paths, items, scope.head, links, max_age, previous)
