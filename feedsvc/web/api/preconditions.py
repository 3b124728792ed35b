"""Lost updates in the API: an article's strong ETag per version, and If-Match (RFC 9110 §13.1.1).

A missing If-Match keeps the write unconditional (the last write wins), as it was before
versions existed: CMS integrations written against the API keep working, and a client opts in
to the check by echoing the ETag it read. RFC 6585 §3 (428 Precondition Required) would force
every client to change at once; the OpenAPI description and the README say which is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import request
from werkzeug.http import parse_etags
from werkzeug.wrappers import Response

from feedsvc import articles as service
from feedsvc.storage.models import Article
from feedsvc.web.api.contract import ARTICLE_SERVICE_NAMES
from feedsvc.web.api.encoding import article_json, rfc3339
from feedsvc.web.api.errors import ApiError

# Fields whose stored value a 412 quotes; long text is in "current" only.
_QUOTED = {"title", "author", "status"}


def etag_value(article: Article) -> str:
    """The opaque part of the ETag: the id and the version, which every save moves on.

    Strong (§8.8.1): it names the article's state as editors set it. Derived values that can
    change without a save (body_html after a renderer upgrade, the section's name) are not part
    of it, so the API never answers 304 from it; it is for If-Match only.
    """
    return f"{article.id}-{article.version}"


def etag(article: Article) -> str:
    """The ETag header's value: the opaque part, quoted (§8.8.3)."""
    return f'"{etag_value(article)}"'


def with_etag(response: Response, article: Article) -> Response:
    response.headers["ETag"] = etag(article)
    return response


def expected_version(
    article: Article, sent: Callable[[], Mapping[str, Any]] | None = None
) -> int | None:
    """The version a write must be made against, from If-Match; 412 when it names another.

    None: no If-Match, or "*" (any current representation: the article exists, or the route
    has answered 404 already, §13.1.1). `sent` reads the write's fields (ArticleInput names),
    for the 412's list of fields whose stored values differ: only then, since the
    precondition is evaluated before the content is processed (§13.2.2).
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags.star_tag:
        return None
    # Strong comparison (§8.8.3.2): contains() ignores weak tags, which never match here.
    if tags.contains(etag_value(article)):
        return article.version
    raise precondition_failed(article, sent() if sent else None)


def precondition_failed(current: Article, sent: Mapping[str, Any] | None = None) -> ApiError:
    """412 with the article as stored now, its ETag, and the sent fields that differ."""
    stored = service.input_of(current)
    fields: dict[str, str] = {}
    for key, value in (sent or {}).items():
        now = getattr(stored, key, None)
        if value == now:
            continue
        name = ARTICLE_SERVICE_NAMES.get(key, key)
        if key == "section_id":
            fields[name] = f"The stored section is now “{current.section.slug}”."
        elif key in _QUOTED:
            fields[name] = f"The stored {name} is now “{now}”."
        elif key == "publish_at":
            fields[name] = f"The stored publish_at is now {rfc3339(current.publish_at) or 'null'}."
        else:
            fields[name] = f"The stored {name} differs from yours: see “current”."
    who = current.updated_by.username if current.updated_by else "an unknown account"
    message = (
        f"The article changed since the version you sent in If-Match: it is at version "
        f"{current.version} (ETag {etag(current)}), saved by {who} at "
        f"{rfc3339(current.updated_at)}. Nothing was saved; “current” is the article as "
        "stored, “fields” the fields you sent whose stored values differ."
    )
    return ApiError(
        412,
        message,
        fields,
        headers={"ETag": etag(current)},
        current=article_json(current),
    )
