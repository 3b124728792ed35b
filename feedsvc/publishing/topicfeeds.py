"""Render the feeds of tags and authors, and record them rendered, for the publishing pass."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from flask import Flask
from sqlalchemy import Connection, Table, bindparam, select, update

from feedsvc import feeds, urls
from feedsvc.limits import ITEMS_PER_FEED_DEFAULT
from feedsvc.publishing import renderpool
from feedsvc.publishing.snapshot import FeedHead, Rendered, feed_items, render_formats
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


def _head(site_name: str, site_url: str, kind: str, name: str, slug: str) -> tuple[str, str, str]:
    """(feed id, title, description) of a topic's feeds."""
    page = urls.topic_page_url(site_url, kind, slug)
    # Derived from the page's address (the slug never changes for a topic): stable, unique.
    feed_id = uuid.uuid5(uuid.NAMESPACE_URL, page).urn
    if kind == AUTHOR:
        return feed_id, f"{site_name}: articles by {name}", f"Articles by {name} from {site_name}."
    return feed_id, f"{site_name}: {name}", f"Articles tagged “{name}” from {site_name}."


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
        rows = scope_rows(s, Scope(topic.kind, topic.id), as_of, TOPIC_FEED_ITEMS)
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
    feed_id, title, description = _head(
        config["SITE_NAME"], site_url, topic.kind, topic.name, topic.slug
    )
    head = FeedHead(
        id=feed_id,
        title=title,
        description=description,
        home_url=urls.topic_page_url(site_url, topic.kind, topic.slug),
        # An empty feed (its last article went away) keeps a fixed date, never now().
        fallback_updated=topic.created_at,
    )
    paths = {fmt: urls.topic_doc_path(topic.kind, topic.slug, fmt) for fmt in feeds.FORMATS}
    return TopicDocs(topic.id, revision, as_of, render_formats(config, paths, items, head))


def render_topics(
    app: Flask, topic_ids: Sequence[int], as_of: datetime, failures: dict[str, str]
) -> Iterator[list[TopicDocs]]:
    """The due topics rendered, in batches of BATCH_TOPICS; one topic's failure is reported
    in failures ("topic:<id>") and never stops the others (its last good feeds stay served).

    Many topics (a full rebuild) render in the section renderer's processes, in order.
    """
    batch: list[TopicDocs] = []
    outcomes = renderpool.prepare_all(app, topic_ids, as_of, prepare_topic)
    try:
        for outcome in outcomes:
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
