"""Sections' old URLs: slugs left behind answer 301, deleted sections 410; deleting a section."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from feedsvc import archiving, tombstones, urls
from feedsvc.errors import Conflict, NotFound, ValidationError
from feedsvc.limits import valid_id
from feedsvc.storage.history import RetiredSlug
from feedsvc.storage.models import Article, FeedDocument, Section, SiteState, utcnow


def renamed(session: Session, section_id: int, old_slug: str, new_slug: str) -> None:
    """A section's slug changed: the old one answers 301 to the section wherever it goes.

    The row names the section, not its new slug, so a later rename never makes a chain:
    every old slug leads to the current one in one hop.
    """
    if old_slug == new_slug:
        return
    take_over(session, new_slug)
    # files_pending: the scheduler removes the files exported under the old slug (its
    # archive pages among them), after which nginx hands those URLs to the app (301).
    session.merge(
        RetiredSlug(slug=old_slug, section_id=section_id, retired_at=utcnow(), files_pending=True)
    )
    # Its RFC 5005 archive pages are stored by path, not by section: the ones at the old
    # path stop being served at once (they answer 301 from now on), and the next pass
    # renders them again at the new one.
    _drop_documents_under(session, urls.section_base(old_slug))


def _drop_documents_under(session: Session, base: str) -> None:
    """Delete every stored document whose path starts with base ("sections/<slug>/": slugs
    hold no LIKE wildcard), and tell the web workers (the documents generation)."""
    session.execute(delete(FeedDocument).where(FeedDocument.path.startswith(base)))
    session.execute(
        update(SiteState).values(documents_generation=SiteState.documents_generation + 1)
    )


def take_over(session: Session, slug: str) -> None:
    """A section now answers to slug (created with it, or renamed to it): no redirect, no 410."""
    session.execute(delete(RetiredSlug).where(RetiredSlug.slug == slug))


@dataclass(frozen=True)
class Moved:
    """Where an old slug leads: the section's current slug, or None when it was deleted."""

    slug: str | None


def resolve(session: Session, slug: str) -> Moved | None:
    """Whether slug is a retired one (None: it never was a section's, or is one's today)."""
    row = session.execute(
        select(RetiredSlug.section_id, Section.slug)
        .outerjoin(Section, Section.id == RetiredSlug.section_id)
        .where(RetiredSlug.slug == slug)
    ).first()
    if row is None:
        return None
    return Moved(row[1])


class SectionNotEmpty(Conflict):
    """The section still has articles, and no section was named to move them to."""


def delete_section(session: Session, section_id: int, *, move_to: int | None = None) -> int:
    """Delete a section; its articles, if any, move to `move_to` first. Return how many moved.

    One transaction (the caller commits): the articles move (each one's version moves on,
    so an edit form opened before cannot put it back), the target's feeds are marked out of
    date, the section's stored feeds go at once (web workers see the documents generation
    move), its URLs and its old ones answer 410 Gone, and the scheduler's next pass removes
    its exported files and renders the site's feeds and OPML without it.
    """
    section = session.get(Section, section_id) if valid_id(section_id) else None
    if section is None:
        raise NotFound(f"There is no section with id {section_id}.")
    count = (
        session.scalar(
            select(func.count()).select_from(Article).where(Article.section_id == section_id)
        )
        or 0
    )
    if move_to is not None:
        if move_to == section_id:
            raise ValidationError({"move_to": "Choose another section to move the articles to."})
        if not valid_id(move_to) or session.get(Section, move_to) is None:
            raise ValidationError({"move_to": "Choose one of the other sections."})
    elif count:
        noun = "article" if count == 1 else "articles"
        raise SectionNotEmpty(
            {
                "move_to": f"The section has {count} {noun}: choose a section to move "
                f"{'it' if count == 1 else 'them'} to, or delete {'it' if count == 1 else 'them'}"
                " first."
            }
        )
    if count and move_to is not None:
        session.execute(
            update(Article)
            .where(Article.section_id == section_id)
            .values(section_id=move_to, version=Article.version + 1),
            execution_options={"synchronize_session": False},
        )
        # Its feeds gain the articles (sections.bump_revision's UPDATE, without the import:
        # sections.py calls this module).
        session.execute(
            update(Section).where(Section.id == move_to).values(revision=Section.revision + 1)
        )
    slug = section.slug
    tombstones.forget_feeds(session, [tombstones.section_key(section_id)])
    archiving.forget(session, archiving.section_key(section_id))
    session.execute(delete(FeedDocument).where(FeedDocument.section_id == section_id))
    _drop_documents_under(session, urls.section_base(slug))  # its archive pages too
    # Old slugs that led here now answer 410 too (the foreign key sets them to NULL).
    session.execute(delete(Section).where(Section.id == section_id))
    session.expunge(section)
    session.merge(RetiredSlug(slug=slug, section_id=None, retired_at=utcnow(), files_pending=True))
    session.flush()
    return int(count)


def pending_removals(session: Session) -> list[str]:
    """Old or deleted sections' slugs whose exported files the scheduler has yet to remove."""
    # On the Core connection: every pass asks, and nearly always finds nothing.
    query = select(RetiredSlug.slug).where(RetiredSlug.files_pending.is_(True))
    return list(session.connection().execute(query).scalars())


def removals_done(session: Session, slugs: list[str]) -> None:
    session.execute(
        update(RetiredSlug).where(RetiredSlug.slug.in_(slugs)).values(files_pending=False)
    )
