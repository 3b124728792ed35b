"""Stored feed documents for the web path: one query by primary key, kept briefly in memory."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import select

from feedsvc.db import database
from feedsvc.models import FeedDocument


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document as the web path needs it: immutable, safe to share between threads."""

    path: str
    content_type: str
    body: bytes
    body_gzip: bytes
    etag: str
    last_modified: datetime


class DocumentCache:
    """Per-process cache bounded in time (DOCUMENT_CACHE_SECONDS), so instances agree quickly.

    Misses are cached too (as None): a flood of polls for a missing path costs one query a
    second, not one per request.
    """

    def __init__(self, app: Flask, ttl: float) -> None:
        self._app = app
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Document | None]] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Document | None:
        now = time.monotonic()
        hit = self._entries.get(path)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        doc = self._load(path)
        with self._lock:
            self._entries[path] = (now, doc)
        return doc

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _load(self, path: str) -> Document | None:
        db = database(self._app)
        with db.reader() as session:
            row = session.execute(
                select(
                    FeedDocument.content_type,
                    FeedDocument.body,
                    FeedDocument.body_gzip,
                    FeedDocument.etag,
                    FeedDocument.last_modified,
                ).where(FeedDocument.path == path)
            ).first()
        if row is None:
            return None
        return Document(path, row[0], bytes(row[1]), bytes(row[2]), row[3], row[4])


def init_app(app: Flask) -> None:
    app.extensions["feedsvc.documents"] = DocumentCache(
        app, float(app.config["DOCUMENT_CACHE_SECONDS"])
    )


def cache(app: Flask) -> DocumentCache:
    c: DocumentCache = app.extensions["feedsvc.documents"]
    return c
