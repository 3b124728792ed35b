"""The JSON API for CMS integrations: /api/v1/…, bearer tokens, the same services as the form.

This module only translates: JSON in → the services' input dataclasses → JSON out, and the
services' ValidationError → 422 with one message per field. It never validates content
itself (titles, bodies, slugs, ranges are the services' job, exactly as for the admin form);
what it does check is what only the JSON edge can get wrong: content type, size, syntax,
JSON types, unknown fields, and the syntax of RFC 3339 times.

The session cookie never authenticates here: every route except the OpenAPI description
needs `Authorization: Bearer <token>`, and the blueprint is exempt from CSRF because no
ambient credential (cookie) is ever honoured.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, joinedload
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from feedsvc import articles, sections, tokens, urls
from feedsvc.content import clean_text
from feedsvc.errors import NotFound, ValidationError
from feedsvc.limits import ID_MAX, ID_MIN, STATUSES, valid_id
from feedsvc.storage.db import database, get_session, transaction
from feedsvc.storage.models import Article, Section, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"  # RFC 7396: what PATCH here means
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Plain int (not int(min=, max=)): Werkzeug answers a converter's refusal with its own 404
# before our fallback could; out-of-range ids are refused in the views instead.
_ID = "int"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")
_FALLBACK = "api.fallback"
REALM = 'Bearer realm="feedsvc"'

SECTION_FIELDS = ("name", "slug", "description", "items_per_feed")
ARTICLE_FIELDS = ("title", "section", "body", "summary", "author", "publish_at", "status")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    500: "internal_error",
}


class ApiError(Exception):
    """An error answer: status, a machine-readable code, a sentence, per-field sentences."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


# --- output ----------------------------------------------------------------------------------


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


def _error_response(exc: ApiError) -> Response:
    payload = {"error": exc.code, "message": exc.message, "fields": exc.fields}
    return json_response(payload, exc.status, exc.headers)


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _site() -> str:
    site: str = current_app.config["SITE_URL"]
    return site


def _api_url(path: str, query: dict[str, str] | None = None) -> str:
    url = urls.absolute(_site(), f"{PREFIX}/{path.lstrip('/')}")
    return f"{url}?{urlencode(query)}" if query else url


def section_json(section: Section) -> dict[str, Any]:
    site = _site()
    return {
        "id": section.id,
        "guid": section.guid,
        "name": section.name,
        "slug": section.slug,
        "description": section.description,
        "items_per_feed": section.items_per_feed,
        "url": urls.section_page_url(site, section.slug),
        "feeds": {
            fmt: urls.absolute(site, urls.section_doc_path(section.slug, fmt))
            for fmt in urls.FEED_FILES
        },
        "created_at": _rfc3339(section.created_at),
        "updated_at": _rfc3339(section.updated_at),
    }


def article_json(article: Article) -> dict[str, Any]:
    section = article.section
    return {
        "id": article.id,
        "guid": article.guid,
        "url": urls.article_url(_site(), article.id),
        "section": {"id": section.id, "slug": section.slug, "name": section.name},
        "title": article.title,
        "body": article.body_source,
        "body_html": article.body_html,
        "summary": article.summary,
        "summary_source": article.summary_source,
        "author": article.author,
        "status": article.status,
        "publish_at": _rfc3339(article.publish_at),
        "created_at": _rfc3339(article.created_at),
        "updated_at": _rfc3339(article.updated_at),
    }


# --- errors ----------------------------------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _error_response(exc)


def _http_message(exc: HTTPException) -> str:
    if exc.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return (
            f"The request body is larger than the {limit // (1024 * 1024)} MB this API accepts; "
            "nothing was saved."
        )
    return exc.description or exc.name


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return _error_response(ApiError(code, _http_message(exc), headers=headers))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _error_response(ApiError(500, "Something went wrong on our side. The error was logged."))


