"""A feed's bytes to plain entries: refused with a reason if the XML could carry an attack.

Two parsers, each for what it does best. lxml, hardened (no DTD loaded, no entity resolved,
no network, libxml2's default size and depth limits), reads the bytes first and refuses any
document with a DOCTYPE: entity declarations (billion laughs), external entities (XXE,
"file:///etc/passwd") and external DTDs all need one, and no RSS or Atom feed does (neither
RSS 2.0 nor RFC 4287 defines a DTD). Only then does feedparser read the same bytes and
normalise RSS 0.9x/1.0/2.0 and Atom into one shape (dates to UTC, relative links resolved
against xml:base or the feed's address).
"""

from __future__ import annotations

import codecs
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
from lxml import etree

from feedsvc.content.html import parse_fragment
from feedsvc.content.text import NOT_XML_TEXT

# libxml2's codes for a reference to an entity nobody declared ("&nbsp;" in a title): the one
# well-formedness error real feeds have often enough to read them anyway, in feedparser's
# forgiving mode, once no DOCTYPE is found (without one there is nothing to expand).
_UNDECLARED_ENTITY = {26, 27}
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ATOM = "http://www.w3.org/2005/Atom"
_BLOCK = re.compile(r"<(?:p|div|h[1-6]|ul|ol|blockquote|pre|table|figure)\b", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_WIDE_DECLARATIONS = tuple(
    word.encode(codec)
    for word in ("<!DOCTYPE", "<!doctype", "<!ENTITY")
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


class FeedRefused(Exception):
    """The document is not read at all; the message says why, in a sentence."""


@dataclass(frozen=True)
class FeedEntry:
    """One item as the feed gave it, before any of our checks (those are the service's)."""

    position: int  # 1 for the feed's first item
    id: str  # RSS guid / Atom id, "" when the item has none
    link: str  # the item's permalink, "" when none
    title: str  # plain text, "" when none
    content_html: str  # the body: content:encoded / atom:content, else the description
    summary: str  # plain text from the description / atom:summary, "" when none
    author: str
    categories: tuple[str, ...]
    published: datetime | None  # aware UTC
    updated: datetime | None  # aware UTC
    # A WordPress export (WXR) says what each item is and where it stands: wp:post_type
    # ("post", "page", "attachment", …) and wp:status ("publish", "draft", …); "" elsewhere.
    kind: str = ""
    state: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]


def check_xml(data: bytes) -> Any:
    """Refuse a document with a DTD, or one that is no XML; raise FeedRefused with why.

    Returns the document's root element (None when only the forgiving reading can read it).
    """
    if _prolog_has_doctype(data):
        raise FeedRefused(_DTD_REFUSED)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        # The parser's own log: the exception's may still hold an earlier parse's errors
        # from this thread (libxml2's global log), which would refuse a forgivable feed.
        log: Any = parser.error_log
        codes = {e.type for e in log} | {getattr(exc, "code", 0)}
        if not codes <= _UNDECLARED_ENTITY:
            raise FeedRefused(f"The feed is not well-formed XML ({exc.msg}).") from None
        # Read forgivingly below: so no declaration may hide anywhere in the bytes.
        if _DECLARATION.search(data) or any(w in data for w in _WIDE_DECLARATIONS):
            raise FeedRefused(_DTD_REFUSED) from None
        return None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise FeedRefused(_DTD_REFUSED)
    return root


def _site_link(root: Any) -> str:
    """The site the feed names (RSS channel link, Atom alternate link), "" if none: the base
    for relative links when the feed was read from a file."""
    if root is None:
        return ""
    link = root.findtext("channel/link") or ""
    for alternate in root.iterfind(f"{{{_ATOM}}}link"):
        if alternate.get("rel", "alternate") == "alternate" and not link:
            link = alternate.get("href", "")
    return link.strip() if link.strip().lower().startswith(("http://", "https://")) else ""


def _wxr_authors(root: Any) -> dict[str, str]:
    """A WordPress export's logins and display names (wp:author), whatever its WXR version."""
    found: dict[str, str] = {}
    if root is None:
        return found
    for author in root.iterfind("channel/{*}author"):
        login = author.findtext("{*}author_login") or ""
        name = author.findtext("{*}author_display_name") or ""
        if login.strip() and name.strip():
            found[login.strip()] = " ".join(name.split())
    return found


def _prolog_has_doctype(data: bytes) -> bool:
    """Whether a DOCTYPE comes before the root element (XML 1.0 §2.8: the only place it can
    be), so the refusal says why; libxml2, hardened, still refuses what this does not see."""
    head = data[:65536]
    codec = "latin-1"  # the markup of every ASCII-compatible encoding reads the same
    for bom, name in _BOMS:
        if head.startswith(bom):
            codec = name
            break
    else:
        if head[:1] == b"\x00" or head[1:2] == b"\x00":  # UTF-16 without a byte order mark
            codec = "utf-16-be" if head[:1] == b"\x00" else "utf-16-le"
    text = head.decode(codec, errors="ignore").lstrip("\ufeff")
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        for start, end in (("<?", "?>"), ("<!--", "-->")):
            if text.startswith(start, at):
                close = text.find(end, at)
                at = len(text) if close < 0 else close + len(end)
                break
        else:
            return text[at : at + 9].upper() == "<!DOCTYPE"


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DTD_REFUSED = (
    "The feed declares a DTD (<!DOCTYPE>), which RSS and Atom never need and entity attacks "
    "(billion laughs, external entities) rely on: it is not read."
)


def parse_feed(data: bytes, *, url: str = "") -> ParsedFeed:
    """The feed's entries, in its order; FeedRefused for unsafe or unreadable documents."""
    root = check_xml(data)
    site = _site_link(root)
    authors = _wxr_authors(root)
    # feedparser resolves relative links against xml:base, else this address (RFC 3986 §5).
    headers = {"content-location": url or site} if url or site else {}
    parsed: Any = feedparser.parse(io.BytesIO(data), sanitize_html=False, response_headers=headers)
    if not parsed.get("version"):
        raise FeedRefused("The document is not an RSS or Atom feed.")
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=_text(feed.get("title", ""), feed.get("title_detail")),
        entries=[_entry(i, e, authors) for i, e in enumerate(parsed.get("entries", []), start=1)],
    )


