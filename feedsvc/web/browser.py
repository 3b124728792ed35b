"""What a browser opening a feed fetches besides it: the feed page's XSLT and the site icon."""

from __future__ import annotations

import hashlib
from functools import cache

from flask import Blueprint, request
from werkzeug.wrappers import Response

from feedsvc import urls
from feedsvc.assets import ASSETS, asset_path

bp = Blueprint("browser", __name__)


@cache
def _load(name: str) -> tuple[bytes, str]:
    """The file's bytes and a strong ETag of them: read once per process (a release's files)."""
    data = asset_path(name).read_bytes()
    return data, hashlib.blake2b(data, digest_size=16).hexdigest()


def _send(name: str) -> Response:
    content_type, max_age = ASSETS[name]
    data, etag = _load(name)
    # 304 for If-None-Match (RFC 9110 §13.1.2, weak comparison for GET and HEAD). No
    # Last-Modified is sent, so If-Modified-Since is ignored (§13.1.3 applies to a
    # representation that has one): a malformed date can never break this answer.
    status = 304 if request.if_none_match.contains_weak(etag) else 200
    response = Response(data if status == 200 else b"", status=status, content_type=content_type)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


@bp.route(f"/{urls.STYLESHEET_PATH}")
def stylesheet() -> Response:
    return _send(urls.STYLESHEET_PATH)


@bp.route(f"/{urls.FAVICON_PATH}")
def favicon() -> Response:
    return _send(urls.FAVICON_PATH)
