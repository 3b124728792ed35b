"""Find what changed, snapshot it into plain data, render it and store the documents."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask
from isal import igzip
from sqlalchemy import Row, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from feedsvc import feeds, urls
from feedsvc.articles import feed_rows
from feedsvc.feeds.opml import OPML_CONTENT_TYPE, OpmlEntry, render_opml
from feedsvc.limits import STATUS_PUBLISHED
from feedsvc.publishing import export, renderpool
from feedsvc.storage.db import transaction
from feedsvc.storage.models import (
    Article,
    FeedDocument,
    Section,
    SiteState,
    utcnow,
)

log = logging.getLogger(__name__)
# The feed-level date of a site with no articles at all: fixed, so output stays deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A full rebuild stores this many sections (or this many bytes of feeds) per transaction:
# few commits, and a bounded amount of rendered output held in memory at once.
BATCH_SECTIONS = 50
BATCH_BYTES = 32 * 1024 * 1024
GZIP_LEVEL = 2  # ISA-L's levels run 0-3


@dataclass(frozen=True)
class Rendered:
    path: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Stored:
    """A document as stored, for the static export."""

    path: str
    body: bytes
    body_gzip: bytes
    last_modified: datetime


@dataclass
class PassResult:
    """What one publishing pass did, for logs, metrics and tests."""

    sections_rendered: list[int] = field(default_factory=list)
    site_rendered: bool = False
    documents_changed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def etag_of(body: bytes) -> str:
    """A strong validator (RFC 9110 §8.8.3) from the bytes: it moves only when they do."""
    # BLAKE2b with a 128-bit digest: as collision-proof as a validator needs, and on CPUs
    # without SHA extensions 2.7x faster than SHA-256 (0.31 vs 0.85 ms for a 190 KB feed),
    # which every changed document pays inside the tick.
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def gzip_of(body: bytes) -> bytes:
    """The stored gzip variant: the same bytes always compress to the same bytes."""
    # mtime=0: the gzip header carries no timestamp, so equal bytes compress equally.
    # ISA-L level 2, measured on three 180-190 KB feeds: 0.8 ms and 62 KB each, against
    # zlib's 5.4 ms and 58 KB at level 4 (3.3 ms and 66 KB at level 1). Every changed
    # document pays this inside the scheduler's tick; any gzip reader decodes it (RFC 1952).
    return igzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _items(
    site_url: str, articles: Sequence[Row[Any]], names: dict[int, str]
) -> list[feeds.FeedItem]:
    items = []
    for a in articles:
        assert a.publish_at is not None
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
            )
        )
    return items


def _render_formats(
    config: dict[str, Any],
    paths: dict[str, str],
    items: Sequence[feeds.FeedItem],
    *,
    fallback_updated: datetime,
    **meta: Any,
) -> list[Rendered]:
    """The items as RSS, Atom and JSON Feed; feed updated = the newest item's, never now()."""
    updated = max((i.updated for i in items), default=fallback_updated)
    metas = {
        fmt: feeds.FeedMeta(
            self_url=urls.absolute(config["SITE_URL"], path),
            language=config["SITE_LANGUAGE"],
            updated=updated,
            author=config["SITE_NAME"],
            ttl_minutes=max(1, round(float(config["TICK_SECONDS"]) / 60)),
            **meta,
        )
        for fmt, path in paths.items()
    }
    bodies = feeds.render_all(metas, items)
    return [Rendered(path, feeds.CONTENT_TYPES[fmt], bodies[fmt]) for fmt, path in paths.items()]


def _digest(body: bytes, known_etag: str | None) -> tuple[str, bytes | None]:
    """The document's etag and, when that differs from the stored one, its gzip variant."""
    etag = etag_of(body)
    return etag, None if etag == known_etag else gzip_of(body)


DIGEST_THREADS = min(4, os.cpu_count() or 1)
_DIGEST_POOL: ThreadPoolExecutor | None = None
_DIGEST_POOL_LOCK = threading.Lock()


def _digest_all(pairs: list[tuple[bytes, str | None]]) -> list[tuple[str, bytes | None]]:
    """_digest for several documents on several cores: hashlib and ISA-L release the GIL on
    large buffers, so a tick's six ~190 KB feeds take half the time on two cores."""
    global _DIGEST_POOL
    if len(pairs) < 2 or DIGEST_THREADS < 2:
        return [_digest(body, known) for body, known in pairs]
    with _DIGEST_POOL_LOCK:
        if _DIGEST_POOL is None:
            _DIGEST_POOL = ThreadPoolExecutor(DIGEST_THREADS, thread_name_prefix="feedsvc-digest")
        pool = _DIGEST_POOL
    return list(pool.map(_digest, *zip(*pairs, strict=True)))


