"""Create and edit sections; every change bumps the revision so its feeds are rendered again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc import sectionhistory
from feedsvc.content.slugs import slugify
from feedsvc.content.text import ContentError, clean_line, clean_text
from feedsvc.errors import NotFound, SlugInUse, ValidationError
from feedsvc.limits import (
    DESCRIPTION_MAX,
    ITEMS_PER_FEED_DEFAULT,
    ITEMS_PER_FEED_MAX,
    ITEMS_PER_FEED_MIN,
    SECTION_NAME_MAX,
    SLUG_MAX,
    SLUG_RE,
    valid_id,
)
from feedsvc.storage.models import Section, utcnow


@dataclass(frozen=True)
class SectionInput:
    name: str
    slug: str = ""  # empty: derived from the name
    description: str = ""
    items_per_feed: int = ITEMS_PER_FEED_DEFAULT


def _validated(session: Session, data: SectionInput, section_id: int | None) -> SectionInput:
    errors: dict[str, str] = {}
    name = slug = description = ""
    try:
        name = clean_line(data.name, field="Name", max_length=SECTION_NAME_MAX, required=True)
    except ContentError as exc:
        errors["name"] = str(exc)
    raw_slug = clean_text(data.slug).strip().lower()
    if raw_slug:
        if len(raw_slug) > SLUG_MAX or not SLUG_RE.fullmatch(raw_slug):
            errors["slug"] = (
                "A slug is lower-case letters, digits and single hyphens, "
                f"at most {SLUG_MAX} characters (like world-news)."
            )
        slug = raw_slug
    elif name:
        slug = slugify(name, max_length=SLUG_MAX)
    try:
        description = clean_text(data.description).strip()
        if len(description) > DESCRIPTION_MAX:
            raise ContentError(f"Description must be at most {DESCRIPTION_MAX} characters.")
    except ContentError as exc:
        errors["description"] = str(exc)
    if not ITEMS_PER_FEED_MIN <= data.items_per_feed <= ITEMS_PER_FEED_MAX:
        errors["items_per_feed"] = (
            f"Items per feed must be between {ITEMS_PER_FEED_MIN} and {ITEMS_PER_FEED_MAX}."
        )
    if slug and "slug" not in errors:
        clash = session.scalar(select(Section.id).where(Section.slug == slug))
        if clash is not None and clash != section_id:
            where = "slug" if raw_slug else "name"
            errors[where] = f"The slug “{slug}” is already used by another section."
            if len(errors) == 1:
                raise SlugInUse(errors)
    if errors:
        raise ValidationError(errors)
    return SectionInput(name, slug, description, data.items_per_feed)


def create_section(session: Session, data: SectionInput) -> Section:
    """Add a section; raises ValidationError. The caller commits."""
    clean = _validated(session, data, None)
    section = Section(
        guid=uuid.uuid4().urn,
        name=clean.name,
        slug=clean.slug,
        description=clean.description,
        items_per_feed=clean.items_per_feed,
    )
    session.add(section)
    sectionhistory.take_over(session, clean.slug)  # a slug left behind by another: now this one's
    session.flush()
    return section


def update_section(session: Session, section_id: int, data: SectionInput) -> Section:
    """Change a section; its feeds (and the site feeds, whose categories name it) re-render."""
    section = get_section(session, section_id)
    clean = _validated(session, data, section_id)
    sectionhistory.renamed(session, section_id, section.slug, clean.slug)
    section.name = clean.name
    section.slug = clean.slug
    section.description = clean.description
    section.items_per_feed = clean.items_per_feed
    section.updated_at = utcnow()
    section.revision = Section.revision + 1
    session.flush()
    return section


def get_section(session: Session, section_id: int) -> Section:
    section = session.get(Section, section_id) if valid_id(section_id) else None
    if section is None:
        raise NotFound(f"There is no section with id {section_id}.")
    return section


def list_sections(session: Session) -> list[Section]:
    return list(session.scalars(select(Section).order_by(func.lower(Section.name), Section.id)))


def bump_revision(session: Session, section_id: int) -> None:
    """Mark a section's feeds as out of date, atomically (UPDATE … SET revision = revision + 1)."""
    section = session.get(Section, section_id)
    if section is not None:
        section.revision = Section.revision + 1
