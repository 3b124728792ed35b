"""The /articles routes: list a page, create, read, change and delete articles.

Each route translates only: JSON in → the articles service's input → JSON out, and the
service's typed errors → 404/422 with one sentence per field, under the API's field names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from feedsvc import articles as service
from feedsvc import limits, search
from feedsvc.content.text import clean_text
from feedsvc.errors import NotFound, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article, Section
from feedsvc.web.api import parsing, preconditions
from feedsvc.web.api.contract import (
    ARTICLE_FIELDS,
    ARTICLE_PATCH_FIELDS,
    ARTICLE_SERVICE_NAMES,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    TIME_EXAMPLE,
    Field,
    Kind,
)
from feedsvc.web.api.encoding import api_url, article_json, json_response, site
from feedsvc.web.api.errors import ApiError, not_found, refused

# The form offers the statuses by their labels; the API takes their JSON values.
_STATUS_MESSAGE = f"Status must be {' or '.join(f'“{s}”' for s in limits.STATUSES)}."


@dataclasses.dataclass(frozen=True)
class _Sent:
    """A write's typed fields as ArticleInput keyword arguments, and what the API knows of
    them that the service cannot: which section reference was sent, whether a time was naive."""

    changes: dict[str, Any]  # typed by parsing; Any for dataclasses.replace
    section_message: str


def _article_or_404(session: Session, article_id: int, *, lock: bool = False) -> Article:
    if not limits.valid_id(article_id):
        raise not_found("article", article_id)
    if lock:
        # Read-modify-write: hold the row (PostgreSQL) so two PATCHes cannot interleave.
        article = session.get(Article, article_id, with_for_update=True)
        if article is None:
            raise not_found("article", article_id)
    try:
        return service.get_article(session, article_id)
    except NotFound:
        raise not_found("article", article_id) from None


def _resolve_section(session: Session, ref: int | str) -> tuple[int, str]:
    """A section id for the service (0 when none matches) and the sentence for that case."""
    if isinstance(ref, int):
        found = ref if limits.valid_id(ref) and session.get(Section, ref) is not None else None
        return found or 0, f"There is no section with the id {ref}."
    slug = clean_text(ref).strip().lower()
    section_id = session.scalar(select(Section.id).where(Section.slug == slug))
    return section_id or 0, f"There is no section with the slug “{slug}”."


def _read(
    session: Session, data: dict[str, Any], accepted: tuple[Field, ...] = ARTICLE_FIELDS
) -> _Sent:
    """The request body's present fields, typed, as ArticleInput keyword arguments."""
    values = parsing.fields(data, accepted)
    changes: dict[str, Any] = {}
    # Plain strings go to the service field of the same name; the others need the API's help.
    for field in ARTICLE_FIELDS:
        if field.kind in (Kind.STRING, Kind.STRING_LIST) and field.name in values:
            changes[field.name] = values[field.name]
        elif field.kind is Kind.INTEGER and field.name in values:  # attachment_length
            changes[field.name] = values[field.name] if values[field.name] != "" else None
    publish_at = values.get("publish_at")
    if isinstance(publish_at, str) and publish_at:
        # null or "" keep the stored time (or "now" for a new published article)
        changes["publish_at"] = parsing.date_time("publish_at", publish_at)
    message = "Give the article a section: its id or its slug."
    section = values.get("section")
    if isinstance(section, int | str):  # a REFERENCE: parsing gives nothing else
        changes["section_id"], message = _resolve_section(session, section)
    return _Sent(changes, message)


def _save(save: Callable[[], Article], sent: _Sent) -> Article:
    """Run a service call; a refusal is 422 with the service's sentences by the API's names.

    Where the API knows more than the service (the section reference it resolved, the JSON
    spelling of a status, a time sent without an offset), its own sentence says so.
    """
    try:
        return save()
    except service.ArticleConflict as exc:
        # Saved by someone else between the If-Match check and the save.
        raise preconditions.precondition_failed(exc.current, sent.changes) from None
    except ValidationError as exc:
        own = {"section": sent.section_message, "status": _STATUS_MESSAGE}
        when = sent.changes.get("publish_at")
        fields: dict[str, str] = {}
        for key, message in exc.errors.items():
            name = ARTICLE_SERVICE_NAMES.get(key, key)
            fields[name] = own.get(name, message)
        if "publish_at" in fields and isinstance(when, datetime) and when.tzinfo is None:
            fields["publish_at"] += f" Give the offset, {TIME_EXAMPLE}."
        raise refused(exc, fields) from None


