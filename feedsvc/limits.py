"""The limits every edge enforces alike: field lengths, ranges, the slug pattern, ids, statuses.

One home for each: the services enforce them, and the schema, the admin forms and the OpenAPI
description import them from here, so a limit cannot say one thing in one place and another
elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Ids are 32-bit INTEGER keys (PostgreSQL SERIAL); a larger number in a URL or a JSON body
# would overflow the driver's parameter, so it is "not found" before any query runs.
ID_MIN = 1
ID_MAX = 2**31 - 1


def valid_id(value: int) -> bool:
    """Whether value can be the id of a stored row (anything else is simply not found)."""
    return ID_MIN <= value <= ID_MAX


# Sections.
SECTION_NAME_MAX = 120
SLUG_MAX = 80
# The slug grammar: lower-case ASCII letters and digits in runs joined by single hyphens. It is
# also the URL pattern of /sections/<slug>/…, so a slug can never leave the export folder.
SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
# \A...\Z rather than ^...$: "$" also matches before a trailing "\n", so "news\n" would pass
# a plain re.match() against "^...$".
SLUG_RE = re.compile(rf"\A{SLUG_PATTERN}\Z")
DESCRIPTION_MAX = 2000
ITEMS_PER_FEED_MIN = 1
ITEMS_PER_FEED_MAX = 500
ITEMS_PER_FEED_DEFAULT = 50

# Articles.
TITLE_MAX = 300
AUTHOR_MAX = 120
SUMMARY_MAX = 1000
# Tags: per article, and each tag's length once normalised (feedsvc/topics.py).
TAGS_MAX = 10
TAG_MAX = 60
# Between an article's tag names in articles.tag_names: a normalised tag is one line.
TAG_SEPARATOR = "\n"
# Markdown source; its UTF-8 may be four times as long, which the request size limit allows.
BODY_MAX = 200_000
# Rendered HTML, in UTF-8 bytes: the BODY_HTML_MAX_BYTES setting's shipped default (also in
# config/default.toml), and the bound wherever a body renders without the app's settings.
# Markdown can expand far past its source (each "[a]" copies its reference's URL), so the
# output is bounded too, as it is built.
BODY_HTML_MAX_BYTES = 2_000_000
# An article body's source format (Article.body_format): Markdown as editors type it, or HTML
# as an imported feed carried it (feedsvc/importing/), sanitised and never read as Markdown.
BODY_MARKDOWN = "markdown"
BODY_HTML = "html"
BODY_FORMATS = (BODY_MARKDOWN, BODY_HTML)
# Article.guid's column width: an imported item's own id (RSS guid, Atom id) must fit.
GUID_MAX = 255
STATUS_PUBLISHED = "published"
STATUS_DRAFT = "draft"
STATUSES = (STATUS_PUBLISHED, STATUS_DRAFT)
# Publish at, inclusive, in UTC. Feeds carry the date (RFC 822 in RSS, RFC 3339 in Atom and
# JSON Feed): readers misread dates before the Unix epoch, and a date centuries ahead is a
# typing slip. The articles service refuses anything outside these; the admin form reads
# wall-clock times through feedsvc.localtime, which stays total at the calendar's ends.
PUBLISH_AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
PUBLISH_AT_LATEST = datetime(2100, 12, 31, 23, 59, tzinfo=UTC)
# Searching articles (feedsvc/search.py): what is read of a query, and how many of its words
# (every one must match, each as a whole word).
SEARCH_MAX = 200
SEARCH_WORDS_MAX = 8
# The admin list: articles per page.
ADMIN_PAGE_SIZE = 50

# API tokens and users.
TOKEN_NAME_MAX = 120
USERNAME_MAX = 64
PASSWORD_MIN = 8
# Long enough for any passphrase or password manager; a longer one is refused before it is
# hashed, so a megabyte "password" costs nothing.
PASSWORD_MAX = 1024
# How long a login form's CSRF token is accepted (seconds): a script must fetch a fresh page
# at least this often. Other admin forms keep theirs for the session's life (no time limit of
# their own), so a long article is never lost to an expired token; the session ends anyway
# after SESSION_IDLE_MINUTES or SESSION_MAX_HOURS, and its CSRF secret with it.
LOGIN_FORM_SECONDS = 3600
# The longest `next=` target a login follows; longer is no page of ours (and a header that
# long would trouble proxies).
NEXT_MAX = 2000
# Roles: an editor writes articles; an admin also manages sections, users and API tokens.
ROLE_EDITOR = "editor"
ROLE_ADMIN = "admin"
ROLES = (ROLE_EDITOR, ROLE_ADMIN)
# API token scopes: "read" answers GET and HEAD only; "write" may also change what the
# token's user may change.
SCOPE_READ = "read"
SCOPE_WRITE = "write"
SCOPES = (SCOPE_READ, SCOPE_WRITE)
# The latest a token may be made to expire, in days from its creation: a longer-lived one
# should simply not expire (and be revoked when done with).
TOKEN_DAYS_MAX = 3660

# Lead images and attachments (feedsvc/media.py). A URL longer than this is no link anyone
# types, and some readers and proxies cut longer ones; alt text is a sentence, not a caption.
MEDIA_URL_MAX = 2000
IMAGE_ALT_MAX = 500
# RFC 6838 §4.2: type and subtype names are at most 127 characters each.
MEDIA_TYPE_MAX = 255
# Bytes: the largest integer JSON carries exactly everywhere (RFC 8259 §6), and the column
# is a BIGINT.
ATTACHMENT_LENGTH_MAX = 2**53 - 1

# Feed import (feedsvc/importing/): items saved per transaction (a failure loses at most one
# batch, never half an article), and the most items the admin page takes in one request
# (a bigger feed goes through `flask --app feedsvc import-feed`, which shows its progress).
IMPORT_BATCH = 100
IMPORT_FORM_ITEMS_MAX = 500

# Subscriber analytics (analytics.py): days kept and shown, and the most distinct polls
# (feed, address, User-Agent) a web worker holds between two flushes; past it a poll is
# dropped (and counted as dropped) rather than memory grown. A key costs about 300 bytes.
ANALYTICS_DAYS = 90
ANALYTICS_PENDING_MAX = 100_000
