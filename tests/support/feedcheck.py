"""Strict validity checks for rendered RSS, Atom and JSON feeds, shared by every feed test."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import jsonschema
from lxml import etree

SCHEMAS = Path(__file__).parent / "schemas"
ATOM_NS = "http://www.w3.org/2005/Atom"
_A = f"{{{ATOM_NS}}}"

# No recover, no entities, no network: a reader-grade parser that refuses anything malformed.
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)
_ATOM_RNG = etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))
_JSONFEED_SCHEMA = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text("utf-8"))
jsonschema.Draft202012Validator.check_schema(_JSONFEED_SCHEMA)
_JSONFEED = jsonschema.Draft202012Validator(_JSONFEED_SCHEMA)

_XML_DECLARATION = re.compile(rb"""<\?xml version=["']1\.0["'] encoding=["']UTF-8["']""", re.I)
# RFC 822 §5 as amended by RFC 1123 (four-digit year); the form the W3C validator accepts.
_RFC822 = re.compile(
    r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT)"
)
# Elements whose meaning is carried by attributes and are therefore empty on purpose.
_EMPTY_OK = {
    f"{_A}link",
    f"{_A}category",
    "{http://purl.org/atompub/tombstones/1.0}deleted-entry",  # RFC 6721 §3: ref and when
}
# RSS 2.0 <enclosure> and Media RSS media:content / media:thumbnail: attributes only.
MRSS_NS = "http://search.yahoo.com/mrss/"
_EMPTY_OK |= {"enclosure", f"{{{MRSS_NS}}}content", f"{{{MRSS_NS}}}thumbnail"}
# RFC 5005 §4: fh:archive is empty by definition, its presence is the whole statement.
_EMPTY_OK.add("{http://purl.org/syndication/history/1.0}archive")


def is_absolute_url(url: str) -> bool:
    """True for an http(s) URL with a host, i.e. one a reader can fetch without a base."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _parse_xml(body: bytes) -> etree._Element:
    assert _XML_DECLARATION.match(body), f"no UTF-8 XML declaration: {body[:60]!r}"
    body.decode("utf-8")  # strict: the bytes must be UTF-8 exactly as declared
    root = etree.fromstring(body, _STRICT)
    for element in root.iter(etree.Element):
        if element.tag not in _EMPTY_OK and len(element) == 0:
            # The W3C validator warns about empty description/title/etc.
            assert (element.text or "").strip(), f"empty element {element.tag}"
    return root


def _feedparser(body: bytes, version: str) -> Any:
    result = feedparser.parse(body)
    assert result.bozo == 0, f"feedparser: {result.get('bozo_exception')!r}"
    assert result.version == version, result.version
    return result


def _rfc822(text: str | None, what: str) -> datetime:
    assert text and _RFC822.fullmatch(text), f"{what} is not an RFC 822 date: {text!r}"
    return parsedate_to_datetime(text)


def check_rss(body: bytes) -> Any:
    """Assert ``body`` is a valid RSS 2.0 feed; return the feedparser result."""
    root = _parse_xml(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    # RSS 2.0 spec: title, link and description are the required channel elements.
    for name in ("title", "link", "description"):
        assert channel.findtext(name), f"channel has no {name}"
    assert is_absolute_url(channel.findtext("link", ""))
    # RSS Best Practices Profile: identify the feed's own URL with atom:link rel="self".
    selfs = [link for link in channel.iterfind(f"{_A}link") if link.get("rel") == "self"]
    assert len(selfs) == 1 and is_absolute_url(selfs[0].get("href", ""))
    assert selfs[0].get("type") == "application/rss+xml"
    for name in ("lastBuildDate", "pubDate"):
        if channel.find(name) is not None:
            _rfc822(channel.findtext(name), name)
    for item in channel.iterfind("item"):
        # RSS 2.0 spec: "at least one of title or description must be present".
        assert item.findtext("title") or item.findtext("description")
        assert item.find("author") is None, "<author> must be an e-mail; use dc:creator"
        if item.find("link") is not None:
            assert is_absolute_url(item.findtext("link", ""))
        if item.find("pubDate") is not None:
            _rfc822(item.findtext("pubDate"), "item pubDate")
    return _feedparser(body, "rss20")


def check_atom(body: bytes) -> etree._Element:
    """Assert ``body`` is a valid Atom 1.0 feed (RFC 4287); return the lxml root element."""
    root = _parse_xml(body)
    assert root.tag == f"{_A}feed"
    assert _ATOM_RNG.validate(root), str(_ATOM_RNG.error_log)
    entries = root.findall(f"{_A}entry")
    # RFC 4287 §4.1.1: a feed has an author unless every entry has one (the RNG can't say so).
    if root.find(f"{_A}author") is None:
        for entry in entries:
            assert (
                entry.find(f"{_A}author") is not None
                or entry.find(f"{_A}source/{_A}author") is not None
            ), f"entry {entry.findtext(f'{_A}id')} has no author"
    # §4.1.1: a feed SHOULD have one rel="self" link, and no two alternates of one type/hreflang.
    _check_links(root, need_self=True)
    for entry in entries:
        links = _check_links(entry, need_self=False)
        # §4.1.2: an entry without atom:content MUST have a rel="alternate" link.
        if entry.find(f"{_A}content") is None:
            assert any(link.get("rel", "alternate") == "alternate" for link in links)
    _feedparser(body, "atom10")
    return root


def _check_links(parent: etree._Element, need_self: bool) -> list[etree._Element]:
    links = parent.findall(f"{_A}link")
    alternates = [
        (link.get("type"), link.get("hreflang"))
        for link in links
        if link.get("rel", "alternate") == "alternate"
    ]
    assert len(alternates) == len(set(alternates)), "duplicate alternate links"
    selfs = [link for link in links if link.get("rel") == "self"]
    if need_self:
        assert len(selfs) == 1, "feed needs exactly one rel=self link"
    for link in links:
        assert is_absolute_url(link.get("href", "")), link.get("href")
    return links


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
    return dict(pairs)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _rfc3339(text: str, what: str) -> datetime:
    parsed = datetime.fromisoformat(text)  # calendar validity; the schema checks the shape
    assert parsed.tzinfo is not None, f"{what} has no offset: {text}"
    return parsed


def check_json(body: bytes) -> dict[str, Any]:
    """Assert ``body`` is a valid JSON Feed 1.1 meeting the spec's SHOULDs; return the dict."""
    feed = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    assert isinstance(feed, dict)
    for text in _strings(feed):
        text.encode("utf-8")  # a "\ud800" escape decodes to a lone surrogate: not Unicode text
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _JSONFEED.iter_errors(feed)]
    assert not errors, errors
    # JSON Feed 1.1: home_page_url and feed_url are "optional but strongly recommended";
    # feed_url lets a reader follow a moved feed, so require both, absolute.
    assert is_absolute_url(feed.get("feed_url", "")), "feed_url missing or relative"
    assert is_absolute_url(feed.get("home_page_url", "")), "home_page_url missing or relative"
    for item in feed["items"]:
        if "url" in item:
            assert is_absolute_url(item["url"]), item["url"]
        assert "date_published" in item, f"item {item['id']} has no date_published"
        for key in ("date_published", "date_modified"):
            if key in item:
                _rfc3339(item[key], key)
    return feed