_DOCUMENTS = cast(Table, FeedDocument.__table__)
# Core statements run once per row (executemany): the ORM's bulk UPDATE by primary key cost
# a third of the time of the blob writes themselves in a one-change tick.
_SITE_STATE = cast(Table, SiteState.__table__)
_INSERT_DOCUMENT = insert(_DOCUMENTS)
_UPDATE_DOCUMENT = update(_DOCUMENTS).where(_DOCUMENTS.c.path == bindparam("path_"))


def store_documents(
    session: Session,
    docs: Sequence[Rendered],
    *,
    now: datetime,
    owners: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[list[Stored], list[str]]:
    """Upsert documents whose bytes changed; return them, and the section paths removed.

    owners maps a section feed's path to its (section id, revision); the site feeds have
    none. Unchanged documents are not written at all. A stored document of one of those
    sections at a path no longer among docs (its slug changed) is deleted: it must stop
    being served. A whole batch costs one SELECT, one INSERT and one UPDATE (each run for
    every row), whatever the number of sections in it. The caller bumps the documents
    generation once (bump_generation) if anything changed.
    """
    owners = owners or {}
    paths = [d.path for d in docs]
    owner_ids = sorted({section_id for section_id, _revision in owners.values()})
    # One read for both questions (a row not among paths matched by its section, so it is
    # stale); SQLite answers the OR from the two indexes.
    rows = session.connection().execute(
        select(_DOCUMENTS.c.path, _DOCUMENTS.c.etag).where(
            or_(_DOCUMENTS.c.path.in_(paths), _DOCUMENTS.c.section_id.in_(owner_ids))
        )
    )
    known: dict[str, str] = {}
    gone: list[str] = []
    wanted = set(paths)
    for path, etag in rows:
        if path in wanted:
            known[path] = etag
        else:
            gone.append(path)
    changed: list[Stored] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    digests = _digest_all([(doc.body, known.get(doc.path)) for doc in docs])
    for doc, (etag, body_gzip) in zip(docs, digests, strict=True):
        if body_gzip is None:  # the same bytes as stored
            continue
        section_id, revision = owners.get(doc.path, (None, 0))
        values = {
            "content_type": doc.content_type,
            "body_gzip": body_gzip,
            "body_length": len(doc.body),
            "etag": etag,
            "last_modified": now,
            "section_id": section_id,
            "source_revision": revision,
            "rendered_at": now,
        }
        if doc.path in known:
            updates.append({"path_": doc.path, **values})
        else:
            inserts.append({"path": doc.path, **values})
        changed.append(Stored(doc.path, doc.body, body_gzip, now))
    connection = session.connection()
    if inserts:
        connection.execute(_INSERT_DOCUMENT, inserts)
    if updates:
        connection.execute(_UPDATE_DOCUMENT, updates)
    if gone:
        connection.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.path.in_(gone)))
    return changed, sorted(gone)


def bump_generation(session: Session) -> None:
    """Tell every web worker that some stored document changed (or went away)."""
    session.connection().execute(
        update(_SITE_STATE).values(documents_generation=_SITE_STATE.c.documents_generation + 1)
    )


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
        items = _items(config["SITE_URL"], articles, {section.id: section.name})
        paths = {fmt: urls.section_doc_path(section.slug, fmt) for fmt in feeds.FORMATS}
        docs = _render_formats(
            config,
            paths,
            items,
            id=section.guid,
            title=f"{config['SITE_NAME']}: {section.name}",
            description=section.description or f"{section.name} from {config['SITE_NAME']}.",
            home_url=urls.section_page_url(config["SITE_URL"], section.slug),
            fallback_updated=section.created_at,
        )
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
        items = _items(site_url, articles, names)
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
    paths = {fmt: urls.site_doc_path(fmt) for fmt in feeds.FORMATS}
    docs = _render_formats(
        config,
        paths,
        items,
        # Derived from the site's address: stable for as long as the site keeps its URL.
        id=uuid.uuid5(uuid.NAMESPACE_URL, site_url + "/").urn,
        title=config["SITE_NAME"],
        description=config["SITE_DESCRIPTION"],
        home_url=site_url + "/",
        fallback_updated=first_created or EPOCH,
    )
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
        opml_body = render_opml(config["SITE_NAME"], entries)
        docs.append(Rendered(urls.OPML_PATH, OPML_CONTENT_TYPE, opml_body))
    return docs


