"""Snapshot a section or the whole site into plain data and render its feeds (nothing written)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from feedsvc import archiving, feeds, tombstones, urls
from feedsvc.feeds.opml import OPML_CONTENT_TYPE, OpmlEntry, render_opml
from feedsvc.media import OCTET_STREAM
from feedsvc.publishing import archivelinks
from feedsvc.publishing.feedhints import feed_hints
from feedsvc.publishing.topicopml import opml_groups
from feedsvc.reading import FeedRow, feed_rows
from feedsvc.storage.codec import gunzip
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument, Section

# The feed-level date of a site with no articles at all: fixed, so output stays deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    """A rendered document: where it is served, its media type and its bytes."""

    path: str
    content_type: str
    body: bytes
    max_age: int | None = None  # Cache-Control max-age of its own; None: one tick
    # Which bytes of body render which item (feeds.reuse), stored beside it so a later
    # render of the same feed, in any process, reuses the entries that did not change.
    index: bytes | None = None


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
    deleted: tuple[feeds.DeletedEntry, ...] = ()  # RFC 6721 tombstones (Atom only)


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
                # An imported article keeps its permalink where it was first published.
                url=a.original_url or urls.article_url(site_url, a.id),
                title=a.title,
                content_html=a.body_html,
                summary=a.summary,
                published=a.publish_at,
                # An article edited before its scheduled time: readers first see it at publish_at.
                updated=max(a.revised_at, a.publish_at),
                author=a.author or None,
                category=names[a.section_id],
                image=feeds.Image(a.image_url, a.image_alt) if a.image_url else None,
                attachment=_attachment(a),
                tags=a.tags,
            )
        )
    return items


def _attachment(a: FeedRow) -> feeds.Attachment | None:
    """The article's enclosure; until the scheduler has found its type and length, the feeds
    say application/octet-stream and 0 (RSS 2.0 requires both attributes)."""
    if not a.attachment_url:
        return None
    return feeds.Attachment(
        a.attachment_url, a.attachment_type or OCTET_STREAM, a.attachment_length or 0
    )


def render_formats(
    config: Mapping[str, Any],
    paths: dict[str, str],
    items: Sequence[feeds.FeedItem],
    head: FeedHead,
    archive: Mapping[str, feeds.ArchiveLinks] | None = None,
    max_age: int | None = None,
    previous: feeds.Previous | None = None,
) -> list[Rendered]:
    """The items as RSS, Atom and JSON Feed; feed updated = the newest item's, never now().

    previous (stored_entries) offers the feed's stored documents to take unchanged entries
    from, when this process has not rendered them itself.
    """
    updated = max((i.updated for i in items), default=head.fallback_updated)
    metas = {
        fmt: feeds.FeedMeta(
            id=head.id,
            title=head.title,
            description=head.description,
            home_url=head.home_url,
            self_url=urls.absolute(config["SITE_URL"], path),
            # Browsers show RSS and Atom as a page through it (JSON Feed has no such hook).
            stylesheet_url=urls.stylesheet_href(config["SITE_URL"]) if fmt != "json" else "",
            language=config["SITE_LANGUAGE"],
            updated=updated,
            author=config["SITE_NAME"],
            **feed_hints(config),  # <ttl>, sy: hints, WebSub hubs
            deleted=head.deleted,
            archive=archive.get(fmt) if archive else None,
        )
        for fmt, path in paths.items()
    }
    documents = feeds.render_documents(metas, items, previous)
    return [
        Rendered(path, feeds.CONTENT_TYPES[fmt], doc.body, max_age, doc.index)
        for fmt, path in paths.items()
        for doc in (documents[fmt],)
    ]


_DOCUMENTS = FeedDocument.__table__.c


def stored_entries(app: Flask, *feeds_paths: Mapping[str, str]) -> feeds.Previous:
    """feeds.Previous from the documents at these paths (each a format → path map): one read
    on first use, then each document decompressed when the renderer first asks for it."""
    rows: dict[str, tuple[bytes, bytes]] | None = None
    unpacked: dict[str, list[tuple[bytes, bytes]]] = {}

    def previous(fmt: str) -> list[tuple[bytes, bytes]]:
        nonlocal rows
        if fmt in unpacked:
            return unpacked[fmt]
        if rows is None:
            wanted = sorted({path for paths in feeds_paths for path in paths.values()})
            with transaction(app, write=False) as s:
                found = s.connection().execute(
                    select(_DOCUMENTS.path, _DOCUMENTS.body_gzip, _DOCUMENTS.entry_index).where(
                        _DOCUMENTS.path.in_(wanted), _DOCUMENTS.entry_index.is_not(None)
                    )
                )
                rows = {path: (packed, index) for path, packed, index in found}
        docs = [rows[paths[fmt]] for paths in feeds_paths if paths.get(fmt, "") in rows]
        unpacked[fmt] = [(gunzip(packed), index) for packed, index in docs]
        return unpacked[fmt]

    return previous


def deleted_entries(
    session: Session, config: Mapping[str, Any], key: str, as_of: datetime
) -> tuple[feeds.DeletedEntry, ...]:
    """The feed's tombstones within TOMBSTONE_DAYS of as_of's day, newest first."""
    rows = tombstones.for_feed(session, key, as_of, int(config["TOMBSTONE_DAYS"]))
    return tuple(feeds.DeletedEntry(ref=ref, when=when) for ref, when in rows)


# What a section's feeds and their RFC 5005 archive pages (archivescopes) read of it.
SECTION_FEED = select(
    Section.id,
    Section.guid,
    Section.name,
    Section.slug,
    Section.description,
    Section.items_per_feed,
    Section.revision,
    Section.created_at,
)
_ONE_SECTION = SECTION_FEED.where(Section.id == bindparam("id"))


def read_section(
    session: Session, section_id: int
) -> Row[int, str, str, str, str, int, int, datetime] | None:
    """The section's row for its feeds (section_head's fields, its window and revision), or
    None. Plain columns, not the ORM object: this runs for every changed section, every tick."""
    return session.connection().execute(_ONE_SECTION, {"id": section_id}).first()


def prepare_section(app: Flask, section_id: int, as_of: datetime) -> SectionDocs | None:
    """Read one section and render its three feeds as of a given instant (nothing written)."""
    config = app.config
    with transaction(app, write=False) as s:
        section = read_section(s, section_id)
        if section is None:
            return None
        # Revision first: anything that lands after this read bumps it again.
        revision = section.revision
        history = archivelinks.read_state(s, archiving.section_key(section_id))
        window, step = section.items_per_feed, int(config["ARCHIVE_OPEN_STEP"])
        rows = feed_rows(s, as_of, history.reach(window, step), section_id)
        articles = history.shown(rows, window)
        items = feed_items(config["SITE_URL"], articles, {section.id: section.name})
        paths = {fmt: urls.section_doc_path(section.slug, fmt) for fmt in feeds.FORMATS}
        head = replace(
            section_head(config, section),
            deleted=deleted_entries(s, config, tombstones.section_key(section.id), as_of),
        )
        links = history.subscription_links(config["SITE_URL"], urls.section_base(section.slug))
        previous = stored_entries(app, paths)
        docs = render_formats(config, paths, items, head, links, previous=previous)
    return SectionDocs(section_id, revision, as_of, docs)


def section_head(config: Mapping[str, Any], section: Any) -> FeedHead:
    """A section feed's head; section has guid, name, slug, description and created_at."""
    return FeedHead(
        id=section.guid,
        title=f"{config['SITE_NAME']}: {section.name}",
        description=section.description or f"{section.name} from {config['SITE_NAME']}.",
        home_url=urls.section_page_url(config["SITE_URL"], section.slug),
        fallback_updated=section.created_at,
    )


