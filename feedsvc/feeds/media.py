"""Lead images and enclosures in every format: Media RSS, RSS 2.0 enclosure, Atom, JSON Feed."""

from __future__ import annotations

import html
from typing import Any

from feedgen.ext.base import BaseExtension
from lxml import etree

from .model import FeedItem, Image

# Media RSS 2.0 (https://www.rssboard.org/media-rss): media:content and media:thumbnail.
MEDIA_NS = "http://search.yahoo.com/mrss/"
_M = f"{{{MEDIA_NS}}}"


class _MediaNamespace(BaseExtension):  # type: ignore[misc]  # feedgen has no type hints
    """Declares xmlns:media on the root element, whatever the items: every entry's bytes then
    use the same prefix, so entries cut from different renders join (feeds/fragments.py)."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


def declare(fg: Any) -> None:
    """Put the Media RSS namespace on the document's root (RSS and Atom)."""
    fg.register_extension("media", _MediaNamespace, None)


def lead_image_html(image: Image | None) -> str:
    """The lead image as the first paragraph of the item's HTML, "" without one.

    The same markup as the body's own images (content/html.py: XML-compatible), so readers
    that show only the content still show the image, as Ghost's feeds do.
    """
    if image is None:
        return ""
    src = html.escape(image.url, quote=True)
    alt = html.escape(image.alt, quote=True)
    return f'<p><img src="{src}" alt="{alt}" /></p>'


def add_media_elements(entry: etree._Element, item: FeedItem) -> None:
    """Append media:content (medium="image", alt text as media:description) and
    media:thumbnail for the lead image; RSS <item> and Atom <entry> alike."""
    if item.image is None:
        return
    content = etree.SubElement(entry, f"{_M}content", url=item.image.url, medium="image")
    if item.image.alt:
        # Media RSS "media:description": plain text unless type="html".
        description = etree.SubElement(content, f"{_M}description", type="plain")
        description.text = item.image.alt
    etree.SubElement(entry, f"{_M}thumbnail", url=item.image.url)


def atom_links(item: FeedItem) -> list[dict[str, str]]:
    """An Atom entry's links, in order: what feedgen is given and what the fix-up restores.

    RFC 4287 §4.2.7.2: rel="alternate" for the article page; rel="enclosure" for the
    attachment, with §4.2.7.3 type and §4.2.7.6 length ("0" is not sent: unknown, and
    length is advisory).
    """
    links = [{"href": item.url, "rel": "alternate", "type": "text/html"}]
    if item.attachment is not None:
        enclosure = {
            "href": item.attachment.url,
            "rel": "enclosure",
            "type": item.attachment.media_type,
        }
        if item.attachment.length > 0:
            enclosure["length"] = str(item.attachment.length)
        links.append(enclosure)
    return links


def json_media(out: dict[str, Any], item: FeedItem) -> None:
    """JSON Feed 1.1 item "image" and "attachments" (size_in_bytes only when known)."""
    if item.image is not None:
        out["image"] = item.image.url
    if item.attachment is not None:
        attachment: dict[str, Any] = {
            "url": item.attachment.url,
            "mime_type": item.attachment.media_type,
        }
        if item.attachment.length > 0:
            attachment["size_in_bytes"] = item.attachment.length
        out["attachments"] = [attachment]
