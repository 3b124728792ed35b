"""A full rebuild's first step: render every stored article again with the current policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from feedsvc.articles import summary_of
from feedsvc.content.html import render_body as render_markdown
from feedsvc.content.html import sanitise
from feedsvc.content.text import ContentError
from feedsvc.sections import bump_revision
from feedsvc.storage.models import Article


@dataclass(frozen=True, slots=True)
class Stored:
    """An article's stored sources and what was made of them, as a full rebuild reads them."""

    id: int
    section_id: int
    body_source: str
    body_html: str
    summary_source: str
    summary: str


@dataclass(frozen=True, slots=True)
class Rerendered:
    """What the current policy makes of a stored article whose renderings it changes."""

    stored: Stored
    body_html: str
    summary: str


def stored_batch(session: Session, after_id: int, limit: int) -> list[Stored]:
    """Up to `limit` articles, drafts included, by id after `after_id`: sources and renderings."""
    query = (
        select(
            Article.id,
            Article.section_id,
            Article.body_source,
            Article.body_html,
            Article.summary_source,
            Article.summary,
        )
        .where(Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
    )
    return [Stored(*row) for row in session.connection().execute(query)]


def rerender(stored: Stored, *, base_url: str) -> Rerendered | None:
    """Render a stored article again from its source with the current policy (None: no change).

    A source the current checks refuse (a limit lowered since it was stored) keeps its stored
    HTML, sanitised again with the current policy. Raises ContentError only when that HTML is
    itself refused (nested too deep: it was never stored through render_body).
    """
    try:
        body_html = render_markdown(stored.body_source, base_url=base_url)
    except ContentError:
        body_html = sanitise(stored.body_html, base_url=base_url)
    summary = summary_of(stored.summary_source, body_html)
    if body_html == stored.body_html and summary == stored.summary:
        return None
    return Rerendered(stored, body_html, summary)


def store_rerendered(session: Session, changes: list[Rerendered]) -> int:
    """Store new renderings and bump their sections' revisions; the number of rows changed.

    Each row only if its sources are still those rendered: an edit committed meanwhile has
    rendered its own, newer, text. The article's updated_at stays: its text is the editor's
    as before, only the markup around it changed. The caller commits.
    """
    changed = 0
    sections: set[int] = set()
    for change in changes:
        old = change.stored
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(Article)
                .where(
                    Article.id == old.id,
                    Article.body_source == old.body_source,
                    Article.summary_source == old.summary_source,
                )
                .values(body_html=change.body_html, summary=change.summary)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount:
            changed += 1
            sections.add(old.section_id)
    for section_id in sorted(sections):
        bump_revision(session, section_id)
    session.flush()
    return changed
