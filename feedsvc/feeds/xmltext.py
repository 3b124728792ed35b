"""Values made fit for feed documents: XML 1.0 characters, UTC dates and required fields."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from lxml import etree

from .media import lead_image_html
from .model import Attachment, FeedItem, FeedMeta, Image

# RSS 1.0 Syndication module: the values sy:updatePeriod may take.
UPDATE_PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")

# XML 1.0 §2.2, production [2] Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD]
# | [#x10000-#x10FFFF]. Everything else (NUL, other C0 controls, lone surrogates,
# U+FFFE/U+FFFF) makes lxml raise or, worse, produces a document no parser accepts.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# RFC 4287 atomLanguageTag (RFC 3066 shape); JSON Feed 1.1 and RSS 2.0 <language> accept it too.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")

# The C0 controls XML 1.0 forbids, as UTF-8 bytes: below 0x80 a byte is always its own character.
_C0_NOT_XML = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def xml_safe(s: str) -> str:
    """Return ``s`` without the characters XML 1.0 forbids (§2.2 Char); other text is untouched."""
    # Nearly every string is clean. Proving it on the UTF-8 bytes costs half the regex scan:
    # strict encoding rejects lone surrogates, U+FFFE/U+FFFF have one encoding each, and the
    # forbidden C0 controls are single bytes that translate() deletes.
    try:
        encoded = s.encode("utf-8")
    except UnicodeEncodeError:
        return _NOT_XML_CHAR.sub("", s)
    if (
        len(encoded.translate(None, _C0_NOT_XML)) == len(encoded)
        and b"\xef\xbf\xbe" not in encoded
        and b"\xef\xbf\xbf" not in encoded
    ):
        return s
    return _NOT_XML_CHAR.sub("", s)


def utc(value: datetime, what: str) -> datetime:
    """Return ``value`` in UTC, whole seconds; a naive datetime is the caller's bug, not a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} is a naive datetime ({value.isoformat()}); feed dates must be "
            "timezone-aware, so attach tzinfo (UTC) before rendering."
        )
    # Whole seconds: RFC 822 (RSS) cannot carry fractions, and all three formats must agree.
    return value.astimezone(UTC).replace(microsecond=0)


def rfc3339(value: datetime) -> str:
    """Format an aware UTC datetime as RFC 3339 (upper-case T, numeric +00:00 offset)."""
    return value.isoformat()


def _required(value: str, what: str) -> str:
    cleaned = xml_safe(value).strip()
    if not cleaned:
        raise ValueError(f"{what} is empty; every feed format needs it.")
    return cleaned


def clean_meta(meta: FeedMeta) -> FeedMeta:
    """Return ``meta`` with XML-safe strings and a UTC ``updated``; raise ValueError if unusable."""
    title = _required(meta.title, "FeedMeta.title")
    language = xml_safe(meta.language).strip()
    if language and not _LANGUAGE_TAG.fullmatch(language):
        raise ValueError(f"FeedMeta.language {language!r} is not a language tag such as 'en-GB'.")
    if meta.ttl_minutes < 0:
        raise ValueError(f"FeedMeta.ttl_minutes must not be negative, got {meta.ttl_minutes}.")
    period = xml_safe(meta.update_period).strip()
    check_update_hints(period, meta.update_frequency)
    return replace(
        meta,
        id=_required(meta.id, "FeedMeta.id"),
        title=title,
        description=xml_safe(meta.description).strip(),
        stylesheet_url=xml_safe(meta.stylesheet_url).strip(),
        home_url=_required(meta.home_url, "FeedMeta.home_url"),
        self_url=_required(meta.self_url, "FeedMeta.self_url"),
        language=language,
        updated=utc(meta.updated, "FeedMeta.updated"),
        # RFC 4287 §4.1.1 needs a feed-level author name to cover entries without one; the
        # publication's own title is the truthful stand-in when no publisher name is set.
        author=xml_safe(meta.author).strip() or title,
        update_period=period,
        hubs=tuple(hub for hub in (xml_safe(h).strip() for h in meta.hubs) if hub),
        deleted=tuple(
            replace(d, ref=_required(d.ref, "DeletedEntry.ref"), when=utc(d.when, "DeletedEntry"))
            for d in meta.deleted
        ),
    )


