"""Store rendered documents: digests on threads, batched upserts, the generation, the export."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, cast

from flask import Flask
from sqlalchemy import Table, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.orm import Session

from feedsvc.publishing import backlog, lease, websub
from feedsvc.publishing.export import Stored
from feedsvc.publishing.snapshot import Rendered, SectionDocs
from feedsvc.publishing.topicfeeds import TopicDocs, mark_rendered
from feedsvc.storage.codec import etag_of, gzip_of
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument, Section, SiteState, utcnow

log = logging.getLogger(__name__)


# Seconds: the least idleness inside a document write before PostgreSQL ends the session
# (write_documents); a busy machine's pause between two statements of a batch stays under it.
STALLED_WRITE_MIN = 5.0


class Fenced(Exception):
    """A write from a scheduler whose lease has since passed to another: refused."""

    def __init__(self, mine: int, current: int) -> None:
        super().__init__(
            f"fencing token {mine} is older than the lease's {current}: another scheduler "
            "took the lease, so this one's documents were not stored"
        )
        self.mine = mine
        self.current = current


def _digest(body: bytes, known_etag: str | None) -> tuple[str, bytes | None]:
    """The document's etag and, when that differs from the stored one, its gzip variant."""
    etag = etag_of(body)
    return etag, None if etag == known_etag else gzip_of(body)


DIGEST_THREADS = min(4, os.cpu_count() or 1)
_DIGEST_POOL: ThreadPoolExecutor | None = None
_DIGEST_POOL_LOCK = threading.Lock()


def _digest_pool() -> ThreadPoolExecutor:
    global _DIGEST_POOL
    with _DIGEST_POOL_LOCK:
        if _DIGEST_POOL is None:
            _DIGEST_POOL = ThreadPoolExecutor(DIGEST_THREADS, thread_name_prefix="feedsvc-digest")
        return _DIGEST_POOL


def _etag_and_gzip(body: bytes) -> tuple[str, bytes]:
    return etag_of(body), gzip_of(body)


# Digests started as soon as a document was rendered (digest_early), by the body's identity;
# the body is held with its future, so the identity cannot be reused while it waits.
_EARLY: dict[int, tuple[bytes, Future[tuple[str, bytes]]]] = {}
_EARLY_LOCK = threading.Lock()
EARLY_MAX = 256  # documents; a pass that stores nothing leaves at most this many behind


def digest_early(docs: Sequence[Rendered]) -> None:
    """Start the etag and gzip variant of just-rendered documents on the digest threads.

    A tick renders five feeds one after another, then stores their fifteen documents; their
    digests (about 1 ms of CPU each) then run beside the rendering of the next feed, on the
    other core, instead of after all of it. Only for documents that are likely to have
    changed: an unchanged one's gzip variant is computed for nothing (store_documents still
    writes nothing for it).
    """
    if DIGEST_THREADS < 2:
        return
    pool = _digest_pool()
    with _EARLY_LOCK:
        if len(_EARLY) > EARLY_MAX:
            _EARLY.clear()
        for doc in docs:
            try:
                future = pool.submit(_etag_and_gzip, doc.body)
            except RuntimeError:  # the interpreter is exiting: the store digests them itself
                return
            _EARLY[id(doc.body)] = (doc.body, future)


def forget_early() -> None:
    """Drop digests started for documents that were never stored (a failed pass)."""
    with _EARLY_LOCK:
        _EARLY.clear()


def _take_early(body: bytes, known_etag: str | None) -> tuple[str, bytes | None] | None:
    with _EARLY_LOCK:
        early = _EARLY.pop(id(body), None)
    if early is None or early[0] is not body:
        return None
    etag, packed = early[1].result()
    return etag, None if etag == known_etag else packed


