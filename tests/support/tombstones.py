"""Reading RFC 6721 tombstones and entry ids from a served Atom feed, each checked valid."""

from __future__ import annotations

from datetime import datetime

from flask.testing import FlaskClient

from tests.support.feedcheck import check_atom
from tests.support.published import fetch

AT = "{http://purl.org/atompub/tombstones/1.0}"
ATOM = "{http://www.w3.org/2005/Atom}"


def tombstones(client: FlaskClient, path: str) -> dict[str, datetime]:
    """ref → when of the feed's at:deleted-entry elements, read from a valid Atom document."""
    root = check_atom(fetch(client, path))
    found = {}
    for element in root.iter(f"{AT}deleted-entry"):
        assert element.getparent() is root  # a child of atom:feed (RFC 6721 §3)
        # RFC 3339 with an offset, as RFC 6721 §3 asks of "when".
        when = datetime.fromisoformat(element.get("when", ""))
        assert when.tzinfo is not None
        found[element.get("ref", "")] = when
    return found


def entry_ids(client: FlaskClient, path: str) -> list[str]:
    root = check_atom(fetch(client, path))
    return [e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")]
