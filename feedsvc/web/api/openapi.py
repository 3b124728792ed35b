"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Limits and enumerations come from the modules that enforce them, so the description cannot
drift from the behaviour on those points; tests check that every /api/v1 route is described
and that real responses validate against these schemas.
"""

from __future__ import annotations

from typing import Any

from feedsvc import limits
from feedsvc.content import BODY_MAX_LENGTH
from feedsvc.web.api import views as api

_DATE_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _json(_ref("schemas", "Error")),
    }
    if headers:
        response["headers"] = headers
    return response


def _schemas() -> dict[str, Any]:
    statuses = list(limits.STATUSES)
    return {
        "Error": {
            "type": "object",
            "description": "Every error answer. `fields` maps a request field to a sentence.",
            "required": ["error", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "string",
                    "description": "Machine-readable code.",
                    "enum": sorted({*api.ERROR_CODES.values(), "invalid_token"}),
                },
                "message": {"type": "string", "description": "A full sentence for people."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Per-field sentences (400 wrong types, 409, 422).",
                },
            },
        },
        "SectionRef": {
            "type": "object",
            "required": ["id", "slug", "name"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer"},
                "slug": {"type": "string"},
                "name": {"type": "string"},
            },
        },
        "Section": {
            "type": "object",
            "required": [
                "id",
                "guid",
                "name",
                "slug",
                "description",
                "items_per_feed",
                "url",
                "feeds",
                "created_at",
                "updated_at",
            ],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "guid": {"type": "string", "description": "Permanent feed id (urn:uuid:…)."},
                "name": {"type": "string"},
                "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
                "description": {"type": "string"},
                "items_per_feed": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.ITEMS_PER_FEED_MAX,
                },
                "url": {"type": "string", "format": "uri", "description": "Section page."},
                "feeds": {
                    "type": "object",
                    "required": ["rss", "atom", "json"],
                    "additionalProperties": False,
                    "properties": {
                        fmt: {"type": "string", "format": "uri"} for fmt in ("rss", "atom", "json")
                    },
                },
                "created_at": _DATE_TIME,
                "updated_at": _DATE_TIME,
            },
        },
        "SectionList": {
            "type": "object",
            "required": ["sections"],
            "additionalProperties": False,
            "properties": {"sections": {"type": "array", "items": _ref("schemas", "Section")}},
        },
        "SectionCreate": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "maxLength": 120},
                "slug": {
                    "type": ["string", "null"],
                    "maxLength": 80,
                    "description": "Empty or absent: derived from the name. Unique (409).",
                },
                "description": {"type": ["string", "null"], "maxLength": 2000},
                "items_per_feed": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.ITEMS_PER_FEED_MAX,
                    "default": 50,
                },
            },
        },
        "SectionPatch": {
            "type": "object",
            "description": "Any subset of the writable fields; the others keep their values.",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "maxLength": 120},
                "slug": {"type": ["string", "null"], "maxLength": 80},
                "description": {"type": ["string", "null"], "maxLength": 2000},
                "items_per_feed": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.ITEMS_PER_FEED_MAX,
                },
            },
        },
        "Article": {
            "type": "object",
            "required": [
                "id",
                "guid",
                "url",
                "section",
                "title",
                "body",
                "body_html",
                "summary",
                "summary_source",
                "author",
                "status",
                "publish_at",
                "created_at",
                "updated_at",
            ],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "guid": {
                    "type": "string",
                    "description": "Permanent item id (urn:uuid:…), never changed.",
                },
                "url": {
                    "type": "string",
                    "format": "uri",
                    "description": "The article's permanent page (404 until it is public).",
                },
                "section": _ref("schemas", "SectionRef"),
                "title": {"type": "string"},
                "body": {"type": "string", "description": "The Markdown source."},
                "body_html": {"type": "string", "description": "Sanitised HTML, absolute URLs."},
                "summary": {"type": "string", "description": "Plain text, as the feeds carry it."},
                "summary_source": {
                    "type": "string",
                    "description": "The summary as given; empty when derived from the body.",
                },
                "author": {"type": "string"},
                "status": {"type": "string", "enum": statuses},
                "publish_at": {
                    **_NULLABLE_DATE_TIME,
                    "description": "UTC. A future time schedules a published article.",
                },
                "created_at": _DATE_TIME,
                "updated_at": _DATE_TIME,
            },
        },
        "ArticleList": {
            "type": "object",
            "required": ["articles", "next"],
            "additionalProperties": False,
            "properties": {
                "articles": {"type": "array", "items": _ref("schemas", "Article")},
                "next": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "The next (older) page, or null on the last one.",
                },
            },
        },
        "ArticleCreate": {
            "type": "object",
            "required": ["title", "section", "body"],
            "additionalProperties": False,
            "properties": _article_properties(statuses),
        },
        "ArticlePatch": {
            "type": "object",
            "description": (
                "Any subset of the writable fields (JSON Merge Patch, RFC 7396); the others "
                "keep their values and the guid never changes."
            ),
            "additionalProperties": False,
            "properties": _article_properties(statuses),
        },
    }


def _article_properties(statuses: list[str]) -> dict[str, Any]:
    return {
        "title": {"type": "string", "maxLength": 300},
        "section": {
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
            "description": "The section's id or its slug.",
        },
        "body": {
            "type": "string",
            "maxLength": BODY_MAX_LENGTH,
            "description": "Markdown; blank lines separate paragraphs.",
        },
        "summary": {
            "type": ["string", "null"],
            "maxLength": limits.SUMMARY_MAX,
            "description": "Plain text. Empty or null: taken from the body.",
        },
        "author": {"type": ["string", "null"], "maxLength": 120},
        "publish_at": {
            **_NULLABLE_DATE_TIME,
            "description": (
                "RFC 3339 with an offset (a time without one is refused with 422), between "
                "1970 and 2100. Absent or null: keep the stored time; a published article "
                "without one gets the current time."
            ),
        },
        "status": {"type": "string", "enum": statuses, "default": limits.STATUSES[0]},
    }


def _responses() -> dict[str, Any]:
    www = {
        "WWW-Authenticate": {
            "description": '`Bearer realm="feedsvc"`, with `error="invalid_token"` when a '
            "token was sent but is unknown or revoked (RFC 6750 §3).",
            "schema": {"type": "string"},
        }
    }
    return {
        "BadRequest": _error_response(
            "Malformed JSON, not an object, duplicate keys, a field of the wrong JSON type, or "
            "an unknown field."
        ),
        "Unauthorized": _error_response("No bearer token, or an unknown or revoked one.", www),
        "NotFound": _error_response("No such resource."),
        "Conflict": _error_response("The slug is used by another section."),
        "PayloadTooLarge": _error_response("The request body is larger than 4 MB."),
        "UnsupportedMediaType": _error_response("The body is not application/json (UTF-8)."),
        "Unprocessable": _error_response(
            "Well-formed JSON whose values cannot be stored; `fields` says why, per field. "
            "Nothing was stored."
        ),
    }


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        404: "NotFound",
        409: "Conflict",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        422: "Unprocessable",
    }
    return {str(code): _ref("responses", names[code]) for code in codes}


def _ok(
    description: str, schema: str, *, status: int = 200, location: bool = False
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _json(_ref("schemas", schema)),
    }
    if location:
        response["headers"] = {
            "Location": {
                "description": "The new resource's API URL.",
                "schema": {"type": "string", "format": "uri"},
            }
        }
    return {str(status): response}


def _body(schema: str, *, patch: bool = False) -> dict[str, Any]:
    content = _json(_ref("schemas", schema))
    if patch:
        content["application/merge-patch+json"] = {"schema": _ref("schemas", schema)}
    return {"required": True, "content": content}


def _paths() -> dict[str, Any]:
    section_id = _ref("parameters", "SectionId")
    article_id = _ref("parameters", "ArticleId")
    write = (400, 401, 413, 415, 422)
    return {
        "/sections": {
            "get": {
                "operationId": "listSections",
                "summary": "All sections, by name.",
                "responses": {**_ok("The sections.", "SectionList"), **_errors(401)},
            },
            "post": {
                "operationId": "createSection",
                "summary": "Create a section; its feeds appear within seconds.",
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
                "summary": "Change some of a section's fields.",
                "requestBody": _body("SectionPatch", patch=True),
                "responses": {**_ok("Saved.", "Section"), **_errors(*write, 404, 409)},
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
                            "maximum": api.MAX_LIMIT,
                            "default": api.DEFAULT_LIMIT,
                        },
                    },
                    {
                        "name": "before_id",
                        "in": "query",
                        "description": "Only articles with a smaller id: the cursor `next` uses.",
                        "schema": {"type": "integer", "minimum": 1},
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
                        "content": _json(_ref("schemas", "ArticleList")),
                    },
                    **_errors(400, 401, 404),
                },
            },
            "post": {
                "operationId": "createArticle",
                "summary": "Create an article (published now, scheduled, or a draft).",
                "requestBody": _body("ArticleCreate"),
                "responses": {
                    **_ok("Created.", "Article", status=201, location=True),
                    **_errors(*write),
                },
            },
        },
        "/articles/{article_id}": {
            "parameters": [article_id],
            "get": {
                "operationId": "getArticle",
                "summary": "One article, drafts included.",
                "responses": {**_ok("The article.", "Article"), **_errors(401, 404)},
            },
            "patch": {
                "operationId": "updateArticle",
                "summary": "Change some of an article's fields; the rest keep their values.",
                "requestBody": _body("ArticlePatch", patch=True),
                "responses": {**_ok("Saved.", "Article"), **_errors(*write, 404)},
            },
            "delete": {
                "operationId": "deleteArticle",
                "summary": "Delete an article; it leaves its feeds at the next publishing pass.",
                "responses": {"204": {"description": "Deleted."}, **_errors(401, 404)},
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
                        "content": {"application/json": {"schema": {"type": "object"}}},
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
        "schema": {"type": "integer", "minimum": 1, "maximum": limits.ID_MAX},
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
                "`Authorization: Bearer <token>` (`flask --app feedsvc create-token USERNAME`); "
                "the session cookie is never accepted. Feeds are rendered in the background: a "
                "change reaches them within a few seconds."
            ),
        },
        "servers": [{"url": f"{site_url}{api.PREFIX}"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token made by `flask --app feedsvc create-token`.",
                }
            },
            "parameters": {
                "SectionId": _id_parameter("section_id"),
                "ArticleId": _id_parameter("article_id"),
            },
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }
