"""A full rebuild's first step: render every stored article again with the current policy."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from feedsvc import archiving, topics
from feedsvc.articles import summary_of
from feedsvc.content.html import render_source, sanitise
from feedsvc.content.text import ContentError
from feedsvc.limits import BODY_HTML_MAX_BYTES, BODY_MARKDOWN
from feedsvc.sections import bump_revision
from feedsvc.storage.models import Article

log = logging.getLogger(__name__)
# Stored articles already reported as kept, by id and source: every full rebuild meets them
# again (hourly, for as long as the process lives), and one line each is enough.
_REPORTED: set[tuple[int, int]] = set()
_REPORTED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Stored:
    """An article's stored sources and what was made of them, as a full rebuild reads them."""

    id: int
    section_id: int
    body_source: str
    body_html: str
    summary_source: str
    summary: str
    body_format: str = BODY_MARKDOWN  # an imported HTML body is rendered again as HTML


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
            Article.body_format,
        )
        .where(Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
    )
    return [Stored(*row) for row in session.connection().execute(query)]


def rerender(
    stored: Stored, *, base_url: str, max_html_bytes: int = BODY_HTML_MAX_BYTES
) -> Rerendered | None:
    """Render a stored article again from its source with the current policy (None: no change).

    A source the current checks refuse (a limit lowered since it was stored, HTML over
    max_html_bytes) keeps its stored HTML, sanitised again with the current policy, or as it
    is when that HTML is itself over max_html_bytes; so does a source the renderer fails on.
    Each is logged once per process. Raises ContentError only when the stored HTML is itself
    refused (nested too deep: it was never stored through render_body): the caller reports it.
    """
    try:
        return _rerender(stored, base_url, max_html_bytes)
    except ContentError:
        raise
    except Exception:  # a renderer bug on one body must not stop the rebuild of the others
        _report_once(stored, "failed to render; its stored HTML is kept", exc_info=True)
        return None


def _rerender(stored: Stored, base_url: str, max_html_bytes: int) -> Rerendered | None:
    try:
        body_html = render_source(
            stored.body_format, stored.body_source, base_url=base_url, max_html_bytes=max_html_bytes
        )
    except ContentError as exc:
        if _utf8_length_over(stored.body_html, max_html_bytes):
            # Stored before the bound: sanitising it again would cost what the bound avoids.
            _report_once(stored, f"is refused ({exc}); its stored HTML is kept as it is")
            return None
        _report_once(stored, f"is refused ({exc}); its stored HTML is kept, sanitised again")
        body_html = sanitise(stored.body_html, base_url=base_url)
    summary = summary_of(stored.summary_source, body_html)
    if body_html == stored.body_html and summary == stored.summary:
        return None
    return Rerendered(stored, body_html, summary)


def _utf8_length_over(text: str, limit: int) -> bool:
    # Each character is 1 to 4 bytes: only the uncertain middle needs encoding.
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode()) > limit


def _report_once(stored: Stored, what: str, *, exc_info: bool = False) -> None:
    key = (stored.id, hash(stored.body_source))
    if key in _REPORTED:
        return
    if len(_REPORTED) >= _REPORTED_MAX:  # bounded memory; at worst a line is repeated
        _REPORTED.clear()
    _REPORTED.add(key)
    log.warning("article %d: its body %s", stored.id, what, exc_info=exc_info)


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
            # Its archive page, if it sits in a closed one, shows the new markup too.
            at = session.scalar(select(Article.publish_at).where(Article.id == old.id))
            keys = archiving.scope_keys(old.section_id, topics.topic_keys(session, old.id))
            archiving.touch(session, [(k, at) for k in keys], old.id)
    for section_id in sorted(sections):
        bump_revision(session, section_id)
    session.flush()
    return changed
