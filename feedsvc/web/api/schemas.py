"""The description's JSON Schemas: the answers' shapes, and request bodies from contract.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feedsvc import limits
from feedsvc.web.api.contract import (
    ARTICLE_FIELDS,
    ARTICLE_PATCH_FIELDS,
    ERROR_CODES,
    INSUFFICIENT_SCOPE,
    INVALID_TOKEN,
    SECTION_FIELDS,
    Field,
    Kind,
)

_DATE_TIME = {"type": "string", "format": "date-time"}

_ARTICLE_NOTES = {
    "section": "The section's id or its slug.",
    "body": "Markdown; blank lines separate paragraphs.",
    "summary": "Plain text. Empty or null: taken from the body.",
    "publish_at": (
        "RFC 3339 with an offset (a time without one is refused with 422), between "
        f"{limits.PUBLISH_AT_EARLIEST:%Y-%m-%dT%H:%MZ} and "
        f"{limits.PUBLISH_AT_LATEST:%Y-%m-%dT%H:%MZ}, inclusive. Absent or null: keep the "
        "stored time; a published article without one gets the current time."
    ),
    "correction": (
        "true: a correction readers should see again; the date feeds show as the entry's "
        "updated (revised_at) moves to now. false or absent: a silent fix (a typo, a broken "
        "link) that keeps it. The guid never changes either way."
    ),
}
_ARTICLE_DEFAULTS: dict[str, object] = {"status": limits.STATUS_PUBLISHED}
_ARTICLE_NOTES.update(
    {
        "image_url": "The lead image: an absolute http(s) URL. Empty or null: none.",
        "image_alt": "The image's alt text (plain text); refused without an image_url.",
        "attachment_url": (
            "Audio, video or a document, an absolute http(s) URL: the feeds' enclosure. "
            "Empty or null: none."
        ),
        "attachment_type": (
            "Its media type, type/subtype. Empty or null: taken from the file extension, "
            "else from the scheduler's HEAD request (application/octet-stream when that fails)."
        ),
        "attachment_length": (
            "Its size in bytes. Null: found by the scheduler's HEAD request (0 when that fails)."
        ),
    }
)
# The media fields of the Article answer (encoding.article_json).
_ARTICLE_MEDIA = {
    "image_url": {"type": "string", "description": "The lead image's URL; empty: none."},
    "image_alt": {"type": "string"},
    "attachment_url": {"type": "string", "description": "The enclosure's URL; empty: none."},
    "attachment_type": {
        "type": "string",
        "description": "Its media type; empty while the scheduler has still to find it.",
    },
    "attachment_length": {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "Its size in bytes; null while the scheduler has still to find it "
        "(0: it could not be found).",
    },
}


def ref(kind: str, name: str) -> dict[str, str]:
    """A reference to a component of the description."""
    return {"$ref": f"#/components/{kind}/{name}"}


def field_schema(field: Field) -> dict[str, Any]:
    """A writable field's JSON Schema: its JSON type and the limits the service enforces."""
    if field.kind is Kind.REFERENCE:
        return {"oneOf": [{"type": "integer", "minimum": field.minimum}, {"type": "string"}]}
    if field.kind is Kind.BOOLEAN:
        return {"type": "boolean"}
    if field.kind is Kind.STRING_LIST:
        return {
            "type": ["array", "null"] if field.nullable else "array",
            "items": {"type": "string"},
            "description": "Tags, each becoming a feed category and a feed of its own "
            "(/tags/<slug>/…). Trimmed, inner whitespace collapsed, duplicates (same slug, "
            "any letter case) dropped; at most "
            f"{limits.TAGS_MAX} of at most {limits.TAG_MAX} characters each (else 422). "
            "null or []: no tags.",
        }
    json_type = "integer" if field.kind is Kind.INTEGER else "string"
    schema: dict[str, Any] = {"type": [json_type, "null"] if field.nullable else json_type}
    if field.kind is Kind.DATE_TIME:
        schema["format"] = "date-time"
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    if field.enum is not None:
        schema["enum"] = list(field.enum)
    return schema