_SECTIONS = cast(Table, Section.__table__)
# Run once per section of a batch (executemany), in Core: the ORM's bulk UPDATE by primary key
# has no per-row WHERE value.
_MARK_RENDERED = (
    update(_SECTIONS)
    .where(
        _SECTIONS.c.id == bindparam("id_"),
        _SECTIONS.c.rendered_revision <= bindparam("revision_"),
    )
    .values(rendered_revision=bindparam("revision_"), rendered_as_of=bindparam("as_of_"))
)


def write_documents(
    app: Flask,
    sections: Sequence[SectionDocs],
    site: Sequence[Rendered] = (),
    *,
    before_commit: Callable[[Session, int], None] | None = None,
) -> int:
    """Store rendered feeds in one transaction, then mirror them; return documents changed.

    One commit and one generation bump for the whole batch: a tick that changes a section
    and the site feed pays for one write transaction, and a full rebuild for one per batch
    instead of one per section. before_commit(session, documents changed) runs last inside
    that transaction.
    """
    docs = [doc for sd in sections for doc in sd.docs]
    owners = {doc.path: (sd.section_id, sd.revision) for sd in sections for doc in sd.docs}
    with transaction(app) as s:
        now = utcnow()
        changed, gone = store_documents(s, [*docs, *site], now=now, owners=owners)
        if sections:
            # Never move a section back: a newer pass may have stored a later revision.
            s.connection().execute(
                _MARK_RENDERED,
                [
                    {"id_": sd.section_id, "revision_": sd.revision, "as_of_": sd.as_of}
                    for sd in sections
                ],
            )
        if changed or gone:
            bump_generation(s)
        if before_commit is not None:
            before_commit(s, len(changed))
    # After the commit: exported files never show what the database does not hold.
    _export(app, changed, gone)
    return len(changed)


def _export(app: Flask, changed: Sequence[Stored], gone: Sequence[str]) -> None:
    """Mirror changes into EXPORT_DIR; a failure is logged, and export.sync_all repairs it."""
    root = export.export_root(app)
    if root is None:
        return
    try:
        for doc in changed:
            export.write_document(root, doc.path, doc.body, doc.body_gzip, doc.last_modified)
        for path in gone:
            export.remove_document(root, path)
    except OSError:
        log.exception("writing the static export under %s failed; the database is intact", root)


_ARTICLES = cast(Table, Article.__table__)
# Run every tick (and, for the first one, every WATCH_SECONDS) on the Core connection:
# the ORM session's execution path costs more than these small index reads themselves.
_EDITED = select(_SECTIONS.c.id).where(_SECTIONS.c.revision != _SECTIONS.c.rendered_revision)
_OLDEST_RENDER = select(func.min(_SECTIONS.c.rendered_as_of))


def edits_pending(session: Session) -> bool:
    """Whether some section was edited since its last render: sections_due's cheap half."""
    return session.connection().execute(_EDITED.limit(1)).first() is not None


def sections_due(session: Session, now: datetime) -> list[int]:
    """Sections whose revision moved, or where a scheduled article came due since last render."""
    connection = session.connection()
    moved = set(connection.execute(_EDITED).scalars())
    # Bounding by the oldest render time keeps this an index range scan on (status, publish_at).
    low = connection.execute(_OLDEST_RENDER).scalar()
    if low is not None:
        came_due = connection.execute(
            select(_ARTICLES.c.section_id)
            .join(_SECTIONS, _SECTIONS.c.id == _ARTICLES.c.section_id)
            .where(
                _ARTICLES.c.status == STATUS_PUBLISHED,
                _ARTICLES.c.publish_at > low,
                _ARTICLES.c.publish_at <= now,
                _ARTICLES.c.publish_at > _SECTIONS.c.rendered_as_of,
            )
            .distinct()
        ).scalars()
        moved.update(came_due)
    return sorted(moved)


def run_pass(
    app: Flask,
    *,
    full: bool = False,
    now: datetime | None = None,
    keep_leading: Callable[[], bool] | None = None,
    record: Callable[[Session, PassResult], None] | None = None,
) -> PassResult:
    """One publishing pass: each section isolated, so one bad section never stops the rest.

    keep_leading is asked between sections: a long pass renews the scheduler's lease as it
    goes, and stops (leaving the rest to the new leader) if the lease was lost. record, when
    given, notes the pass's outcome in the database exactly once: inside the transaction of
    its last write when there is one (one commit fewer per tick), else in one of its own.
    """
    started = time.perf_counter()
    now = now or utcnow()
    result = PassResult()
    try:
        recorded = _run_pass(app, result, started, full, now, keep_leading, record)
    finally:
        result.seconds = time.perf_counter() - started
    if record is not None and not recorded:
        with transaction(app) as s:
            record(s, result)
    return result


