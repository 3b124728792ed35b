"""A minimal Flask app returning the stored feed bytes from memory (200, gzip, 304 by ETag).

`gunicorn -c gunicorn.conf.py bench.peers.minimal_flask:app` with BENCH_FEED set: the
reference the issue sets feedsvc's app path against.
"""

from __future__ import annotations

from flask import Flask, Response, request

from bench.peers.stored import CONTENT_TYPE, load

BODY, BODY_GZIP, ETAG, ETAG_GZIP = load()

app = Flask(__name__)


@app.get("/sections/<slug>/rss.xml")
def feed(slug: str) -> Response:
    gz = "gzip" in request.headers.get("Accept-Encoding", "")
    tag = ETAG_GZIP if gz else ETAG
    headers = {"ETag": tag, "Cache-Control": "public, max-age=5", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == tag:
        return Response(status=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(BODY_GZIP if gz else BODY, content_type=CONTENT_TYPE, headers=headers)
