"""The URL contract in one place: document paths and the absolute URLs every feed links to."""

from __future__ import annotations

from urllib.parse import urlsplit

# Format → file name, both for the URL path and for the static export's layout.
FEED_FILES: dict[str, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
FILE_FORMATS: dict[str, str] = {name: fmt for fmt, name in FEED_FILES.items()}
OPML_PATH = "opml.xml"
# The editors' side: every page under it is private (security headers, web/headers.py).
ADMIN_PREFIX = "/admin"


def section_doc_path(slug: str, fmt: str) -> str:
    """Stored document path (no leading slash), also the export's relative file path."""
    return f"sections/{slug}/{FEED_FILES[fmt]}"


def site_doc_path(fmt: str) -> str:
    return FEED_FILES[fmt]


def absolute(site_url: str, path: str) -> str:
    return f"{site_url}/{path.lstrip('/')}"


def section_page_url(site_url: str, slug: str) -> str:
    return absolute(site_url, f"sections/{slug}/")


def article_url(site_url: str, article_id: int) -> str:
    # By id, not by title or section: edits and moves never break a reader's link.
    return absolute(site_url, f"articles/{article_id}")


# What a browser opening a feed fetches besides it: the XSLT that shows the feed as a page
# (<?xml-stylesheet?> in RSS and Atom) and the icon every browser asks for. Both are files of
# feedsvc/static served at the site's root, by the app and from the static export.
STYLESHEET_PATH = "feed.xsl"
FAVICON_PATH = "favicon.ico"


def stylesheet_href(site_url: str) -> str:
    """The feeds' <?xml-stylesheet?> href: a path on the site's own origin (browsers apply an
    XSLT only from the document's origin), under SITE_URL's path when it has one."""
    return f"{urlsplit(site_url).path.rstrip('/')}/{STYLESHEET_PATH}"


# RFC 5005 archive pages live under their feed's folder: <base>archive/<n>/<feed file>, where
# base is "" for the site feeds, "sections/<slug>/" for a section's and "tags/<slug>/" or
# "authors/<slug>/" for a topic's (topic_base; page 1 is the oldest).
ARCHIVE_DIR = "archive"
ARCHIVE_PAGE_PATTERN = "[1-9][0-9]{0,8}"  # page numbers as they appear in a URL


def section_base(slug: str) -> str:
    return f"sections/{slug}/"


def archive_doc_path(base: str, page: int, fmt: str) -> str:
    """Stored path of a feed's archive page ``page`` in format ``fmt`` (no leading slash)."""
    return f"{base}{ARCHIVE_DIR}/{page}/{FEED_FILES[fmt]}"


# Tags and authors (feedsvc/topics.py): a folder per kind, then the topic's slug.
TOPIC_DIRS: dict[str, str] = {"tag": "tags", "author": "authors"}


def topic_base(kind: str, slug: str) -> str:
    """A tag's or author's folder, also its archive pages' base: "tags/<slug>/"."""
    return f"{TOPIC_DIRS[kind]}/{slug}/"


def topic_doc_path(kind: str, slug: str, fmt: str) -> str:
    """A tag's or author's feed: "tags/<slug>/atom.xml", "authors/<slug>/feed.json"."""
    return f"{topic_base(kind, slug)}{FEED_FILES[fmt]}"


def topic_page_url(site_url: str, kind: str, slug: str) -> str:
    return absolute(site_url, f"{TOPIC_DIRS[kind]}/{slug}/")
