"""JSON out: UTF-8 responses, RFC 3339 times, absolute URLs, and sections and articles as JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from werkzeug.wrappers import Response

from feedsvc import topics, urls
from feedsvc.storage.models import Article, Section
from feedsvc.web.api.contract import JSON, PREFIX

_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    """Every string (keys too) encodable as UTF-8: lone surrogates become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """UTF-8 JSON. Stored text is clean already; anything echoed from a request may not be
    (a lone surrogate cannot be encoded as UTF-8), so on failure the payload is scrubbed."""
    try:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(_scrub(payload), ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8"
        )
    return Response(body, status=status, headers=headers, mimetype=JSON)


def rfc3339(moment: datetime | None) -> str | None:
    """RFC 3339 §5.6 in UTC, to the second; None stays None (JSON null)."""
    if moment is None:
        return None
    # isoformat, not strftime: %Y writes the year 1 as "1", which is no RFC 3339 date.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def site() -> str:
    """The site's base URL, as configured (SITE_URL)."""
    url: str = current_app.config["SITE_URL"]
    return url


def api_url(path: str, query: dict[str, str] | None = None) -> str:
    """The absolute URL of an API path, with an optional query."""
    url = urls.absolute(site(), f"{PREFIX}/{path.lstrip('/')}")
    return f"{url}?{urlencode(query)}" if query else url


def section_json(section: Section) -> dict[str, Any]:
    """A section as the API shows it (schema "Section")."""
    base = site()
    return {
        "id": section.id,
        "guid": section.guid,
        "name": section.name,
        "slug": section.slug,
        "description": section.description,
        "items_per_feed": section.items_per_feed,
        "url": urls.section_page_url(base, section.slug),
        "feeds": {
            fmt: urls.absolute(base, urls.section_doc_path(section.slug, fmt))
            for fmt in urls.FEED_FILES
        },
        "created_at": rfc3339(section.created_at),
        "updated_at": rfc3339(section.updated_at),
    }


def article_json(article: Article) -> dict[str, Any]:
    """An article as the API shows it (schema "Article"): its source and its rendered HTML."""
    section = article.section
    return {
        "id": article.id,
        "guid": article.guid,
        "url": urls.article_url(site(), article.id),
        "section": {"id": section.id, "slug": section.slug, "name": section.name},
        "title": article.title,
        "body": article.body_source,
        "body_html": article.body_html,
        "summary": article.summary,
        "summary_source": article.summary_source,
        "author": article.author,
        "tags": list(topics.tags_of(article)),
        "status": article.status,
        "publish_at": rfc3339(article.publish_at),
        "created_at": rfc3339(article.created_at),
        "updated_at": rfc3339(article.updated_at),
        "revised_at": rfc3339(article.revised_at or article.updated_at),
        "created_by": article.created_by.username if article.created_by else None,
        "updated_by": article.updated_by.username if article.updated_by else None,
        "version": article.version,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "attachment_url": article.attachment_url,
        "attachment_type": article.attachment_type,
        "attachment_length": article.attachment_length,
    }