def _unprocessable(exc: ValidationError, renames: dict[str, str] | None = None) -> ApiError:
    renames = renames or {}
    fields = {renames.get(key, key): message for key, message in exc.errors.items()}
    noun = "field" if len(fields) == 1 else "fields"
    return ApiError(
        422,
        f"The request could not be saved: fix the {noun} named in “fields”. Nothing was saved.",
        fields,
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.path != OPENAPI_PATH:
        # Answers depend on the token; no shared cache may keep them.
        response.headers["Cache-Control"] = "no-store"
    return response


# --- authentication --------------------------------------------------------------------------


@bp.before_request
def _require_token() -> None:
    """Bearer token (RFC 6750) on every route but the OpenAPI description; never the cookie."""
    if request.path == OPENAPI_PATH:
        return
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        # RFC 6750 §3.1: a request without credentials gets no error code.
        raise ApiError(
            401,
            "This API needs a token: send “Authorization: Bearer <token>” "
            "(an operator makes one with “flask --app feedsvc create-token USERNAME”).",
            headers={"WWW-Authenticate": REALM},
        )
    # A short read session of its own: a request without a valid token never touches the
    # request's session (for writes on SQLite, that would take the write lock).
    with database(current_app).reader() as lookup:
        token = tokens.find_token(lookup, credentials)
    if token is None:
        raise ApiError(
            401,
            "The token is not valid: it is mistyped, unknown or revoked.",
            headers={
                "WWW-Authenticate": f'{REALM}, error="invalid_token", '
                'error_description="The token is unknown or revoked."'
            },
            code="invalid_token",
        )
    g.api_token_id = token.id
    g.api_user_id = token.user_id
    now = utcnow()
    if tokens.needs_touch(token, now):
        _touch(token.id, now)


def _touch(token_id: int, now: datetime) -> None:
    """Record last use (at most once a minute; best effort: a failure never fails the call)."""
    statement = tokens.touch_statement(token_id, now)
    session = get_session()
    try:
        if request.method in _SAFE:
            # The request's session reads only; a short write transaction of its own.
            with transaction(current_app) as s:
                s.execute(statement)
        else:
            # The request's session is the writer (SQLite: it may hold the write lock already,
            # from loading a cookie's user), so write here and commit before the view runs.
            session.execute(statement)
            session.commit()
    except SQLAlchemyError:
        session.rollback()
        current_app.logger.warning("could not record API token %s use", token_id, exc_info=True)


# --- request bodies --------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _body(*, patch: bool = False) -> dict[str, Any]:
    """The request's JSON object, or an ApiError (415, 413, 400)."""
    accepted = [JSON, MERGE_PATCH] if patch else [JSON]
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in accepted or charset not in ("utf-8", "utf8"):
        header = "Accept-Patch" if patch else "Accept-Post"
        raise ApiError(
            415,
            f"Send the request body as {' or '.join(accepted)} (UTF-8), with that Content-Type.",
            headers={header: ", ".join(accepted)},
        )
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not UTF-8; JSON must be UTF-8.") from None
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey as exc:
        raise ApiError(
            400, f"The key “{exc.args[0]}” appears twice in one object; send it once."
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}.",
        ) from None
    except RecursionError:
        raise ApiError(400, "The JSON is nested too deeply.") from None
    except ValueError:  # NaN/Infinity, or an integer with thousands of digits
        raise ApiError(
            400, "The request body is not valid JSON: it has an invalid number."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, 'The request body must be a JSON object, like {"name": "…"}.')
    return data


class _Reader:
    """Take typed fields out of a JSON object, collecting type errors (400) per field."""

    def __init__(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}
        for key in data:
            if key not in allowed:
                self.errors[key] = (
                    f"Unknown field. The fields you can send are: {', '.join(allowed)}."
                )

    def text(self, name: str, *, nullable: bool = False) -> str | None:
        """The string; "" for null when nullable; None when absent or of the wrong type."""
        if name not in self.data:
            return None
        value = self.data[name]
        if value is None and nullable:
            return ""
        if not isinstance(value, str):
            self.errors[name] = f"“{name}” must be a string{' or null' if nullable else ''}."
            return None
        return value

    def integer(self, name: str) -> int | None:
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[name] = f"“{name}” must be an integer."
            return None
        return value

    def reference(self, name: str) -> int | str | None:
        """An id (integer) or a slug (string)."""
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.errors[name] = f"“{name}” must be a section id (an integer) or slug (a string)."
            return None
        return value

    def check(self) -> None:
        if self.errors:
            noun = "field" if len(self.errors) == 1 else "fields"
            raise ApiError(
                400,
                f"The request has the wrong {noun}: see “fields”. Nothing was saved.",
                self.errors,
            )


