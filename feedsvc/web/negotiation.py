"""A feed's two faces: the page for a browser (application/xml), the feed for everyone else.

Chromium applies a document's <?xml-stylesheet?> only when it arrives as application/xml or
text/xml; as application/rss+xml or application/atom+xml it shows the escaped markup as text.
So an RSS or Atom request whose Accept prefers text/html to the feed's own type gets the very
same bytes labelled application/xml (the browser then shows feed.xsl's page); feed readers,
which name the feed types, */* or nothing, get the feed's type. JSON Feed and OPML are never
negotiated.
"""

from __future__ import annotations

import re
from typing import Final

# The types negotiated, bare (no parameters); the browser's type, with the feeds' charset.
FEED_TYPES: Final = frozenset({"application/rss+xml", "application/atom+xml"})
BROWSER_TYPE: Final = "application/xml; charset=utf-8"
HTML: Final = "text/html"

# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# Distinct Accept values seen, with their answer: browsers and readers send a handful, so a
# poll costs a dictionary lookup. Emptied whole when full: a flood of made-up values costs
# parsing, never memory.
_MAX_REMEMBERED = 1024
_remembered: dict[tuple[str, str], bool] = {}


def bare_type(content_type: str) -> str:
    """The media type without parameters, lower-case: "application/rss+xml"."""
    return content_type.split(";", 1)[0].strip().lower()


def negotiable(content_type: str) -> bool:
    return bare_type(content_type) in FEED_TYPES


def _ranges(accept: str) -> list[tuple[str, str, int, float]]:
    """(type, subtype, number of parameters, weight) of each valid element of an Accept value.

    RFC 9110 §12.5.1: media-range *( OWS ";" OWS parameter ) [ weight ]; parameters after
    the weight are accept extensions, ignored. An element with a malformed weight is dropped
    rather than guessed at.
    """
    ranges = []
    for element in accept.split(","):
        parts = [p.strip() for p in element.split(";")]
        kind, _, sub = parts[0].lower().partition("/")
        if not kind or not sub or "/" in sub:
            continue
        weight, params, valid = 1.0, 0, True
        for param in parts[1:]:
            name, _, value = param.partition("=")
            name = name.strip().lower()
            if name == "q":
                value = value.strip()
                if not _QVALUE.fullmatch(value):
                    valid = False
                weight = float(value) if valid else 0.0
                break  # accept-ext from here on
            # charset=utf-8 is what every variant is: it narrows nothing.
            if not (name == "charset" and value.strip().strip('"').lower() == "utf-8"):
                params += 1
        if valid:
            ranges.append((kind, sub, params, weight))
    return ranges


def quality(ranges: list[tuple[str, str, int, float]], media_type: str) -> float:
    """The weight the most specific matching range gives media_type (0 when none matches).

    §12.5.1: "text/html" beats "text/*", which beats "*/*"; a range with parameters (such as
    text/html;level=1) names a narrower type than ours and does not apply to it.
    """
    kind, sub = media_type.split("/")
    best, found = -1, 0.0
    for r_kind, r_sub, params, weight in ranges:
        if params:
            continue
        if r_kind == kind and r_sub == sub:
            rank = 2
        elif r_kind == kind and r_sub == "*":
            rank = 1
        elif r_kind == "*" and r_sub == "*":
            rank = 0
        else:
            continue
        if rank > best or (rank == best and weight > found):
            best, found = rank, weight
    return found


def prefers_html(accept: str | None, content_type: str) -> bool:
    """Whether Accept rates text/html above the feed's own type (RFC 9110 §12.5.1 weights).

    A tie goes to the feed: "*/*", or text/html listed beside application/rss+xml at the same
    weight, is a client that takes either, and a feed reader's is the likelier case.
    """
    if not accept:
        return False
    key = (accept, content_type)
    known = _remembered.get(key)
    if known is None:
        ranges = _ranges(accept)
        known = quality(ranges, HTML) > quality(ranges, bare_type(content_type))
        if len(_remembered) >= _MAX_REMEMBERED:
            _remembered.clear()
        _remembered[key] = known
    return known
