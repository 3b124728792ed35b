"""URL slugs from section names: lower-case ASCII words joined by hyphens."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from feedsvc.content.text import ContentError, one_line
from feedsvc.limits import SLUG_MAX

# Latin letters that NFKD does not decompose into ASCII, spelled the usual way.
_LATIN_FOLD = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "\u0131": "i"}
)
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str, *, max_length: int = SLUG_MAX) -> str:
    """Make a URL slug matching limits.SLUG_RE: "Économie & Finance" -> "economie-finance".

    Names with nothing ASCII-foldable (e.g. "新闻", "أخبار") get "s-" plus the first 8 hex
    digits of the SHA-256 of the cleaned, case-folded name: stable for the same name, distinct
    for different names (collisions are left to the caller's uniqueness check, as for any slug).
    """
    text = one_line(name).casefold()  # casefold() also spells "ß" as "ss"
    if not text:
        raise ContentError("A name is required to make a slug.")
    ascii_text = unicodedata.normalize("NFKD", text.translate(_LATIN_FOLD))
    slug = _NON_SLUG.sub("-", ascii_text.encode("ascii", "ignore").decode("ascii")).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:  # don't leave half a word at the end
            cut = cut.rpartition("-")[0]
        slug = cut.strip("-")
    if not slug:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        slug = f"s-{digest}"[:max_length].strip("-")
    return slug
