"""The /sections routes: list, create, read and change sections through the sections service."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from feedsvc import limits, sectionhistory
from feedsvc import sections as service
from feedsvc.content.text import clean_text
from feedsvc.errors import SlugInUse, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Section
from feedsvc.web.api import parsing
from feedsvc.web.api.bearer import require_admin
from feedsvc.web.api.contract import SECTION_FIELDS
from feedsvc.web.api.encoding import api_url, json_response, section_json
from feedsvc.web.api.errors import ApiError, not_found, refused


def _section_or_404(session: Session, section_id: int, *, lock: bool = False) -> Section:
    section = (
        session.get(Section, section_id, with_for_update=lock or None)
        if limits.valid_id(section_id)
        else None
    )
    if section is None:
        raise not_found("section", section_id)
    return section


def _save(save: Callable[[], Section]) -> Section:
    """Run a service call; its typed errors become 409 (slug in use) or 422."""
    session = get_session()
    try:
        return save()
    except ValidationError as exc:
        raise refused(exc) from None
    except IntegrityError:
        # Two requests creating the same slug at once: the unique index decides.
        session.rollback()
        raise refused(SlugInUse({"slug": "The slug is already used by another section."})) from None


def list_sections() -> Response:
    """GET /sections"""
    found = service.list_sections(get_session())
    return json_response({"sections": [section_json(s) for s in found]})


def create_section() -> Response:
    """POST /sections (an admin's token)"""
    require_admin()
    # Typed by parsing; Any for dataclasses.replace, which checks each keyword's type.
    changes: dict[str, Any] = dict(parsing.fields(parsing.body(), SECTION_FIELDS))
    session = get_session()
    data = dataclasses.replace(service.SectionInput(name=""), **changes)
    section = _save(lambda: service.create_section(session, data))
    payload = section_json(section)
    session.commit()
    return json_response(payload, 201, {"Location": api_url(f"sections/{section.id}")})


def get_section(section_id: int) -> Response:
    """GET /sections/<id>"""
    return json_response(section_json(_section_or_404(get_session(), section_id)))


def patch_section(section_id: int) -> Response:
    """PATCH /sections/<id> (an admin's token): the fields given change, the others stay."""
    require_admin()
    session = get_session()
    stored = _section_or_404(session, section_id, lock=True)
    changes: dict[str, Any] = dict(parsing.fields(parsing.body(patch=True), SECTION_FIELDS))
    current = service.SectionInput(
        name=stored.name,
        slug=stored.slug,
        description=stored.description,
        items_per_feed=stored.items_per_feed,
    )
    data = dataclasses.replace(current, **changes)
    section = _save(lambda: service.update_section(session, section_id, data))
    payload = section_json(section)
    session.commit()
    return json_response(payload)


def delete_section(section_id: int) -> Response:
    """DELETE /sections/<id>[?move_to=<id or slug>] (an admin's token).

    A section with articles is deleted only with move_to, the section that takes them (in
    the same transaction); without it: 409. Afterwards its feed URLs answer 410 Gone.
    """
    require_admin()
    session = get_session()
    _section_or_404(session, section_id, lock=True)
    move_to: int | None = None
    ref = request.args.get("move_to")
    if ref is not None:
        ref = clean_text(ref).strip().lower()
        if ref.isdigit() and len(ref) <= 10:
            move_to = int(ref)
        else:
            move_to = session.scalar(select(Section.id).where(Section.slug == ref)) or 0
        if not limits.valid_id(move_to) or session.get(Section, move_to) is None:
            raise ApiError(
                422,
                "The section to move the articles to does not exist. Nothing was deleted.",
                {"move_to": f"There is no section “{ref}” (give its id or its slug)."},
            )
    try:
        sectionhistory.delete_section(session, section_id, move_to=move_to)
    except ValidationError as exc:
        raise refused(exc) from None
    session.commit()
    return Response(status=204)
