"""Snapshot a section or the whole site into plain data and render its feeds (nothing written)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from feedsvc import feeds, urls
from feedsvc.feeds.opml import OPML_CONTENT_TYPE, OpmlEntry, render_opml
from feedsvc.publishing.topicopml import opml_groups
from feedsvc.reading import FeedRow, feed_rows
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Section

# The feed-level date of a site with no articles at all: fixed, so output stays deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    """A rendered document: where it is served, its media type and its bytes."""

    path: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class SectionDocs:
    """One section's rendered feeds, and what its row must record once they are stored."""

    section_id: int
    revision: int
    as_of: datetime
    docs: list[Rendered]

    @property
    def size(self) -> int:
        return sum(len(d.body) for d in self.docs)


@dataclass(frozen=True, slots=True)
class FeedHead:
    """What a feed says about itself beyond the site's settings, the same in every format."""

    id: str  # permanent feed id
    title: str
    description: str
    home_url: str
    fallback_updated: datetime  # the feed's date while it has no items: fixed, never now()


def feed_items(
    site_url: str,
    articles: Sequence[FeedRow],
    names: dict[int, str],
) -> list[feeds.FeedItem]:
    """The articles as the renderer's items: absolute URLs, section names as categories,
    then the article's tags as further categories."""
    items = []
    for a in articles:
        items.append(
            feeds.FeedItem(
                id=a.guid,
                url=urls.article_url(site_url, a.id),
                title=a.title,
                content_html=a.body_html,
                summary=a.summary,
                published=a.publish_at,
                # An article edited before its scheduled time: readers first see it at publish_at.
                updated=max(a.updated_at, a.publish_at),
                author=a.author or None,
                category=names[a.section_id],
                tags=a.tags,
            )
        )
    return items


def _render_formats(
    config: Mapping[str, Any],
    paths: dict[str, str],
    items: Sequence[feeds.FeedItem],
    head: FeedHead,
) -> list[Rendered]:
    """The items as RSS, Atom and JSON Feed; feed updated = the newest item's, never now()."""
    updated = max((i.updated for i in items), default=head.fallback_updated)
    metas = {
        fmt: feeds.FeedMeta(
            id=head.id,
            title=head.title,
            description=head.description,
            home_url=head.home_url,
            self_url=urls.absolute(config["SITE_URL"], path),
            language=config["SITE_LANGUAGE"],
            updated=updated,
            author=config["SITE_NAME"],
            ttl_minutes=max(1, round(float(config["TICK_SECONDS"]) / 60)),
        )
        for fmt, path in paths.items()
    }
    bodies = feeds.render_all(metas, items)
    return [Rendered(path, feeds.CONTENT_TYPES[fmt], bodies[fmt]) for fmt, path in paths.items()]


render_formats = _render_formats  # for the other scopes' feeds (publishing/topicfeeds.py)


def prepare_section(app: Flask, section_id: int, as_of: datetime) -> SectionDocs | None:
    """Read one section and render its three feeds as of a given instant (nothing written)."""
    config = app.config
    with transaction(app, write=False) as s:
        # Plain columns, not the ORM object: this runs for every changed section, every tick.
        section = (
            s.connection()
            .execute(
                select(
                    Section.id,
                    Section.guid,
                    Section.name,
                    Section.slug,
                    Section.description,
                    Section.items_per_feed,
                    Section.revision,
                    Section.created_at,
                ).where(Section.id == section_id)
            )
            .first()
        )
        if section is None:
            return None
        # Revision first: anything that lands after this read bumps it again.
        revision = section.revision
        articles = feed_rows(s, as_of, section.items_per_feed, section_id)
        items = feed_items(config["SITE_URL"], articles, {section.id: section.name})
        paths = {fmt: urls.section_doc_path(section.slug, fmt) for fmt in feeds.FORMATS}
        head = FeedHead(
            id=section.guid,
            title=f"{config['SITE_NAME']}: {section.name}",
            description=section.description or f"{section.name} from {config['SITE_NAME']}.",
            home_url=urls.section_page_url(config["SITE_URL"], section.slug),
            fallback_updated=section.created_at,
        )
        docs = _render_formats(config, paths, items, head)
    return SectionDocs(section_id, revision, as_of, docs)


def prepare_site(app: Flask, as_of: datetime, *, opml: bool = True) -> list[Rendered]:
    """Render the all-sections feeds and, when asked, the OPML list (nothing written)."""
    config = app.config
    site_url = config["SITE_URL"]
    with transaction(app, write=False) as s:
        articles = feed_rows(s, as_of, int(config["SITE_FEED_ITEMS"]))
        # Only the sections these items name: a tick must not read all thousand of them.
        wanted = {a.section_id for a in articles}
        names: dict[int, str] = dict(
            s.execute(select(Section.id, Section.name).where(Section.id.in_(wanted))).all()
        )
        items = feed_items(site_url, articles, names)
        # An empty site feed is dated by its oldest section (fixed), never by now().
        first_created = None if items else s.scalar(select(func.min(Section.created_at)))
        # Plain columns, not ORM objects: a thousand sections cost a millisecond, not twenty.
        sections = (
            s.execute(
                select(Section.name, Section.slug, Section.description).order_by(
                    func.lower(Section.name), Section.id
                )
            ).all()
            if opml
            else []
        )
        groups = opml_groups(s, site_url) if opml else []
    paths = {fmt: urls.site_doc_path(fmt) for fmt in feeds.FORMATS}
    head = FeedHead(
        # Derived from the site's address: stable for as long as the site keeps its URL.
        id=uuid.uuid5(uuid.NAMESPACE_URL, site_url + "/").urn,
        title=config["SITE_NAME"],
        description=config["SITE_DESCRIPTION"],
        home_url=site_url + "/",
        fallback_updated=first_created or EPOCH,
    )
    docs = _render_formats(config, paths, items, head)
    if opml:
        entries = [
            OpmlEntry(
                title=sec.name,
                description=sec.description,
                html_url=urls.section_page_url(site_url, sec.slug),
                feed_url=urls.absolute(site_url, urls.section_doc_path(sec.slug, "rss")),
            )
            for sec in sections
        ]
        opml_body = render_opml(config["SITE_NAME"], entries, groups)
        docs.append(Rendered(urls.OPML_PATH, OPML_CONTENT_TYPE, opml_body))
    return docs