def _run_pass(
    app: Flask,
    result: PassResult,
    started: float,
    full: bool,
    now: datetime,
    keep_leading: Callable[[], bool] | None,
    record: Callable[[Session, PassResult], None] | None,
) -> bool:
    """run_pass's work, filling result in; True when record already ran (and committed)."""
    with transaction(app, write=False) as s:
        if full:
            due = list(s.scalars(select(Section.id).order_by(Section.id)))
        else:
            due = sections_due(s, now)
        # Paths only: loading the documents themselves would read ~400 KB per tick.
        stored = set(
            s.connection()
            .execute(
                select(_DOCUMENTS.c.path).where(
                    _DOCUMENTS.c.path.in_([urls.site_doc_path("atom"), urls.OPML_PATH])
                )
            )
            .scalars()
        )
        site_missing = urls.site_doc_path("atom") not in stored
        # The OPML list names sections only: redo it when one was created or edited since
        # its last render, not for every article.
        opml_due = full or urls.OPML_PATH not in stored
        if due and not opml_due:
            opml_due = bool(
                s.scalar(
                    select(func.count())
                    .select_from(Section)
                    .where(
                        Section.id.in_(due),
                        or_(
                            Section.rendered_as_of.is_(None),
                            Section.updated_at > Section.rendered_as_of,
                        ),
                    )
                )
            )
    pending: list[SectionDocs] = []

    def store(site: Sequence[Rendered] = (), *, last: bool = False) -> bool:
        """Write the pending batch (and site feeds); True when record ran in its commit."""
        batch = list(pending)
        pending.clear()
        if not batch and not site:
            return False

        def count(outcome: PassResult, changed: int) -> PassResult:
            outcome.sections_rendered.extend(sd.section_id for sd in batch)
            outcome.site_rendered = outcome.site_rendered or bool(site)
            outcome.documents_changed += changed
            return outcome

        finish: Callable[[Session, int], None] | None = None
        if last and record is not None:
            rec = record

            def finish(s: Session, changed: int) -> None:
                # The outcome as it stands once this commits; result itself is counted after.
                outcome = replace(
                    result,
                    sections_rendered=list(result.sections_rendered),
                    failures=dict(result.failures),
                    seconds=time.perf_counter() - started,
                )
                rec(s, count(outcome, changed))

        try:
            changed = write_documents(app, batch, site, before_commit=finish)
        except Exception as exc:  # the batch stays as it was; the next pass tries again
            log.exception("storing rendered feeds failed; the last good feeds stay served")
            reason = f"{type(exc).__name__}: {exc}"
            result.failures.update({f"section:{sd.section_id}": reason for sd in batch})
            if site:
                result.failures["site"] = reason
            return False
        count(result, changed)
        return finish is not None

    # Many sections (a full rebuild, a first start) render in several processes at once;
    # storing stays here, in order, batched.
    outcomes = renderpool.prepare_all(app, due, now, prepare_section)
    try:
        for section_id, outcome in outcomes:
            if keep_leading is not None and not keep_leading():
                # What this pass rendered but did not store is the new leader's to redo.
                log.warning("lost the scheduler lease mid-pass; the new leader carries on")
                return False
            if isinstance(outcome, Exception):  # one section's failure must not stop the others
                log.error(
                    "rendering section %s failed; its last good feeds stay served",
                    section_id,
                    exc_info=outcome,
                )
                result.failures[f"section:{section_id}"] = f"{type(outcome).__name__}: {outcome}"
                continue
            if outcome is None:  # deleted since the pass began
                continue
            pending.append(outcome)
            if len(pending) >= BATCH_SECTIONS or sum(p.size for p in pending) >= BATCH_BYTES:
                store()
    finally:
        outcomes.close()
    site: list[Rendered] = []
    if due or full or site_missing:
        try:
            site = prepare_site(app, now, opml=opml_due)
        except Exception as exc:  # keep serving the last good site feeds
            log.exception("rendering the site-wide feeds failed")
            result.failures["site"] = f"{type(exc).__name__}: {exc}"
    return store(site, last=True)
