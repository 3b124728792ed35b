"""The admin front page's article list: its GET parameters, read leniently, and the page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from feedsvc import listing, sections, topics
from feedsvc.limits import AUTHOR_MAX, SEARCH_MAX, valid_id

# The query parameters: shareable URLs, and the names the form's fields submit.
SECTION, STATUS, AUTHOR, SEARCH, BEFORE, AFTER = (
    "section",
    "status",
    "author",
    "q",
    "before",
    "after",
)
STATUS_LABELS = {
    listing.DRAFT: "Draft",
    listing.SCHEDULED: "Scheduled",
    listing.PUBLISHED: "Published",
}


def _filters(
    args: MultiDict[str, str], known_sections: set[int]
) -> tuple[listing.Filters, list[str]]:
    """The filters the URL asks for; a value that names nothing is dropped with a sentence."""
    notes: list[str] = []
    section_id: int | None = None
    raw = args.get(SECTION, "").strip()
    if raw:
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else 0
        if valid_id(number) and number in known_sections:
            section_id = number
        else:
            notes.append("That section does not exist (any more): showing every section.")
    status = args.get(STATUS, "").strip() or None
    if status is not None and status not in listing.LIST_STATUSES:
        notes.append("Status is draft, scheduled or published: showing every status.")
        status = None
    query = args.get(SEARCH, "")
    if len(query) > SEARCH_MAX:
        notes.append(f"Only the first {SEARCH_MAX} characters of the search were used.")
    filters = listing.Filters(
        section_id=section_id,
        status=status,
        author=args.get(AUTHOR, "").strip()[:AUTHOR_MAX],
        query=query.strip()[:SEARCH_MAX],
    )
    return filters, notes


def page_context(session: Session, args: MultiDict[str, str]) -> dict[str, Any]:
    """What templates/admin/articles.html needs to show the list the URL asks for."""
    all_sections = sections.list_sections(session)
    filters, notes = _filters(args, {s.id for s in all_sections})
    before_raw, after_raw = args.get(BEFORE, ""), args.get(AFTER, "")
    before = listing.decode_cursor(before_raw) if before_raw else None
    after = listing.decode_cursor(after_raw) if after_raw and before is None else None
    if (before_raw and before is None) or (after_raw and not before_raw and after is None):
        notes.append("That page link is damaged: showing the newest articles.")
    now = datetime.now(UTC)
    page = listing.list_page(session, filters, now, before=before, after=after)
    if filters.query.strip() and not page.searched:
        notes.append("Search looks for words: type letters or digits.")
    kept = {
        SECTION: str(filters.section_id) if filters.section_id is not None else "",
        STATUS: filters.status or "",
        AUTHOR: filters.author,
        SEARCH: filters.query,
    }
    kept = {name: value for name, value in kept.items() if value}

    def link(**cursor: str) -> str:
        values: dict[str, Any] = {**kept, **cursor}
        return url_for("admin.index", **values)

    return {
        "articles": page.articles,
        "sections": all_sections,
        "authors": topics.known_authors(session),
        "filters": filters,
        "filtered": bool(kept),
        "statuses": STATUS_LABELS,
        "notes": notes,
        "author_known": page.author_known,
        "paged": before is not None or after is not None,
        "older_url": link(before=page.older.encode()) if page.older else None,
        "newer_url": link(after=page.newer.encode()) if page.newer else None,
        "first_url": link(),
        "now": now,
    }