def _properties(
    fields: tuple[Field, ...],
    notes: Mapping[str, str] | None = None,
    defaults: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for field in fields:
        schema = field_schema(field)
        if notes and field.name in notes:
            schema["description"] = notes[field.name]
        if defaults and field.name in defaults:
            schema["default"] = defaults[field.name]
        properties[field.name] = schema
    return properties


def schemas() -> dict[str, Any]:
    """The components' schemas: the answers' shapes, and request bodies from contract.py."""
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
                    "enum": sorted({*ERROR_CODES.values(), INVALID_TOKEN, INSUFFICIENT_SCOPE}),
                },
                "message": {"type": "string", "description": "A full sentence for people."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Per-field sentences (400 wrong types, 409, 422; 412: the "
                    "fields sent whose stored values differ).",
                },
                "current": {
                    **ref("schemas", "Article"),
                    "description": "412 only: the article as stored now (its version, who "
                    "changed it and when).",
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
                "id": {"type": "integer", "minimum": limits.ID_MIN},
                "guid": {"type": "string", "description": "Permanent feed id (urn:uuid:…)."},
                "name": {"type": "string"},
                "slug": {"type": "string", "pattern": f"^{limits.SLUG_PATTERN}$"},
                "description": {"type": "string"},
                "items_per_feed": {
                    "type": "integer",
                    "minimum": limits.ITEMS_PER_FEED_MIN,
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
            "properties": {"sections": {"type": "array", "items": ref("schemas", "Section")}},
        },
        "SectionCreate": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": _properties(
                SECTION_FIELDS,
                notes={"slug": "Empty or absent: derived from the name. Unique (409)."},
                defaults={"items_per_feed": limits.ITEMS_PER_FEED_DEFAULT},
            ),
        },
        "SectionPatch": {
            "type": "object",
            "description": "Any subset of the writable fields; the others keep their values.",
            "additionalProperties": False,
            "properties": _properties(SECTION_FIELDS),
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
                "tags",
                "status",
                "publish_at",
                "created_at",
                "updated_at",
                "revised_at",
                "created_by",
                "updated_by",
                "version",
                *_ARTICLE_MEDIA,
            ],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": limits.ID_MIN},
                "guid": {
                    "type": "string",
                    "description": "Permanent item id (urn:uuid:…), never changed.",
                },
                "url": {
                    "type": "string",
                    "format": "uri",
                    "description": "The article's permanent page (404 until it is public).",
                },
                "section": ref("schemas", "SectionRef"),
                "title": {"type": "string"},
                "body": {"type": "string", "description": "The Markdown source."},
                "body_html": {"type": "string", "description": "Sanitised HTML, absolute URLs."},
                "summary": {"type": "string", "description": "Plain text, as the feeds carry it."},
                "summary_source": {
                    "type": "string",
                    "description": "The summary as given; empty when derived from the body.",
                },
                "author": {
                    "type": "string",
                    "description": "Free text; each distinct author has a page and feeds "
                    "(/authors/<slug>/…).",
                },
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Normalised, in the order given; names as first stored.",
                },
                "status": {"type": "string", "enum": statuses},
                "publish_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "UTC. A future time schedules a published article.",
                },
                "created_at": _DATE_TIME,
                "updated_at": {**_DATE_TIME, "description": "When it was last saved."},
                "revised_at": {
                    **_DATE_TIME,
                    "description": "The date feeds show as the entry's updated: moved by a "
                    "correction (PATCH with correction: true), kept by a silent fix.",
                },
                "created_by": {
                    "type": ["string", "null"],
                    "description": "The username of the account that created the article (in "
                    "the admin, or through the API with its token); null when unknown.",
                },
                "updated_by": {
                    "type": ["string", "null"],
                    "description": "The username of the account that last changed it; null "
                    "when unknown.",
                },
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Moves on by one with every save. The ETag header names it; "
                    "send it back in If-Match so that a change made meanwhile is not lost.",
                },
                **_ARTICLE_MEDIA,
            },
        },
        "ArticleList": {
            "type": "object",
            "required": ["articles", "next"],
            "additionalProperties": False,
            "properties": {
                "articles": {"type": "array", "items": ref("schemas", "Article")},
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
            "properties": _properties(
                ARTICLE_FIELDS, notes=_ARTICLE_NOTES, defaults=_ARTICLE_DEFAULTS
            ),
        },
        "ArticlePatch": {
            "type": "object",
            "description": (
                "Any subset of the writable fields (JSON Merge Patch, RFC 7396); the others "
                "keep their values and the guid never changes."
            ),
            "additionalProperties": False,
            "properties": _properties(
                ARTICLE_PATCH_FIELDS,
                notes=_ARTICLE_NOTES,
                defaults={**_ARTICLE_DEFAULTS, "correction": False},
            ),
        },
    }