def site_head(config: Mapping[str, Any], first_created: datetime | None) -> FeedHead:
    """The site feed's head; first_created dates it while it has no items (fixed, not now)."""
    site_url = config["SITE_URL"]
    return FeedHead(
        # Derived from the site's address: stable for as long as the site keeps its URL.
        id=uuid.uuid5(uuid.NAMESPACE_URL, site_url + "/").urn,
        title=config["SITE_NAME"],
        description=config["SITE_DESCRIPTION"],
        home_url=site_url + "/",
        fallback_updated=first_created or EPOCH,
    )


def prepare_site(app: Flask, as_of: datetime, *, opml: bool = True) -> list[Rendered]:
    """Render the all-sections feeds and, when asked, the OPML list (nothing written)."""
    config = app.config
    site_url = config["SITE_URL"]
    with transaction(app, write=False) as s:
        history = archivelinks.read_state(s, archiving.SITE_KEY)
        window, step = int(config["SITE_FEED_ITEMS"]), int(config["ARCHIVE_OPEN_STEP"])
        articles = history.shown(feed_rows(s, as_of, history.reach(window, step)), window)
        # Only the sections these items name: a tick must not read all thousand of them.
        wanted = {a.section_id for a in articles}
        names: dict[int, str] = dict(
            s.execute(select(Section.id, Section.name).where(Section.id.in_(wanted))).all()
        )
        items = feed_items(site_url, articles, names)
        # An empty site feed is dated by its oldest section (fixed), never by now().
        first_created = None if items else s.scalar(select(func.min(Section.created_at)))
        deleted = deleted_entries(s, config, tombstones.SITE, as_of)
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
    head = replace(site_head(config, first_created), deleted=deleted)
    links = history.subscription_links(site_url, "")
    docs = render_formats(config, paths, items, head, links, previous=stored_entries(app, paths))
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