def _entry(position: int, e: Any, authors: dict[str, str]) -> FeedEntry:
    content = _content(e)
    if e.get("wp_post_type"):
        content = _autop(content)
    # feedparser copies an entry's content into its summary when it has no summary of its own.
    bodies = {str(c.get("value", "")) for c in e.get("content") or []}
    summary = e.get("summary", "") if content and e.get("summary") not in bodies else ""
    summary = summary or e.get("excerpt_encoded", "")  # WXR: the post's own excerpt
    # Names are text, but WordPress writes them HTML-escaped inside CDATA ("O&#8217;Neill",
    # "Local &amp; Regional"): what a reader of the site saw is the unescaped name.
    author = (e.get("author_detail") or {}).get("name") or e.get("author", "")
    author = authors.get(author, author)  # WXR: dc:creator is a login; its display name
    categories = tuple(
        html.unescape(term).strip()
        for t in e.get("tags") or ()
        if (term := t.get("term") or t.get("label"))
    )
    return FeedEntry(
        position=position,
        id=_clean(e.get("id", "")).strip(),
        link=_clean(e.get("link", "")).strip(),
        title=_text(e.get("title", ""), e.get("title_detail")),
        content_html=_clean(content or e.get("summary", "")),
        summary=_text(summary, e.get("summary_detail")),
        author=_clean(html.unescape(str(author))).strip(),
        categories=tuple(c for c in (_clean(c) for c in categories) if c),
        # dict.get: feedparser's own get() maps a missing updated to published, with a warning.
        published=_date(dict.get(e, "published_parsed"))
        or _date(dict.get(e, "updated_parsed"))
        or _wxr_date(e.get("wp_post_date_gmt")),
        updated=_date(dict.get(e, "updated_parsed")) or _wxr_date(e.get("wp_post_modified_gmt")),
        kind=_clean(e.get("wp_post_type", "")).strip(),
        state=_clean(e.get("wp_status", "")).strip(),
    )


def _content(e: Any) -> str:
    """The item's HTML body: the first HTML content, else plain text made into paragraphs."""
    contents = e.get("content") or []
    for c in contents:
        if c.get("type") in ("text/html", "application/xhtml+xml"):
            return str(c.get("value", ""))
    for c in contents:  # Atom type="text" (RFC 4287 §3.1.1.1): text, not markup
        return _paragraphs(str(c.get("value", "")))
    return ""


def _autop(body: str) -> str:
    """A WordPress export's classic-editor body, stored without paragraphs (WordPress adds
    them when it shows the post, wpautop): blank lines become paragraphs, newlines <br>."""
    if _BLOCK.search(body):
        return body  # block editor content, or HTML written by hand: as it is
    blocks = [b.strip() for b in re.split(r"\n\s*\n", body) if b.strip()]
    return "".join("<p>" + b.replace("\n", "<br />\n") + "</p>" for b in blocks)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "".join(f"<p>{html.escape(b)}</p>" for b in blocks)


def _text(value: str, detail: Any) -> str:
    """A title as plain text; an HTML one (RSS titles may be) without its tags."""
    value = _clean(value)
    html_types = ("text/html", "application/xhtml+xml")
    if detail and detail.get("type") in html_types:
        # Markup only where a tag is: "a<b" in a title is text (RSS 2.0 does not say which).
        return _html_text(value) if _TAG.search(value) else " ".join(html.unescape(value).split())
    return " ".join(value.split())


def _html_text(html_text: str) -> str:
    if not html_text.strip():
        return ""
    return " ".join(str(parse_fragment(_clean(html_text)).text_content()).split())


def _clean(value: Any) -> str:
    return NOT_XML_TEXT.sub("", str(value or ""))


def _wxr_date(value: Any) -> datetime | None:
    """WXR's "2024-05-14 08:12:40" (UTC); its "0000-00-00 00:00:00" for never is None."""
    try:
        return datetime.strptime(str(value or "").strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _date(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None when absent or impossible."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None