# RFC 3339 §5.6 date-time; the offset is optional here only so that a missing one gets its
# own message (from the articles service) instead of "bad format". ASCII digits only.
_DATE_TIME = re.compile(
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?\Z"
)
TIME_EXAMPLE = "like 2026-11-28T14:30:00Z or 2026-11-28T15:30:00+01:00"


def _parse_time(text: str) -> datetime:
    """An RFC 3339 date-time; naive when the offset is missing (the service refuses those)."""
    match = _DATE_TIME.fullmatch(text.strip())
    if match is None:
        raise ApiError(
            422,
            "“publish_at” is not an RFC 3339 date and time.",
            {
                "publish_at": f"Publish at must be an RFC 3339 date and time with an offset, "
                f"{TIME_EXAMPLE}."
            },
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or ".")[1:7].ljust(6, "0")
    try:
        zone: timezone | None = None
        if match.group(8):
            zone = UTC
        elif match.group(9):
            hours, minutes = int(match.group(10)), int(match.group(11))
            if minutes > 59:
                raise ValueError("offset minutes")
            offset = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-offset if match.group(9) == "-" else offset)  # < 24 h, or ValueError
        return datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
    except ValueError:
        raise ApiError(
            422,
            "“publish_at” is not a real date and time.",
            {"publish_at": f"Publish at is not a real date and time; use one {TIME_EXAMPLE}."},
        ) from None


