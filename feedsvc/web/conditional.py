"""HTTP semantics for stored documents: validators, conditional requests, gzip (RFC 9110)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from werkzeug.http import parse_accept_header

from feedsvc.web.documents import Document, Headers
from feedsvc.web.negotiation import prefers_html


def _etag_matches(doc: Document, if_none_match: str) -> bool:
    if if_none_match == doc.etag or if_none_match == doc.etag_gzip:
        return True  # the usual case: the client echoes the one ETag we gave it
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (§13.1.2): W/"x" matches "x"; both encodings' tags name the same content.
    for tag in if_none_match.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag == doc.etag or tag == doc.etag_gzip:
            return True
    return False


def _unmodified_since(doc: Document, if_modified_since: str) -> bool:
    if if_modified_since == doc.last_modified_http:
        return True  # the usual case: the client echoes our own Last-Modified
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        # §13.1.3: an invalid date is ignored; a year with eleven digits overflows C's int.
        return False
    return since.tzinfo is not None and doc.last_modified <= since


def not_modified(doc: Document, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise."""
    if if_none_match is not None:
        return _etag_matches(doc, if_none_match)
    if if_modified_since:
        return _unmodified_since(doc, if_modified_since)
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding or ("gzip" not in accept_encoding and "*" not in accept_encoding):
        return False
    if ";" not in accept_encoding:
        return "gzip" in accept_encoding.lower()
    accepted = parse_accept_header(accept_encoding)
    named = any(value.lower() == "gzip" for value, _q in accepted)
    # RFC 9110 §12.5.3: "gzip;q=0" refuses it; "*" covers it only when it is not named.
    return accepted["gzip"] > 0 if named else accepted["*"] > 0


def respond(
    doc: Document,
    *,
    if_none_match: str | None,
    if_modified_since: str | None,
    accept_encoding: str | None,
    accept: str | None = None,
) -> tuple[int, Headers, bytes]:
    """Status, headers and body for a GET of a stored document (HEAD: drop the body)."""
    if doc.browser is not None and prefers_html(accept, doc.content_type):
        # The same bytes as application/xml, validated against that variant's own ETags.
        doc = doc.browser
    gz = bool(doc.body_gzip) and accepts_gzip(accept_encoding)
    if not_modified(doc, if_none_match, if_modified_since):
        return 304, doc.headers_304_gzip if gz else doc.headers_304, b""
    if gz:
        return 200, doc.headers_gzip, doc.body_gzip
    return 200, doc.headers, doc.body
