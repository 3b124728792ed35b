"""Render the feeds of tags and authors, and record them rendered, for the publishing pass."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from flask import Flask
from sqlalchemy import Connection, Table, bindparam, select, update

from feedsvc import feeds, urls
from feedsvc.limits import ITEMS_PER_FEED_DEFAULT
from feedsvc.publishing import archivelinks, renderpool
from feedsvc.publishing.snapshot import (
    FeedHead,
    Rendered,
    deleted_entries,
    feed_items,
    render_formats,
    stored_entries,
)
from feedsvc.scopes import Scope, scope_rows
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Section
from feedsvc.storage.topics import AUTHOR, Topic

log = logging.getLogger(__name__)
# Items in a tag's or author's feed: the sections' default.
TOPIC_FEED_ITEMS = ITEMS_PER_FEED_DEFAULT
# Topics stored per transaction when many are due (a full rebuild): bounded memory.
BATCH_TOPICS = 50


@dataclass(frozen=True)
class TopicDocs:
    """One topic's rendered feeds, and what its row must record once they are stored."""

    topic_id: int
    revision: int
    as_of: datetime
    docs: list[Rendered]


def topic_head(config: Mapping[str, Any], topic: Any) -> FeedHead:
    """A tag's or author's feed head; topic has kind, name, slug and created_at. Its feeds'
    archive pages (publishing/archivescopes.py) say the same."""
    site_name, site_url = config["SITE_NAME"], config["SITE_URL"]
    page = urls.topic_page_url(site_url, topic.kind, topic.slug)
    name = topic.name
    if topic.kind == AUTHOR:
        title, description = (
            f"{site_name}: articles by {name}",
            f"Articles by {name} from {site_name}.",
        )
    else:
        title, description = f"{site_name}: {name}", f"Articles tagged “{name}” from {site_name}."
    return FeedHead(
        # Derived from the page's address (the slug never changes for a topic): stable, unique.
        id=uuid.uuid5(uuid.NAMESPACE_URL, page).urn,
        title=title,
        description=description,
        home_url=page,
        # An empty feed (its last article went away) keeps a fixed date, never now().
        fallback_updated=topic.created_at,
    )


def prepare_topic(app: Flask, topic_id: int, as_of: datetime) -> TopicDocs | None:
    """Read one tag or author and render its three feeds as of a given instant."""
    config = app.config
    site_url = config["SITE_URL"]
    with transaction(app, write=False) as s:
        topic = (
            s.connection()
            .execute(
                select(
                    Topic.id, Topic.kind, Topic.name, Topic.slug, Topic.revision, Topic.created_at
                ).where(Topic.id == topic_id)
            )
            .first()
        )
        if topic is None:
            return None
        revision = topic.revision  # first: anything that lands later bumps it again
        scope = Scope(topic.kind, topic.id)
        # RFC 5005 §4: what an archive page holds is left out here; the prev-archive link
        # leads to it. RFC 6721: the entries that left this feed, as at:deleted-entry.
        history = archivelinks.read_state(s, scope.key)
        reach = history.reach(TOPIC_FEED_ITEMS, int(config["ARCHIVE_OPEN_STEP"]))
        rows = history.shown(scope_rows(s, scope, as_of, reach), TOPIC_FEED_ITEMS)
        # On the Core connection, like the rows: the ORM session's path costs more than the read.
        names: dict[int, str] = dict(
            s.connection()
            .execute(
                select(Section.id, Section.name).where(
                    Section.id.in_(sorted({r.section_id for r in rows}))
                )
            )
            .all()
        )
        items = feed_items(site_url, rows, names)
        head = replace(
            topic_head(config, topic), deleted=deleted_entries(s, config, scope.key, as_of)
        )
    links = history.subscription_links(site_url, urls.topic_base(topic.kind, topic.slug))
    paths = {fmt: urls.topic_doc_path(topic.kind, topic.slug, fmt) for fmt in feeds.FORMATS}
    previous = stored_entries(app, paths)
    docs = render_formats(config, paths, items, head, links, previous=previous)
    return TopicDocs(topic.id, revision, as_of, docs)


def render_topics(
    app: Flask,
    topic_ids: Sequence[int],
    as_of: datetime,
    failures: dict[str, str],
    advance: Callable[[int], None] | None = None,
) -> Iterator[list[TopicDocs]]:
    """The due topics rendered, in batches of BATCH_TOPICS; one topic's failure is reported
    in failures ("topic:<id>") and never stops the others (its last good feeds stay served).
    advance, when given, is told of each topic done (a full rebuild's progress).

    Many topics (a full rebuild) render in the section renderer's processes, in order.
    """
    batch: list[TopicDocs] = []
    outcomes = renderpool.prepare_all(app, topic_ids, as_of, prepare_topic)
    try:
        for outcome in outcomes:
            if advance is not None:
                advance(1)
            if isinstance(outcome, renderpool.Failed):
                log.error(
                    "rendering topic %s failed; its last good feeds stay served",
                    outcome.section_id,
                    exc_info=outcome.error,
                )
                error = outcome.error
                failures[f"topic:{outcome.section_id}"] = f"{type(error).__name__}: {error}"
                continue
            if outcome.value is not None:  # None: deleted since the pass began
                batch.append(outcome.value)
            if len(batch) >= BATCH_TOPICS:
                yield batch
                batch = []
    finally:
        outcomes.close()
    if batch:
        yield batch


_TOPICS = cast(Table, Topic.__table__)
# Never move a topic back: a newer pass may have stored a later revision.
_MARK_RENDERED = (
    update(_TOPICS)
    .where(
        _TOPICS.c.id == bindparam("id_"),
        _TOPICS.c.rendered_revision <= bindparam("revision_"),
    )
    .values(rendered_revision=bindparam("revision_"), rendered_as_of=bindparam("as_of_"))
)


def mark_rendered(connection: Connection, topics: Sequence[TopicDocs]) -> None:
    """Record the topics as rendered, in the transaction that stores their documents."""
    if topics:
        connection.execute(
            _MARK_RENDERED,
            [{"id_": t.topic_id, "revision_": t.revision, "as_of_": t.as_of} for t in topics],
        )
