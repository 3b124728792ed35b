"""Stored feed documents for the web path: one query by primary key, kept briefly in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import TypeVar, cast

from flask import Flask
from sqlalchemy import select

from feedsvc.storage.codec import gunzip
from feedsvc.storage.db import database
from feedsvc.storage.models import FeedDocument, SiteState
from feedsvc.web.headers import NO_FRAMING, PUBLIC_CSP, transport_headers
from feedsvc.web.negotiation import BROWSER_TYPE, negotiable
from feedsvc.web.outage import DatabaseState, Unavailable

Headers = list[tuple[str, str]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document with every response header worked out once, when it is loaded.

    Serving is then a dictionary lookup and a comparison or two: no formatting per request.
    """

    path: str
    body: bytes
    body_gzip: bytes
    etag: str  # quoted, identity encoding
    etag_gzip: str  # quoted; strong ETags must differ between encodings (RFC 9110 §8.8.3.3)
    last_modified: datetime
    last_modified_http: str  # IMF-fixdate, RFC 9110 §5.6.7
    headers: Headers  # 200, identity
    headers_gzip: Headers  # 200, gzip
    headers_304: Headers
    headers_304_gzip: Headers
    content_type: str = ""
    # RSS and Atom: the same bytes as application/xml, for browsers (web/negotiation.py),
    # with headers and strong ETags of its own; None for documents never negotiated.
    browser: Document | None = None


def prepare(
    path: str,
    content_type: str,
    body: bytes,
    body_gzip: bytes,
    etag: str,
    last_modified: datetime,
    *,
    max_age: int,
    security: Sequence[tuple[str, str]] = (),
) -> Document:
    modified = format_datetime(last_modified, usegmt=True)
    negotiated = negotiable(content_type)
    # Readers and shared caches may reuse a copy for one scheduler tick, then must revalidate.
    common = [
        ("Last-Modified", modified),
        ("Cache-Control", f"public, max-age={max_age}"),
        # RFC 9110 §12.5.5: RSS and Atom also depend on Accept (their browser variant), so a
        # shared cache keeps the two apart.
        ("Vary", "Accept, Accept-Encoding" if negotiated else "Accept-Encoding"),
        # nosniff, Referrer-Policy, HSTS on https (web/headers.py): in the lists, not per request.
        *security,
    ]
    browser = None
    if negotiated:
        # A different Content-Type is a different representation: its own strong ETags
        # (RFC 9110 §8.8.3). Shown as a page, it gets the pages' CSP and framing rules.
        browser = _document(
            path,
            BROWSER_TYPE,
            body,
            body_gzip,
            f'"{etag}-xml"',
            f'"{etag}-xml-gz"',
            last_modified,
            modified,
            [*common, ("Content-Security-Policy", PUBLIC_CSP), NO_FRAMING],
        )
    return _document(
        path,
        content_type,
        body,
        body_gzip,
        f'"{etag}"',
        f'"{etag}-gz"',
        last_modified,
        modified,
        common,
        browser,
    )


def _document(
    path: str,
    content_type: str,
    body: bytes,
    body_gzip: bytes,
    tag: str,
    tag_gz: str,
    last_modified: datetime,
    modified: str,
    common: Headers,
    browser: Document | None = None,
) -> Document:
    return Document(
        path=path,
        body=body,
        body_gzip=body_gzip,
        etag=tag,
        etag_gzip=tag_gz,
        last_modified=last_modified,
        last_modified_http=modified,
        headers=[
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("ETag", tag),
            *common,
        ],
        headers_gzip=[
            ("Content-Type", content_type),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body_gzip))),
            ("ETag", tag_gz),
            *common,
        ],
        headers_304=[("ETag", tag), *common],
        headers_304_gzip=[("ETag", tag_gz), *common],
        content_type=content_type,
        browser=browser,
    )


