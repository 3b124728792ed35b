"""A bare WSGI callable returning the stored feed bytes from memory (200, gzip, 304 by ETag).

`gunicorn -c gunicorn.conf.py bench.peers.bare_wsgi:app` with BENCH_FEED set: what any
Python layer costs at the least under these gunicorn settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bench.peers.stored import CONTENT_TYPE, load

BODY, BODY_GZIP, ETAG, ETAG_GZIP = load()
_COMMON = [("Cache-Control", "public, max-age=5"), ("Vary", "Accept-Encoding")]
_PLAIN = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(BODY))), ("ETag", ETAG)]
_GZIP = [
    ("Content-Type", CONTENT_TYPE),
    ("Content-Encoding", "gzip"),
    ("Content-Length", str(len(BODY_GZIP))),
    ("ETag", ETAG_GZIP),
]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if not environ.get("PATH_INFO", "").endswith("/rss.xml"):
        start_response("404 Not Found", [("Content-Length", "0")])
        return []
    gz = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
    tag = ETAG_GZIP if gz else ETAG
    if environ.get("HTTP_IF_NONE_MATCH") == tag:
        start_response("304 Not Modified", [("ETag", tag), *_COMMON])
        return []
    start_response("200 OK", [*(_GZIP if gz else _PLAIN), *_COMMON])
    return [BODY_GZIP if gz else BODY]
