"""A thin WSGI layer ahead of Flask that answers feed polls straight from stored bytes.

Feed readers poll constantly; routing, request objects and sessions are not needed to hand
back a stored document. Anything it does not recognise, or a document not stored (yet),
goes on to Flask, which answers 404 or 503 as usual. While the database is down it keeps
answering from the documents the worker holds (web/documents.py, web/outage.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from feedsvc.limits import SLUG_MAX, SLUG_PATTERN
from feedsvc.urls import ARCHIVE_DIR, ARCHIVE_PAGE_PATTERN, FEED_FILES, OPML_PATH, TOPIC_DIRS
from feedsvc.web.conditional import respond
from feedsvc.web.documents import DocumentCache
from feedsvc.web.outage import Unavailable
from feedsvc.web.polling import PollLimiter, refusal
from feedsvc.web.readercount import PollCounter

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Observer = Callable[[str, int], None]
# (time, address, method, target, protocol, status, bytes, seconds, user agent): one access
# log line (web/requestlog.py).
AccessLogger = Callable[[tuple[float, str, str, str, str, int, str, float, str]], None]

_STATUS = {200: "200 OK", 304: "304 Not Modified"}
MAX_PATHS = 8_192  # ~2.5 MB at most
_SITE_PATHS = {f"/{name}": name for name in [*FEED_FILES.values(), OPML_PATH]}
_FEED_NAMES = "|".join(re.escape(name) for name in FEED_FILES.values())
_SECTION = re.compile(rf"/sections/({SLUG_PATTERN})/({_FEED_NAMES})")
_FOLDERS = "|".join(re.escape(d) for d in ["sections", *TOPIC_DIRS.values()])
# RFC 5005 archive pages: /archive/<n>/<file>, and under a feed's folder:
# /sections/<slug>/archive/<n>/<file>, /tags/<slug>/..., /authors/<slug>/...
_ARCHIVE = re.compile(
    rf"(?:/({_FOLDERS})/({SLUG_PATTERN}))?/{ARCHIVE_DIR}/({ARCHIVE_PAGE_PATTERN})/({_FEED_NAMES})"
)
# Tags' and authors' feeds: /tags/<slug>/rss.xml, /authors/<slug>/feed.json, ...
_TOPIC = re.compile(
    rf"/({'|'.join(map(re.escape, TOPIC_DIRS.values()))})/({SLUG_PATTERN})/({_FEED_NAMES})"
)


def document_path(url_path: str) -> tuple[str, str] | None:
    """(stored document path, route label) for a feed URL, or None for anything else."""
    site = _SITE_PATHS.get(url_path)
    if site is not None:
        return site, url_path
    match = _SECTION.fullmatch(url_path)
    # No section has a longer slug: Flask answers 404 without asking the database.
    if match is not None and match.end(1) - match.start(1) <= SLUG_MAX:
        return url_path[1:], f"/sections/<slug>/{match.group(2)}"
    match = _ARCHIVE.fullmatch(url_path)
    if match is not None and len(match.group(2) or "") <= SLUG_MAX:
        folder = f"/{match.group(1)}/<slug>" if match.group(1) else ""
        return url_path[1:], f"{folder}/{ARCHIVE_DIR}/<n>/{match.group(4)}"
    match = _TOPIC.fullmatch(url_path)
    if match is not None and match.end(2) - match.start(2) <= SLUG_MAX:
        return url_path[1:], f"/{match.group(1)}/<slug>/{match.group(3)}"
    return None


class FastPath:
    def __init__(
        self,
        app: WSGIApp,
        documents: DocumentCache,
        observe: Observer,
        polls: PollLimiter | None = None,
        readers: PollCounter | None = None,
    ) -> None:
        self.app = app
        self.documents = documents
        self.observe = observe
        self.polls = polls  # None: POLL_MIN_INTERVAL is 0, nothing is counted
        self.readers = readers  # None: ANALYTICS is off
        self.log: AccessLogger | None = None  # set by web/requestlog.py when it is on
        # URL path → document_path(), for the paths polled: no regex per poll. Bounded: made-up
        # paths flood it at worst into being emptied.
        self._paths: dict[str, tuple[str, str] | None] = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            url_path = environ.get("PATH_INFO", "")
            paths = self._paths
            try:
                found = paths[url_path]
            except KeyError:
                found = document_path(url_path)
                if len(paths) >= MAX_PATHS:
                    paths.clear()
                paths[url_path] = found
            if found is not None:
                try:
                    doc = self.documents.get(found[0])
                except Unavailable:
                    # The database is down and this worker never held the feed: Flask
                    # answers 503 with Retry-After, like every page meanwhile.
                    doc = None
                if doc is not None:
                    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
                    if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
                    polls = self.polls
                    if polls is not None:
                        wait = polls.wait(
                            environ.get("REMOTE_ADDR", ""),
                            found[0],
                            if_none_match,
                            if_modified_since,
                        )
                        if wait:
                            line, headers, body = refusal(wait)
                            start_response(line, headers + self.documents.security_headers)
                            self.observe(found[1], 429)
                            if self.log is not None:
                                self._log(environ, method, 429, len(body))
                            return [body] if method == "GET" else []
                    status, headers, body = respond(
                        doc,
                        if_none_match=if_none_match,
                        if_modified_since=if_modified_since,
                        accept_encoding=environ.get("HTTP_ACCEPT_ENCODING"),
                        accept=environ.get("HTTP_ACCEPT"),
                    )
                    start_response(_STATUS[status], headers)
                    self.observe(found[1], status)
                    readers = self.readers
                    if readers is not None:  # 200 and 304: readers mostly poll conditionally
                        readers.count(
                            found[0],
                            environ.get("REMOTE_ADDR", ""),
                            environ.get("HTTP_USER_AGENT", ""),
                        )
                    if method != "GET":
                        body = b""
                    if self.log is not None:
                        self._log(environ, method, status, len(body))
                    return [body] if body else []
        return self.app(environ, start_response)

    def _log(self, environ: dict[str, Any], method: str, status: int, size: int) -> None:
        """The access log's line for an answer of the fast path (Flask's are logged by
        requestlog.AccessLog around self.app)."""
        assert self.log is not None
        query = environ.get("QUERY_STRING")
        path = environ.get("PATH_INFO", "")
        self.log(
            (
                time.time(),
                environ.get("REMOTE_ADDR", "-"),
                method,
                f"{path}?{query}" if query else path,
                environ.get("SERVER_PROTOCOL", "-"),
                status,
                str(size) if size else "-",
                0.0,  # a few microseconds: the line would say 0.0ms anyway
                environ.get("HTTP_USER_AGENT", "-"),
            )
        )
