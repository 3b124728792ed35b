"""HTTP semantics for stored documents: validators, conditional requests, gzip, caching headers."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime

from werkzeug.datastructures import Headers
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from feedsvc.documents import Document


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def _not_modified(doc: Document, headers: Headers, tags: tuple[str, str]) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        # Weak comparison (§13.1.2): W/"x" matches "x"; both encodings' tags name the same content.
        wanted = {t.removeprefix("W/") for t in _tags(inm)}
        return "*" in wanted or bool(wanted & set(tags))
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False  # §13.1.3: an invalid date is ignored
        if since.tzinfo is None:
            return False
        return doc.last_modified.replace(microsecond=0) <= since
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    if not accept_encoding:
        return False
    accepted = parse_accept_header(accept_encoding)
    named = any(value.lower() == "gzip" for value, _q in accepted)
    # RFC 9110 §12.5.3: "gzip;q=0" refuses it; "*" covers it only when it is not named.
    return accepted["gzip"] > 0 if named else accepted["*"] > 0


def document_response(doc: Document, headers: Headers, *, max_age: int) -> Response:
    """200, 304 or HEAD for a stored document, with every header a polling reader relies on."""
    gz = accepts_gzip(headers.get("Accept-Encoding", "")) and bool(doc.body_gzip)
    # Strong ETags must differ between encodings of the same content (RFC 9110 §8.8.3.3).
    identity_tag, gzip_tag = f'"{doc.etag}"', f'"{doc.etag}-gz"'
    out = Headers()
    out["ETag"] = gzip_tag if gz else identity_tag
    out["Last-Modified"] = format_datetime(doc.last_modified, usegmt=True)
    # Readers and shared caches may reuse a copy for one scheduler tick, then must revalidate.
    out["Cache-Control"] = f"public, max-age={max_age}"
    out["Vary"] = "Accept-Encoding"
    if _not_modified(doc, headers, (identity_tag, gzip_tag)):
        return Response(status=304, headers=out)
    body = doc.body_gzip if gz else doc.body
    out["Content-Type"] = doc.content_type
    if gz:
        out["Content-Encoding"] = "gzip"
    # HEAD: the WSGI layer drops the body and keeps these headers, Content-Length included.
    return Response(body, status=200, headers=out)
