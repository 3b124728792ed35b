"""Edit conflicts in the admin form: what another editor changed since this one opened it.

The edit form carries the version it was opened at and a digest of each field's value then
(`opened`). A save against an older version is refused (articles.ArticleConflict); comparing
three values per field then tells the other editor's changes (stored ≠ opened) from this
editor's own (submitted ≠ opened), without keeping a history of old versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from feedsvc.content.text import clean_text

# A field's digest: enough bits that two different values never look alike in practice,
# short enough that seven of them make a small hidden field.
_DIGEST_HEX = 16


def _normal(value: str) -> str:
    # Browsers send textareas with CRLF; stored text has LF and no stray ends (clean_text).
    return clean_text(value).strip()


def digest(value: str) -> str:
    """A short fingerprint of a field's value, as the form shows it."""
    data = _normal(value).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()[:_DIGEST_HEX]


def encode_digests(values: Mapping[str, str]) -> str:
    """The hidden field's text: name=digest pairs, comma-separated."""
    return ",".join(f"{name}={digest(value)}" for name, value in values.items())


def decode_digests(text: str | None) -> dict[str, str]:
    """The pairs of encode_digests; anything malformed is left out (then it counts as unknown)."""
    out: dict[str, str] = {}
    for pair in (text or "").split(","):
        name, sep, value = pair.partition("=")
        if sep and name and len(value) == _DIGEST_HEX:
            out[name] = value
    return out


@dataclass(frozen=True)
class Change:
    """A field another editor changed: `theirs` is its stored value now.

    `yours_too`: this editor changed it as well, to something else; their text is kept in the
    form and the two must be reconciled by hand. Otherwise the form takes the stored value.
    """

    name: str
    theirs: str
    yours_too: bool


def changes(
    opened: Mapping[str, str], stored: Mapping[str, str], submitted: Mapping[str, str]
) -> list[Change]:
    """The fields another editor changed, in the order of `stored`.

    `opened` holds digests (a field without one, as in a form opened before versions existed,
    counts as changed by both when stored and submitted values differ); `stored` and
    `submitted` the values as the form shows them.
    """
    found = []
    for name, now in stored.items():
        mine = submitted.get(name, "")
        was = opened.get(name)
        if was is None:
            if _normal(now) != _normal(mine):
                found.append(Change(name, now, yours_too=True))
            continue
        if digest(now) == was:
            continue  # the other editor left it alone
        yours_too = digest(mine) != was and _normal(mine) != _normal(now)
        found.append(Change(name, now, yours_too=yours_too))
    return found
