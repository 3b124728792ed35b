"""What the API accepts: paths, media types, page sizes, and each resource's writable fields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from feedsvc import limits

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"  # RFC 7396: what PATCH here means

# Pages of GET /articles.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# The machine-readable codes of error answers, by status.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
# RFC 6750 §3.1: the code of a 401 for a token that was sent but is unknown, revoked or
# expired (or whose account is disabled), and of a 403 for a token whose scope is too small
# (a read-only token sent with a write).
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"

# An RFC 3339 date-time as the messages show it.
TIME_EXAMPLE = "like 2026-11-28T14:30:00Z or 2026-11-28T15:30:00+01:00"


class Kind(Enum):
    """A field's JSON type, as parsing checks it and the description states it."""

    STRING = "string"
    INTEGER = "integer"
    DATE_TIME = "date-time"  # a string, RFC 3339 §5.6
    REFERENCE = "reference"  # a section: its id (integer) or its slug (string)
    BOOLEAN = "boolean"
    STRING_LIST = "string-list"  # an array of strings (null: empty)


@dataclass(frozen=True)
class Field:
    """One writable field: its JSON type and the limits the service enforces on its value."""

    name: str
    kind: Kind
    nullable: bool = False  # null is accepted and means "empty"
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None


SECTION_FIELDS = (
    Field("name", Kind.STRING, max_length=limits.SECTION_NAME_MAX),
    Field("slug", Kind.STRING, nullable=True, max_length=limits.SLUG_MAX),
    Field("description", Kind.STRING, nullable=True, max_length=limits.DESCRIPTION_MAX),
    Field(
        "items_per_feed",
        Kind.INTEGER,
        minimum=limits.ITEMS_PER_FEED_MIN,
        maximum=limits.ITEMS_PER_FEED_MAX,
    ),
)

ARTICLE_FIELDS = (
    Field("title", Kind.STRING, max_length=limits.TITLE_MAX),
    Field("section", Kind.REFERENCE, minimum=limits.ID_MIN),
    Field("body", Kind.STRING, max_length=limits.BODY_MAX),
    Field("summary", Kind.STRING, nullable=True, max_length=limits.SUMMARY_MAX),
    Field("author", Kind.STRING, nullable=True, max_length=limits.AUTHOR_MAX),
    Field("publish_at", Kind.DATE_TIME, nullable=True),
    Field("status", Kind.STRING, enum=limits.STATUSES),
    *(
        Field("image_url", Kind.STRING, nullable=True, max_length=limits.MEDIA_URL_MAX),
        Field("image_alt", Kind.STRING, nullable=True, max_length=limits.IMAGE_ALT_MAX),
        Field("attachment_url", Kind.STRING, nullable=True, max_length=limits.MEDIA_URL_MAX),
        Field("attachment_type", Kind.STRING, nullable=True, max_length=limits.MEDIA_TYPE_MAX),
        Field(
            "attachment_length",
            Kind.INTEGER,
            nullable=True,
            minimum=0,
            maximum=limits.ATTACHMENT_LENGTH_MAX,
        ),
    ),
    # Normalised by the service (feedsvc/topics.py): trimmed, duplicates dropped, at most
    # TAGS_MAX of at most TAG_MAX characters each.
    Field("tags", Kind.STRING_LIST, nullable=True),
)

# A change's kind, not a stored field: true moves the date feeds show as the entry's updated
# (a correction readers should see again); false or absent keeps it (a silent fix).
ARTICLE_PATCH_FIELDS = (*ARTICLE_FIELDS, Field("correction", Kind.BOOLEAN))

# The articles service names the section by its id; the API's field is "section" (an id or a
# slug). Its errors are reported under the API's name.
ARTICLE_SERVICE_NAMES = {"section_id": "section"}


def names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    """The fields' names, in the order the API lists them."""
    return tuple(field.name for field in fields)