# --- fallbacks: 404 and 405 in this API's format ---------------------------------------------

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _allowed_methods() -> set[str]:
    """Methods other rules accept at this path (Werkzeug would say 405 without our fallback)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed: set[str] = set()
    for method in _PROBED:
        try:
            rule, _args = adapter.match(request.path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != _FALLBACK:
            allowed |= rule.methods or set()
    return allowed


@bp.route("/", methods=_ALL_METHODS, endpoint="fallback")
@bp.route("/<path:rest>", methods=_ALL_METHODS, endpoint="fallback")
def _fallback(rest: str = "") -> NoReturn:
    allowed = _allowed_methods()
    if allowed:
        raise ApiError(
            405,
            f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}.",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    raise ApiError(
        404,
        f"There is nothing at this address. The API is described at {_api_url('openapi.json')}.",
    )


# --- the description -------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    from feedsvc.web.api.openapi import document

    response = json_response(document(_site()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- sections --------------------------------------------------------------------------------


def _section_or_404(session: Session, section_id: int, *, lock: bool = False) -> Section:
    section = (
        session.get(Section, section_id, with_for_update=lock or None)
        if valid_id(section_id)
        else None
    )
    if section is None:
        raise ApiError(404, f"There is no section with the id {section_id}.")
    return section


def _section_changes(data: dict[str, Any]) -> dict[str, Any]:
    reader = _Reader(data, SECTION_FIELDS)
    changes: dict[str, Any] = {
        "name": reader.text("name"),
        "slug": reader.text("slug", nullable=True),
        "description": reader.text("description", nullable=True),
        "items_per_feed": reader.integer("items_per_feed"),
    }
    reader.check()
    return {k: v for k, v in changes.items() if v is not None}


_SLUG_IN_USE = re.compile(r"\AThe slug .* is already used by another section\.\Z", re.S)


def _save_section(save: Callable[[], Section]) -> Section:
    """Run a section service call; a slug clash alone is 409, other field errors are 422."""
    session = get_session()
    try:
        return save()
    except ValidationError as exc:
        clash = {k: m for k, m in exc.errors.items() if _SLUG_IN_USE.fullmatch(m)}
        if clash and len(clash) == len(exc.errors):
            raise ApiError(
                409, "That slug is in use by another section; choose another.", exc.errors
            ) from None
        raise _unprocessable(exc) from None
    except IntegrityError:
        # Two requests creating the same slug at once: the unique index decides.
        session.rollback()
        raise ApiError(
            409,
            "That slug is in use by another section; choose another.",
            {"slug": "The slug is already used by another section."},
        ) from None


@bp.get("/sections")
def list_sections() -> Response:
    found = sections.list_sections(get_session())
    return json_response({"sections": [section_json(s) for s in found]})


@bp.post("/sections")
def create_section() -> Response:
    changes = _section_changes(_body())
    session = get_session()
    section = _save_section(
        lambda: sections.create_section(session, sections.SectionInput(**{"name": "", **changes}))
    )
    payload = section_json(section)
    session.commit()
    return json_response(payload, 201, {"Location": _api_url(f"sections/{section.id}")})


@bp.get(f"/sections/<{_ID}:section_id>")
def get_section(section_id: int) -> Response:
    return json_response(section_json(_section_or_404(get_session(), section_id)))


@bp.patch(f"/sections/<{_ID}:section_id>")
def patch_section(section_id: int) -> Response:
    session = get_session()
    stored = _section_or_404(session, section_id, lock=True)
    changes = _section_changes(_body(patch=True))
    current = sections.SectionInput(
        name=stored.name,
        slug=stored.slug,
        description=stored.description,
        items_per_feed=stored.items_per_feed,
    )
    data = dataclasses.replace(current, **changes)
    section = _save_section(lambda: sections.update_section(session, section_id, data))
    payload = section_json(section)
    session.commit()
    return json_response(payload)


# --- articles --------------------------------------------------------------------------------


def _article_or_404(session: Session, article_id: int, *, lock: bool = False) -> Article:
    if not valid_id(article_id):
        raise ApiError(404, f"There is no article with the id {article_id}.")
    if lock:
        # Read-modify-write: hold the row (PostgreSQL) so two PATCHes cannot interleave.
        article = session.get(Article, article_id, with_for_update=True)
        if article is None:
            raise ApiError(404, f"There is no article with the id {article_id}.")
    try:
        return articles.get_article(session, article_id)
    except NotFound:
        raise ApiError(404, f"There is no article with the id {article_id}.") from None


def _resolve_section(session: Session, ref: int | str) -> tuple[int, str]:
    """A section id for the service (0 when none matches) and the sentence for that case."""
    if isinstance(ref, int):
        found = ref if valid_id(ref) and session.get(Section, ref) is not None else None
        return found or 0, f"There is no section with the id {ref}."
    slug = clean_text(ref).strip().lower()
    section_id = session.scalar(select(Section.id).where(Section.slug == slug))
    return section_id or 0, f"There is no section with the slug “{slug}”."


def _article_changes(session: Session, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Typed, present fields as ArticleInput keyword arguments, and the section sentence."""
    reader = _Reader(data, ARTICLE_FIELDS)
    title = reader.text("title")
    ref = reader.reference("section")
    body = reader.text("body")
    summary = reader.text("summary", nullable=True)
    author = reader.text("author", nullable=True)
    publish_at = reader.text("publish_at", nullable=True)
    status = reader.text("status")
    reader.check()
    changes: dict[str, Any] = {}
    for name, value in (("title", title), ("body", body), ("summary", summary)):
        if value is not None:
            changes[name] = value
    if author is not None:
        changes["author"] = author
    if status is not None:
        changes["status"] = status
    if publish_at:  # null or "" keep the stored time (or "now" for a new published article)
        changes["publish_at"] = _parse_time(publish_at)
    hint = "Give the article a section: its id or its slug."
    if ref is not None:
        changes["section_id"], hint = _resolve_section(session, ref)
    return changes, hint


def _save_article(save: Callable[[], Article], changes: dict[str, Any], hint: str) -> Article:
    try:
        return save()
    except ValidationError as exc:
        error = _unprocessable(exc, {"section_id": "section"})
        if "section" in error.fields:
            error.fields["section"] = hint
        if "status" in error.fields:
            error.fields["status"] = "Status must be “published” or “draft”."
        when = changes.get("publish_at")
        if "publish_at" in error.fields and isinstance(when, datetime) and when.tzinfo is None:
            error.fields["publish_at"] += f" Give the offset, {TIME_EXAMPLE}."
        raise error from None


