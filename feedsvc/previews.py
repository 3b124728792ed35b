"""What a save of an article would publish, worked out by the save's own code and stored nowhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from feedsvc import articles, tombstones
from feedsvc.storage.models import Article, Section, utcnow


@dataclass(frozen=True)
class ArticlePreview:
    """An entry as feeds would carry it after the save; plain values, nothing stored."""

    section_name: str
    title: str
    body_html: str  # sanitised, as feeds and the page carry it
    summary: str
    author: str
    tags: tuple[str, ...]
    image_url: str
    image_alt: str
    status: str
    publish_at: datetime | None  # aware UTC; None: a draft with no time yet
    # Edits only (None for a new article): whether the save moves the date feeds show as
    # updated, and that date (RFC 4287 §4.2.15), never before the publication's.
    updated_moves: bool | None = None
    updated: datetime | None = None


def preview_article(
    session: Session,
    data: articles.ArticleInput,
    *,
    base_url: str,
    stored: Article | None = None,
    correction: bool = False,
) -> ArticlePreview:
    """Validate as a save of `data` would (over `stored` when editing, as a correction or a
    silent fix) and say what it would publish. Reads only: no row, version, revision or probe
    moves (raises ValidationError, as the save would)."""
    clean = articles.validated(session, data, base_url, stored)
    section = session.get(Section, clean.section_id)
    publish_at = articles.publish_time(data, stored.publish_at if stored is not None else None)
    moves: bool | None = None
    updated = None
    if stored is not None:
        moves = articles.revised_moves(correction, tombstones.shown_in(stored))
        revised = stored.revised_at if not moves and stored.revised_at else utcnow()
        # As publishing/snapshot.py dates an entry: readers first see it at its publish time.
        updated = max(revised, publish_at) if publish_at is not None else revised
    return ArticlePreview(
        section_name=section.name if section is not None else "",
        title=clean.title,
        body_html=clean.body_html,
        summary=clean.summary,
        author=clean.author,
        tags=clean.tags,
        image_url=clean.image_url,
        image_alt=clean.image_alt,
        status=clean.status,
        publish_at=publish_at,
        updated_moves=moves,
        updated=updated,
    )