def _digest_all(pairs: list[tuple[bytes, str | None]]) -> list[tuple[str, bytes | None]]:
    """_digest for several documents on several cores: hashlib and ISA-L release the GIL on
    large buffers, so a tick's six ~190 KB feeds take half the time on two cores. Digests
    started early (digest_early) are taken as they are."""
    early = [_take_early(body, known) for body, known in pairs]
    rest = [pair for pair, done in zip(pairs, early, strict=True) if done is None]
    fresh: Iterator[tuple[str, bytes | None]] | None = None
    if len(rest) >= 2 and DIGEST_THREADS >= 2:
        try:
            fresh = _digest_pool().map(_digest, *zip(*rest, strict=True))
        except RuntimeError:  # no new threads once the interpreter is exiting: digest here
            fresh = None
    if fresh is None:
        fresh = iter([_digest(body, known) for body, known in rest])
    return [done if done is not None else next(fresh) for done in early]


_DOCUMENTS = cast(Table, FeedDocument.__table__)
# Core statements run once per row (executemany): the ORM's bulk UPDATE by primary key cost
# a third of the time of the blob writes themselves in a one-change tick.
_SITE_STATE = cast(Table, SiteState.__table__)
_INSERT_DOCUMENT = insert(_DOCUMENTS)
# A row written under a newer fencing token is never overwritten (nor deleted below); the
# lease check in write_documents already refuses such a write, this keeps the rows honest
# even for a writer that skipped it.
_UPDATE_DOCUMENT = update(_DOCUMENTS).where(
    _DOCUMENTS.c.path == bindparam("path_"), _DOCUMENTS.c.fencing_token <= bindparam("token_")
)


def store_documents(
    session: Session,
    docs: Sequence[Rendered],
    *,
    now: datetime,
    owners: Mapping[str, tuple[int, int]] | None = None,
    token: int = 0,
) -> tuple[list[Stored], list[str]]:
    """Upsert documents whose bytes changed; return them, and the section paths removed.

    owners maps a section feed's path to its (section id, revision); the site feeds have
    none. Unchanged documents are not written at all. A stored document of one of those
    sections at a path no longer among docs (its slug changed) is deleted: it must stop
    being served. A section whose stored documents come from a later revision than the one
    given is left alone entirely (a newer pass stored it first: documents never go back in
    time). Every row written carries token, the writer's fencing token; a row stored under
    a newer one raises Fenced. A whole batch costs one SELECT, one INSERT and one UPDATE
    (each run for every row), whatever the number of sections in it. The caller bumps the
    documents generation once (bump_generation) if anything changed.
    """
    owners = owners or {}
    paths = [d.path for d in docs]
    owner_ids = sorted({section_id for section_id, _revision in owners.values()})
    c = _DOCUMENTS.c
    # One read for both questions (a row not among paths matched by its section, so it is
    # stale); SQLite answers the OR from the two indexes.
    rows = session.connection().execute(
        select(
            c.path,
            c.etag,
            c.section_id,
            c.source_revision,
            c.fencing_token,
            c.entry_index.is_(None),
        ).where(or_(c.path.in_(paths), c.section_id.in_(owner_ids)))
    )
    known: dict[str, str] = {}
    unindexed: set[str] = set()  # stored before entry indexes were kept (migration 0017)
    found: list[tuple[str, int | None]] = []
    newest: dict[int, int] = {}  # section id → the latest revision among its stored rows
    for path, etag, section_id, revision, row_token, no_index in rows:
        if row_token > token:
            raise Fenced(token, row_token)
        if no_index:
            unindexed.add(path)
        found.append((path, section_id))
        known[path] = etag
        if section_id is not None:
            newest[section_id] = max(newest.get(section_id, 0), revision)
    wanted = set(paths)
    newer = {
        section_id
        for section_id, revision in owners.values()
        if newest.get(section_id, 0) > revision
    }
    gone = sorted(path for path, sid in found if path not in wanted and sid not in newer)
    changed: list[Stored] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    indexes: list[dict[str, Any]] = []
    docs = [d for d in docs if owners.get(d.path, (None, 0))[0] not in newer]
    digests = _digest_all([(doc.body, known.get(doc.path)) for doc in docs])
    for doc, (etag, body_gzip) in zip(docs, digests, strict=True):
        if body_gzip is None:  # the same bytes as stored
            if doc.index is not None and doc.path in unindexed:  # their index, once
                indexes.append({"path_": doc.path, "token_": token, "entry_index": doc.index})
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
            "fencing_token": token,
            "rendered_at": now,
            "max_age": doc.max_age,
            "entry_index": doc.index,
        }
        if doc.path in known:
            updates.append({"path_": doc.path, "token_": token, **values})
        else:
            inserts.append({"path": doc.path, **values})
        changed.append(Stored(doc.path, doc.body, body_gzip, etag, now))
    connection = session.connection()
    if inserts:
        connection.execute(_INSERT_DOCUMENT, inserts)
    if updates:
        connection.execute(_UPDATE_DOCUMENT, updates)
    if indexes:  # the same statement, setting only the index (executemany takes its keys)
        connection.execute(_UPDATE_DOCUMENT, indexes)
    if gone:
        connection.execute(delete(_DOCUMENTS).where(c.path.in_(gone), c.fencing_token <= token))
    return changed, gone