CHECKS: dict[str, Callable[[bytes], Any]] = {
    "rss": check_rss,
    "atom": check_atom,
    "json": check_json,
}


@dataclass(frozen=True)
class Entry:
    """What a reader sees of one feed entry, whichever format carried it."""

    id: str
    url: str
    title: str
    content: str  # HTML as sent (content:encoded, atom:content, content_html)
    summary: str  # plain text as a reader displays it
    published: datetime
    updated: datetime | None  # None for RSS 2.0, which has no per-item modification date
    author: str  # the entry's own author, or the feed's that stands in for it
    tags: list[str]


def _fp_date(entry: Any, key: str) -> datetime:
    parsed = entry.get(f"{key}_parsed")
    assert parsed, f"entry {entry.get('id')} has no {key} date"
    return datetime(*parsed[:6], tzinfo=UTC)


def feed_title(fmt: str, body: bytes) -> str:
    """The feed's title as a reader shows it."""
    if fmt == "json":
        return str(json.loads(body)["title"])
    return str(feedparser.parse(body).feed.title)


def entries(fmt: str, body: bytes) -> list[Entry]:
    """Check ``body`` as a ``fmt`` feed and return its entries, read by an independent parser."""
    CHECKS[fmt](body)
    if fmt == "json":
        feed = json.loads(body)
        return [
            Entry(
                id=i["id"],
                url=i["url"],
                title=i["title"],
                content=i.get("content_html", i.get("content_text")),
                summary=i.get("summary", ""),
                published=datetime.fromisoformat(i["date_published"]),
                updated=datetime.fromisoformat(i["date_modified"]),
                # JSON Feed 1.1: an item without "authors" inherits the feed's.
                author=i.get("authors", feed.get("authors", [{}]))[0].get("name", ""),
                tags=i.get("tags", []),
            )
            for i in feed["items"]
        ]
    # Unsanitised, so HTML content compares exactly with what was sent.
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return [
        Entry(
            id=e.id,
            url=e.link,
            title=e.title,
            content=e.content[0].value if "content" in e else "",
            # RSS <description> is HTML: what a reader displays is its unescaped text.
            summary=html.unescape(e.get("summary", "")) if fmt == "rss" else e.get("summary", ""),
            published=_fp_date(e, "published"),
            updated=_fp_date(e, "updated") if fmt == "atom" else None,
            author=e.get("author") or parsed.feed.get("author", ""),
            tags=[t.term for t in e.get("tags", [])],
        )
        for e in parsed.entries
    ]
