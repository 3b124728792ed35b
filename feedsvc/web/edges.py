"""Requests the app cannot read: raw query bytes that are not UTF-8, a Host it cannot route.

Either used to end in a 500: the first gets a 400 before any view reads the query, the
second an error page that needs no URL building.
"""

from __future__ import annotations

from flask import Flask, abort, request
from flask.globals import request_ctx


def init_app(app: Flask) -> None:
    @app.before_request
    def utf8_query() -> None:
        # Werkzeug decodes percent-escapes leniently but raw bytes strictly, in request.args
        # and request.full_path alike; browsers percent-encode (RFC 3986 §2.1), so raw bytes
        # that are not UTF-8 come from a script, and get a 400 before any view reads them.
        try:
            request.query_string.decode()
        except UnicodeDecodeError:
            abort(400, "The query string is not UTF-8: percent-encode it (RFC 3986 §2.1).")


def can_build_urls() -> bool:
    """Whether this request can build URLs (url_for, so every page template).

    Not when Werkzeug refused its Host header (BadHost: a label over 63 characters, say, that
    IDNA cannot encode): there is no URL adapter then, and an error page must not need one.
    """
    return request_ctx.url_adapter is not None