def bump_generation(session: Session) -> None:
    """Tell every web worker that some stored document changed (or went away)."""
    session.connection().execute(
        update(_SITE_STATE).values(documents_generation=_SITE_STATE.c.documents_generation + 1)
    )


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
    token: int | None = None,
    before_commit: Callable[[Session, int], None] | None = None,
    topics: Sequence[TopicDocs] = (),
) -> int:
    """Store rendered feeds in one transaction, then mirror them; return documents changed.

    One commit and one generation bump for the whole batch: a tick that changes a section
    and the site feed pays for one write transaction, and a full rebuild for one per batch
    instead of one per section. before_commit(session, documents changed) runs last inside
    that transaction.

    token is the writing leader's fencing token (lease.acquire): when the lease has since
    passed to another scheduler, Fenced is raised and nothing is stored. None (a one-off
    `publish` from the command line) writes under the lease's current token.
    """
    docs = [doc for sd in sections for doc in sd.docs]
    docs += [doc for td in topics for doc in td.docs]
    owners = {doc.path: (sd.section_id, sd.revision) for sd in sections for doc in sd.docs}
    # Documents are derived data: rendered again by the next pass should a crash undo this.
    with transaction(app, derived=True) as s:
        if s.get_bind().dialect.name == "postgresql":
            # A writer that stalls inside this transaction (SIGSTOP, a suspended VM) would keep
            # the lease row locked, and the new leader's acquire waiting, until it woke up.
            # PostgreSQL ends a session left idle in a transaction this long, which releases
            # the lock; the stalled writer's commit then fails (it was fenced anyway).
            idle_ms = round(1000 * max(float(app.config["LEASE_SECONDS"]), STALLED_WRITE_MIN))
            s.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"))
        # First statement: the lease row stays locked until this commits (current_token).
        current = lease.current_token(s, lock=True)
        if token is not None and token != current:
            raise Fenced(token, current)
        now = utcnow()
        changed, gone = store_documents(s, [*docs, *site], now=now, owners=owners, token=current)
        if sections:
            # Never move a section back: a newer pass may have stored a later revision.
            s.connection().execute(
                _MARK_RENDERED,
                [
                    {"id_": sd.section_id, "revision_": sd.revision, "as_of_": sd.as_of}
                    for sd in sections
                ],
            )
        mark_rendered(s.connection(), topics)  # tags' and authors' feeds (topicfeeds.py)
        if changed or gone:
            bump_generation(s)
        if before_commit is not None:
            before_commit(s, len(changed))
    # After the commit: exported files never show what the database does not hold.
    backlog.of(app).after_commit(app, changed, gone, now)
    if token is not None:  # the leader's pass, not `flask rebuild-feeds`: tell the WebSub hubs
        websub.of(app).after_commit(app, changed)
    return len(changed)