def _base_url() -> str:
    return _site() + "/"


@bp.get("/articles")
def list_articles() -> Response:
    session = get_session()
    args = request.args
    problems: dict[str, str] = {}
    query = select(Article).options(joinedload(Article.section))
    wanted: dict[str, str] = {}
    if "section" in args:
        slug = clean_text(args["section"]).strip().lower()
        section_id = session.scalar(select(Section.id).where(Section.slug == slug))
        if section_id is None:
            raise ApiError(404, f"There is no section with the slug “{slug}”.")
        query = query.where(Article.section_id == section_id)
        wanted["section"] = slug
    if "status" in args:
        status = args["status"]
        if status not in STATUSES:
            problems["status"] = "status must be “published” or “draft”."
        query = query.where(Article.status == status)
        wanted["status"] = status
    limit = _query_int("limit", 1, MAX_LIMIT, problems)
    before = _query_int("before_id", ID_MIN, ID_MAX, problems)
    if problems:
        raise ApiError(400, "Some query parameters are wrong: see “fields”.", problems)
    limit = limit or DEFAULT_LIMIT
    if before is not None:
        query = query.where(Article.id < before)
    # Newest first by id: creation order, stable under edits, and a cursor that never skips.
    rows = list(session.scalars(query.order_by(Article.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    headers: dict[str, str] = {}
    next_url = None
    if more:
        next_url = _api_url(
            "articles", {**wanted, "limit": str(limit), "before_id": str(page[-1].id)}
        )
        headers["Link"] = f'<{next_url}>; rel="next"'
    return json_response(
        {"articles": [article_json(a) for a in page], "next": next_url}, headers=headers
    )


def _query_int(name: str, low: int, high: int, problems: dict[str, str]) -> int | None:
    text = request.args.get(name)
    if text is None:
        return None
    if re.fullmatch(r"[0-9]{1,10}", text) and low <= int(text) <= high:
        return int(text)
    problems[name] = f"{name} must be a whole number from {low} to {high}."
    return None


@bp.post("/articles")
def create_article() -> Response:
    data = _body()
    session = get_session()
    changes, hint = _article_changes(session, data)
    given = {"title": "", "section_id": 0, "body": "", **changes}
    article = _save_article(
        lambda: articles.create_article(
            session, articles.ArticleInput(**given), base_url=_base_url()
        ),
        changes,
        hint,
    )
    payload = article_json(article)
    session.commit()
    return json_response(payload, 201, {"Location": _api_url(f"articles/{article.id}")})


@bp.get(f"/articles/<{_ID}:article_id>")
def get_article(article_id: int) -> Response:
    return json_response(article_json(_article_or_404(get_session(), article_id)))


@bp.patch(f"/articles/<{_ID}:article_id>")
def patch_article(article_id: int) -> Response:
    session = get_session()
    stored = _article_or_404(session, article_id, lock=True)
    changes, hint = _article_changes(session, _body(patch=True))
    # Unspecified fields keep their values: the full input is the stored article + the patch,
    # in the editor's own terms (Markdown source, own summary), as the edit form does.
    current = articles.ArticleInput(
        title=stored.title,
        section_id=stored.section_id,
        body=stored.body_source,
        summary=stored.summary_source,
        author=stored.author,
        publish_at=stored.publish_at,
        status=stored.status,
    )
    data = dataclasses.replace(current, **changes)
    article = _save_article(
        lambda: articles.update_article(session, article_id, data, base_url=_base_url()),
        changes,
        hint,
    )
    session.refresh(article, ["section"])
    payload = article_json(article)
    session.commit()
    return json_response(payload)


@bp.delete(f"/articles/<{_ID}:article_id>")
def delete_article(article_id: int) -> Response:
    session = get_session()
    _article_or_404(session, article_id)
    try:
        articles.delete_article(session, article_id)
    except NotFound:
        raise ApiError(404, f"There is no article with the id {article_id}.") from None
    session.commit()
    return Response(status=204)
