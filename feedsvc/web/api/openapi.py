"""The OpenAPI 3.1 description of /api/v1 (paths, answers, security), served at openapi.json.

Fields, limits and enumerations come from contract.py and feedsvc.limits, which the parsing
and the services enforce, so the description cannot drift from the behaviour on those points;
tests check that every /api/v1 route is described, that real responses validate against these
schemas, and that every documented limit is the one enforced.
"""

from __future__ import annotations

from typing import Any

from feedsvc import limits
from feedsvc.web.api.contract import DEFAULT_LIMIT, JSON, MAX_LIMIT, MERGE_PATCH, PREFIX
from feedsvc.web.api.schemas import ref, schemas


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _json(ref("schemas", "Error")),
    }
    if headers:
        response["headers"] = headers
    return response


def _responses() -> dict[str, Any]:
    www = {
        "WWW-Authenticate": {
            "description": '`Bearer realm="feedsvc"`, with `error="invalid_token"` when a '
            "token was sent but is unknown, revoked or expired, or its account is disabled "
            "(RFC 6750 §3).",
            "schema": {"type": "string"},
        }
    }
    return {
        "BadRequest": _error_response(
            "Malformed JSON, not an object, duplicate keys, a field of the wrong JSON type, or "
            "an unknown field."
        ),
        "Unauthorized": _error_response(
            "No bearer token, or one that is unknown, revoked or expired, or whose account is "
            "disabled (`invalid_token`; the message says which).",
            www,
        ),
        "Forbidden": _error_response(
            "A read-only token sent with a change (`insufficient_scope`, RFC 6750 §3.1, with "
            '`WWW-Authenticate: Bearer …, error="insufficient_scope", scope="write"`), or an '
            "editor's token changing a section (`forbidden`: sections are an admin's).",
            {
                "WWW-Authenticate": {
                    "description": "Sent with `insufficient_scope` only.",
                    "schema": {"type": "string"},
                }
            },
        ),
        "NotFound": _error_response("No such resource."),
        "Conflict": _error_response("The slug is used by another section."),
        "PayloadTooLarge": _error_response("The request body is larger than 4 MB."),
        "UnsupportedMediaType": _error_response("The body is not application/json (UTF-8)."),
        "TooManyRequests": _error_response(
            "Too many requests with a bad token from this address (TOKEN_LIMIT_PER_ADDRESS); "
            "a valid token is never refused this way.",
            {
                "Retry-After": {
                    "description": "Seconds to wait (RFC 9110 §10.2.3).",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        ),
        "PreconditionFailed": _error_response(
            "If-Match names another version than the stored one (RFC 9110 §13.1.1): someone "
            "changed the article since. Nothing was saved; `current` is the article as stored "
            "and `fields` the fields sent whose stored values differ. Merge, then send again "
            "with the new ETag.",
            {"ETag": _ETAG_HEADER},
        ),
        "ServiceUnavailable": _error_response(
            "The database is unreachable or too slow (`unavailable`); nothing was read or "
            "stored. Try again after Retry-After (RFC 9110 §15.6.4); feeds keep being served.",
            {
                "Retry-After": {
                    "description": "Seconds to wait (RFC 9110 §10.2.3).",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        ),
        "Unprocessable": _error_response(
            "Well-formed JSON whose values cannot be stored; `fields` says why, per field. "
            "Nothing was stored."
        ),
    }


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        412: "PreconditionFailed",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        422: "Unprocessable",
        429: "TooManyRequests",
        503: "ServiceUnavailable",
    }
    # Wherever a bad token gets 401, an address that keeps sending bad ones gets 429; and
    # every route that checks a token reads the database, so it answers 503 in an outage.
    if 401 in codes:
        codes = (*codes, 429, 503)
    return {str(code): ref("responses", names[code]) for code in codes}


def _ok(
    description: str,
    schema: str,
    *,
    status: int = 200,
    location: bool = False,
    etag: bool = False,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _json(ref("schemas", schema)),
    }
    headers: dict[str, Any] = {}
    if location:
        headers["Location"] = {
            "description": "The new resource's API URL.",
            "schema": {"type": "string", "format": "uri"},
        }
    if etag:
        headers["ETag"] = _ETAG_HEADER
    if headers:
        response["headers"] = headers
    return {str(status): response}


_ETAG_HEADER = {
    "description": "The article's version as a strong entity tag (RFC 9110 §8.8.3), "
    'e.g. `"42-3"`: send it in If-Match with a change or a delete.',
    "schema": {"type": "string"},
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the version this change was made against (RFC 9110 §13.1.1), "
    "or `*` for any. Another version: 412 and nothing is saved. Without If-Match the change is "
    "unconditional and the last write wins, as for clients written before versions existed; "
    "send it to never overwrite a change made meanwhile by an editor or another client.",
    "schema": {"type": "string"},
}


def _body(schema: str, *, patch: bool = False) -> dict[str, Any]:
    content = _json(ref("schemas", schema))
    if patch:
        content[MERGE_PATCH] = {"schema": ref("schemas", schema)}
    return {"required": True, "content": content}


def _paths() -> dict[str, Any]:
    section_id = ref("parameters", "SectionId")
    article_id = ref("parameters", "ArticleId")
    write = (400, 401, 403, 413, 415, 422)
    return {
        "/sections": {
            "get": {
                "operationId": "listSections",
                "summary": "All sections, by name.",
                "responses": {**_ok("The sections.", "SectionList"), **_errors(401)},
            },
            "post": {
                "operationId": "createSection",
                "summary": "Create a section (an admin's token); its feeds appear within seconds.",
                "requestBody": _body("SectionCreate"),
                "responses": {
                    **_ok("Created.", "Section", status=201, location=True),
                    **_errors(*write, 409),
                },
            },
        },
        "/sections/{section_id}": {
            "parameters": [section_id],
            "get": {
                "operationId": "getSection",
                "summary": "One section.",
                "responses": {**_ok("The section.", "Section"), **_errors(401, 404)},
            },
            "patch": {
                "operationId": "updateSection",
                "summary": "Change some of a section's fields (an admin's token).",
                "requestBody": _body("SectionPatch", patch=True),
                "responses": {**_ok("Saved.", "Section"), **_errors(*write, 404, 409)},
            },
            "delete": {
                "operationId": "deleteSection",
                "summary": (
                    "Delete a section (an admin's token): an empty one, or with its articles "
                    "moved to `move_to` in the same transaction. Its feed URLs then answer "
                    "410 Gone (until a new section takes the slug); its old slugs too."
                ),
                "parameters": [
                    {
                        "name": "move_to",
                        "in": "query",
                        "description": "The section (id or slug) that takes the articles; "
                        "required when there are any (409 without it).",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "204": {"description": "Deleted."},
                    **_errors(401, 403, 404, 409, 422),
                },
            },
        },
        "/articles": {
            "get": {
                "operationId": "listArticles",
                "summary": "Articles, newest (most recently created) first, a page at a time.",
                "parameters": [
                    {
                        "name": "section",
                        "in": "query",
                        "description": "Only this section's articles (its slug).",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(limits.STATUSES)},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "description": "Only articles whose title or body holds every word "
                        "(letters and digits; whole words, any case), as the admin's Search.",
                        "schema": {"type": "string", "maxLength": limits.SEARCH_MAX},
                    },
                    {
                        "name": "before_id",
                        "in": "query",
                        "description": "Only articles with a smaller id: the cursor `next` uses.",
                        "schema": {"type": "integer", "minimum": limits.ID_MIN},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of articles.",
                        "headers": {
                            "Link": {
                                "description": 'The next page as `<url>; rel="next"` (RFC 8288).',
                                "schema": {"type": "string"},
                            }
                        },
                        "content": _json(ref("schemas", "ArticleList")),
                    },
                    **_errors(400, 401, 404),
                },
            },
            "post": {
                "operationId": "createArticle",
                "summary": "Create an article (published now, scheduled, or a draft).",
                "requestBody": _body("ArticleCreate"),
                "responses": {
                    **_ok("Created.", "Article", status=201, location=True, etag=True),
                    **_errors(*write),
                },
            },
        },
        "/articles/{article_id}": {
            "parameters": [article_id],
            "get": {
                "operationId": "getArticle",
                "summary": "One article, drafts included.",
                "responses": {
                    **_ok("The article.", "Article", etag=True),
                    **_errors(401, 404),
                },
            },
            "patch": {
                "operationId": "updateArticle",
                "summary": "Change some of an article's fields; the rest keep their values.",
                "parameters": [_IF_MATCH],
                "requestBody": _body("ArticlePatch", patch=True),
                "responses": {
                    **_ok("Saved; the ETag names the new version.", "Article", etag=True),
                    **_errors(*write, 404, 412),
                },
            },
            "delete": {
                "operationId": "deleteArticle",
                "summary": "Delete an article; it leaves its feeds at the next publishing pass.",
                "parameters": [_IF_MATCH],
                "responses": {
                    "204": {"description": "Deleted."},
                    **_errors(401, 403, 404, 412),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This description. Needs no token.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document.",
                        "content": _json({"type": "object"}),
                    }
                },
            }
        },
    }


def _id_parameter(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": limits.ID_MIN, "maximum": limits.ID_MAX},
    }


def document(site_url: str) -> dict[str, Any]:
    """The whole description, with the server URL this site answers on."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedsvc API",
            "version": "1.0.0",
            "description": (
                "Sections and articles for CMS integrations: the same rules as the editors' "
                "form. JSON in and out (UTF-8); errors are "
                '`{"error", "message", "fields"}`. Every route but this description needs '
                "`Authorization: Bearer <token>` (made in the admin's API tokens page, or with "
                "`flask --app feedsvc create-token USERNAME --scope read|write`); the session "
                "cookie is never accepted. A token acts as its account: an editor's token "
                "changes articles, an admin's also sections. A token with scope `read` may "
                "only read (GET). Articles name the accounts that created and last changed "
                "them. Feeds are rendered in the background: a change reaches them within a "
                "few seconds. Lost updates: an article's GET answers with an ETag naming its "
                "version; a PATCH or DELETE sent with `If-Match: <that ETag>` is refused with "
                "412 if the article was changed meanwhile (without If-Match the last write "
                "wins, so existing integrations keep working)."
            ),
        },
        "servers": [{"url": f"{site_url}{PREFIX}"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token made in the admin (API tokens) or by `flask --app "
                    "feedsvc create-token`; its scope is `read` (GET only) or `write`.",
                }
            },
            "parameters": {
                "SectionId": _id_parameter("section_id"),
                "ArticleId": _id_parameter("article_id"),
            },
            "schemas": schemas(),
            "responses": _responses(),
        },
    }