class DocumentCache:
    """Per-process cache of stored documents, current to within DOCUMENT_CACHE_SECONDS.

    Freshness costs one query per interval per worker, whatever the number of feeds: the
    worker reads the site's documents generation (bumped by every publishing change) and
    revalidates its entries, by ETag, only once that has moved. Size is bounded in bytes
    (DOCUMENT_CACHE_MB) and entries, so no flood of paths can exhaust memory. Eviction is by
    load time.

    Misses (paths with no document: made-up section slugs, feeds not rendered yet) are kept
    apart, in a map of at most MAX_MISSES paths that starts empty whenever the generation
    moves: a second poll of a missing path costs no query, and no flood of made-up paths can
    push a real document out of memory. When the map is full it is emptied whole (no scan);
    the flood's paths then cost a query again, the documents nothing.

    While the database is unreachable (web/outage.py) the cache serves every document it
    holds, whatever its generation: the last good bytes with their ETag and Last-Modified,
    so conditional polls still get 304. A path it does not hold raises Unavailable (503).
    """

    MAX_ENTRIES = 20_000
    # Paths are at most ~100 characters (limits.SLUG_MAX plus the file name): about 2 MB.
    MAX_MISSES = 10_000

    def __init__(
        self, app: Flask, ttl: float, max_age: int, max_bytes: int, state: DatabaseState
    ) -> None:
        self._app = app
        self._state = state
        self._checking = threading.Lock()
        self._ttl = ttl
        self._max_age = max_age
        self._security = transport_headers(app.config["SITE_URL"])
        self._max_bytes = max_bytes
        self._bytes = 0
        self._generation = -1
        self._checked = float("-inf")
        self._entries: dict[str, tuple[int, Document]] = {}
        self._lock = threading.Lock()
        # path → whether its section (or the site) exists, None until someone asks; replaced
        # by a new map when the generation moves.
        # (Or what else `ask` told owner_exists of it: a section's old slug, say.)
        self._misses: dict[str, object] = {}

    def get(self, path: str) -> Document | None:
        """The document at path, None when none is stored; raises Unavailable when the
        database is down and this worker does not hold the path (from any generation)."""
        if (
            time.monotonic() - self._checked >= self._ttl
            and self._state.due()
            and self._checking.acquire(False)
        ):
            # One thread checks; the others serve what they hold meanwhile, so none queues
            # behind a check that hangs until the connect timeout.
            try:
                self._state.attempt(self._check_generation)
            except Unavailable:
                pass  # noted in the state: serve what is held below
            finally:
                self._checking.release()
        hit = self._entries.get(path)
        if self._state.down:
            # The last good bytes with their validators, whichever generation they are from.
            if hit is not None:
                return hit[1]
            raise Unavailable(retry_after=self._state.retry_after)
        if hit is not None and hit[0] == self._generation:
            return hit[1]
        # Taken before the query: a miss found under a generation that has moved meanwhile
        # lands in the map that was dropped, never in the new one.
        misses = self._misses
        if path in misses:
            return None
        generation = self._generation
        try:
            doc = self._state.attempt(lambda: self._load(path, hit[1] if hit else None))
        except Unavailable:
            if hit is not None:
                return hit[1]
            raise
        with self._lock:
            old = self._entries.pop(path, None)
            self._bytes -= _size(old[1]) if old else 0
            if doc is None:
                if len(misses) >= self.MAX_MISSES:
                    misses.clear()
                misses[path] = None
                return None
            size = _size(doc)
            if size <= self._max_bytes:
                self._entries[path] = (generation, doc)  # re-inserted: now the newest
                self._bytes += size
            while self._entries and (
                self._bytes > self._max_bytes or len(self._entries) > self.MAX_ENTRIES
            ):
                oldest = next(iter(self._entries))
                self._bytes -= _size(self._entries.pop(oldest)[1])
        return doc

    @property
    def security_headers(self) -> Headers:
        """The transport headers every answer of the fast path carries (web/headers.py)."""
        return self._security

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def misses(self) -> int:
        return len(self._misses)

    def owner_exists(self, path: str, ask: Callable[[], T]) -> T:
        """For a path get() just found no document for: whether the section (or site) it
        belongs to exists, from `ask` (a query) once per path and generation. `ask` may say
        more than yes or no (web/gone.py: a live section, an old slug or nothing)."""
        misses = self._misses
        known = misses.get(path)
        if known is None:
            known = ask()
            if path in misses:  # only a remembered miss: the map's bound stays get()'s
                misses[path] = known
        return cast(T, known)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._misses = {}
            self._bytes = 0

    def _check_generation(self) -> None:
        # Read before noting the time: a change committed meanwhile is seen next interval.
        with database(self._app).web_reader() as session:
            generation = session.scalar(select(SiteState.documents_generation)) or 0
        if generation != self._generation:
            self._misses = {}  # a feed rendered or removed since: every miss is asked again
        self._generation = generation
        self._checked = time.monotonic()

    def _load(self, path: str, current: Document | None) -> Document | None:
        db = database(self._app)
        with db.web_reader() as session:
            if current is not None:
                # Revalidate cheaply: the etag column alone, the body only when it moved.
                etag = session.scalar(select(FeedDocument.etag).where(FeedDocument.path == path))
                if etag is not None and f'"{etag}"' == current.etag:
                    return current
            row = session.execute(
                select(
                    FeedDocument.content_type,
                    FeedDocument.body_gzip,
                    FeedDocument.etag,
                    FeedDocument.last_modified,
                    FeedDocument.max_age,
                ).where(FeedDocument.path == path)
            ).first()
        if row is None:
            return None
        packed = bytes(row[1])
        # Once per changed document per worker (~0.4 ms for a 190 KB feed), never per request.
        return prepare(
            path,
            row[0],
            gunzip(packed),
            packed,
            row[2],
            row[3],
            # A document's own max-age (a closed archive page: ARCHIVE_MAX_AGE), else one tick.
            max_age=row[4] or self._max_age,
            security=self._security,
        )


def _size(doc: Document) -> int:
    # Bodies dominate; a few hundred bytes cover the path, headers and bookkeeping.
    return len(doc.body) + len(doc.body_gzip) + 512


def init_app(app: Flask, state: DatabaseState) -> None:
    app.extensions["feedsvc.documents"] = DocumentCache(
        app,
        float(app.config["DOCUMENT_CACHE_SECONDS"]),
        max_age=max(1, round(float(app.config["TICK_SECONDS"]))),
        max_bytes=int(float(app.config["DOCUMENT_CACHE_MB"]) * 1024 * 1024),
        state=state,
    )


def cache(app: Flask) -> DocumentCache:
    c: DocumentCache = app.extensions["feedsvc.documents"]
    return c