def _base_url() -> str:
    return site() + "/"


def list_articles() -> Response:
    """GET /articles: newest first, a page at a time (?section, ?status, ?q, ?limit, ?before_id)."""
    session = get_session()
    args = request.args
    problems: dict[str, str] = {}
    query = select(Article).options(*service.WITH_PEOPLE)
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
        if status not in limits.STATUSES:
            problems["status"] = "status must be “published” or “draft”."
        query = query.where(Article.status == status)
        wanted["status"] = status
    if "q" in args:
        text = args["q"]
        found = search.matching(session, text) if len(text) <= limits.SEARCH_MAX else None
        if found is None:
            problems["q"] = (
                f"q must hold a word (letters or digits) in at most {limits.SEARCH_MAX} characters."
            )
        else:
            query = query.where(found)
            wanted["q"] = text
    limit = parsing.query_int("limit", 1, MAX_LIMIT, problems)
    before = parsing.query_int("before_id", limits.ID_MIN, limits.ID_MAX, problems)
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
        next_url = api_url(
            "articles", {**wanted, "limit": str(limit), "before_id": str(page[-1].id)}
        )
        headers["Link"] = f'<{next_url}>; rel="next"'
    return json_response(
        {"articles": [article_json(a) for a in page], "next": next_url}, headers=headers
    )


def create_article() -> Response:
    """POST /articles"""
    data = parsing.body()
    session = get_session()
    sent = _read(session, data)
    given = dataclasses.replace(
        service.ArticleInput(title="", section_id=0, body=""), **sent.changes
    )
    article = _save(
        lambda: service.create_article(session, given, base_url=_base_url(), by=g.api_user_id),
        sent,
    )
    payload = article_json(article)
    session.commit()
    response = json_response(payload, 201, {"Location": api_url(f"articles/{article.id}")})
    return preconditions.with_etag(response, article)


def get_article(article_id: int) -> Response:
    """GET /articles/<id>, drafts included, with its version's ETag."""
    article = _article_or_404(get_session(), article_id)
    return preconditions.with_etag(json_response(article_json(article)), article)


def _sent_anyway(session: Session) -> dict[str, Any]:
    """A PATCH's fields for a 412's list of differences; a body that cannot be read has none."""
    try:
        return _read(session, parsing.body(patch=True), ARTICLE_PATCH_FIELDS).changes
    except ApiError:
        return {}


def patch_article(article_id: int) -> Response:
    """PATCH /articles/<id>: the fields given change, the others keep their values."""
    session = get_session()
    stored = _article_or_404(session, article_id, lock=True)
    # If-Match before the body is read (RFC 9110 §13.2.2); the row is locked, and the save
    # checks the version again in its UPDATE.
    expected = preconditions.expected_version(stored, lambda: _sent_anyway(session))
    patch = parsing.body(patch=True)
    sent = _read(session, patch, ARTICLE_PATCH_FIELDS)
    # Unspecified fields keep their values: the full input is the stored article + the patch,
    # in the editor's own terms (Markdown source, own summary), as the edit form does.
    current = service.input_of(stored)
    data = dataclasses.replace(current, **sent.changes)
    article = _save(
        lambda: service.update_article(
            session,
            article_id,
            data,
            base_url=_base_url(),
            by=g.api_user_id,
            expected_version=expected,
            correction=patch.get("correction") is True,
        ),
        sent,
    )
    session.refresh(article, ["section", "updated_by"])
    payload = article_json(article)
    session.commit()
    return preconditions.with_etag(json_response(payload), article)


def delete_article(article_id: int) -> Response:
    """DELETE /articles/<id>, with If-Match: only the version the client has seen."""
    session = get_session()
    expected = preconditions.expected_version(_article_or_404(session, article_id))
    try:
        service.delete_article(session, article_id, expected_version=expected)
    except NotFound:
        raise not_found("article", article_id) from None
    except service.ArticleConflict as exc:
        raise preconditions.precondition_failed(exc.current) from None
    session.commit()
    return Response(status=204)