def check_update_hints(period: str, frequency: int) -> None:
    """Raise ValueError unless sy:updatePeriod is one the Syndication module names (or "")."""
    if period and period not in UPDATE_PERIODS:
        raise ValueError(f"FeedMeta.update_period {period!r} is not one of {UPDATE_PERIODS}.")
    if period and frequency < 1:
        raise ValueError(f"FeedMeta.update_frequency must be at least 1, got {frequency}.")


def _clean_image(image: Image | None) -> Image | None:
    url = xml_safe(image.url).strip() if image is not None else ""
    return Image(url=url, alt=xml_safe(image.alt).strip()) if image is not None and url else None


def _clean_attachment(attachment: Attachment | None) -> Attachment | None:
    url = xml_safe(attachment.url).strip() if attachment is not None else ""
    if attachment is None or not url:
        return None
    # Never an empty type (RSS 2.0 "enclosure" requires one); RFC 2046 §4.5.1 is the fallback.
    media_type = xml_safe(attachment.media_type).strip() or "application/octet-stream"
    return Attachment(url=url, media_type=media_type, length=max(0, attachment.length))


def clean_item(item: FeedItem) -> FeedItem:
    """Return ``item`` with XML-safe strings and UTC dates; raise ValueError if unusable.

    The lead image, if any, also becomes the first paragraph of content_html (feeds/media.py),
    so call it once per item.
    """
    item_id = _required(item.id, "FeedItem.id")
    url = _required(item.url, f"FeedItem.url of {item_id!r}")
    author = xml_safe(item.author).strip() if item.author is not None else ""
    image = _clean_image(item.image)
    return replace(
        item,
        id=item_id,
        url=url,
        # RFC 4287 §4.2.14 requires atom:title and feedgen rejects an empty one; the article's
        # URL is a stand-in that invents no words and still gives readers something to click.
        title=xml_safe(item.title).strip() or url,
        content_html=lead_image_html(image) + xml_safe(item.content_html),
        summary=xml_safe(item.summary).strip(),
        published=utc(item.published, f"FeedItem.published of {item_id!r}"),
        updated=utc(item.updated, f"FeedItem.updated of {item_id!r}"),
        author=author or None,
        category=xml_safe(item.category).strip(),
        image=image,
        attachment=_clean_attachment(item.attachment),
        tags=tuple(t for t in (xml_safe(tag).strip() for tag in item.tags) if t),
    )


def build_tree(fg: Any, fmt: str) -> etree._Element:
    """The document feedgen would serialise, as its own lxml tree, to fix up before serialize.

    feedgen's rss_str()/atom_str() are tostring() over _create_rss()/_create_atom(); taking
    the tree instead of the string saves a parse of every document (feedgen is pinned).
    """
    root, _tree = fg._create_rss() if fmt == "rss" else fg._create_atom()
    return cast(etree._Element, root)


def serialize(root: etree._Element, stylesheet_url: str = "") -> bytes:
    """Serialise ``root`` as UTF-8 with an XML declaration naming the encoding, and, when
    ``stylesheet_url`` is given, the <?xml-stylesheet?> that lets a browser show it as a page."""
    if stylesheet_url:
        # Associating Style Sheets with XML documents 1.0 (second edition) §2: a processing
        # instruction in the prolog, before the root element, so still in the feed's head
        # (feeds.fragments.split_xml). Its pseudo-attribute value takes the predefined entity
        # references, so escaping &, < and > also keeps "?>" out of it.
        href = html.escape(stylesheet_url, quote=True)
        root.addprevious(
            etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{href}"')
        )
        return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)
