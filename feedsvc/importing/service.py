"""Save a parsed feed's entries as articles of one section, skipping those already imported.

Every item goes through articles.create_article, the path every article takes (validation,
sanitising, feeds_changed marking its section, tag, author and archive feeds out of date),
with an Origin carrying its own id, permalink, date and HTML body. Items are saved in batches
of IMPORT_BATCH, one transaction each, and each item in a savepoint: a refused item leaves
nothing behind, a failure loses at most the batch at hand, and a second run skips what the
first one saved (the same id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedsvc import topics
from feedsvc.articles import ArticleInput, create_article
from feedsvc.content.html import parse_fragment
from feedsvc.content.text import ContentError, one_line
from feedsvc.errors import NotFound, ValidationError
from feedsvc.importing.parse import FeedEntry
from feedsvc.limits import (
    GUID_MAX,
    IMPORT_BATCH,
    STATUS_DRAFT,
    STATUS_PUBLISHED,
    TAG_MAX,
    TAGS_MAX,
)
from feedsvc.media import clean_url
from feedsvc.origins import Origin
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section

IMPORTED, SKIPPED, REFUSED = "imported", "skipped", "refused"
# A title made from the text of an item that has none: about a headline's length.
_DERIVED_TITLE_MAX = 80


@dataclass(frozen=True)
class Outcome:
    """What became of one item: its place in the feed, its id, title and, unless imported, why."""

    position: int
    id: str
    title: str
    what: str  # IMPORTED, SKIPPED or REFUSED
    why: str = ""
    article_id: int | None = None


@dataclass
class Report:
    """Everything an import did, item by item, in the feed's order."""

    section: str  # the section's slug
    feed_title: str = ""
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, what: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.what == what]

    def summary(self) -> str:
        """One line: the counts, as the CLI and the admin page say them."""
        return (
            f"{len(self.of(IMPORTED)):,} imported, {len(self.of(SKIPPED)):,} skipped "
            f"(already imported), {len(self.of(REFUSED)):,} refused"
        )


def section_id_of(session: Session, slug: str) -> int:
    """The section's id by its slug (NotFound with a sentence otherwise)."""
    found = session.scalar(select(Section.id).where(Section.slug == slug))
    if found is None:
        raise NotFound(f"There is no section with the slug {slug!r}.")
    return found


def run_import(
    app: Flask,
    entries: Sequence[FeedEntry],
    *,
    section: str,
    by: int | None = None,
    feed_title: str = "",
    advance: Callable[[int], None] | None = None,
) -> Report:
    """Import `entries` into the section with slug `section`, batch by batch (each committed).

    `advance(n)` is told after each batch how many more items were handled (a progress bar).
    Raises NotFound for an unknown section, before anything is saved.
    """
    with transaction(app, write=False) as s:
        section_id = section_id_of(s, section)
    report = Report(section=section, feed_title=feed_title)
    seen: set[str] = set()
    base_url = app.config["SITE_URL"] + "/"
    for start in range(0, len(entries), IMPORT_BATCH):
        batch = entries[start : start + IMPORT_BATCH]
        with transaction(app) as s:
            report.outcomes += import_entries(
                s, batch, section_id=section_id, base_url=base_url, by=by, seen=seen
            )
        if advance is not None:
            advance(len(batch))
    return report


def import_entries(
    session: Session,
    entries: Sequence[FeedEntry],
    *,
    section_id: int,
    base_url: str,
    by: int | None = None,
    seen: set[str] | None = None,
) -> list[Outcome]:
    """Save the entries not yet imported as articles of the section; the caller commits.

    `seen` collects the ids met so far, across the batches of one feed.
    """
    seen = set() if seen is None else seen
    ids = [i for i in (_id_of(e) for e in entries) if i]
    stored = set(session.scalars(select(Article.guid).where(Article.guid.in_(ids))))
    return [
        _import_one(session, entry, section_id, stored, seen, base_url, by) for entry in entries
    ]


def _id_of(entry: FeedEntry) -> str:
    """The item's own id; without one its link stands for it (RSS 2.0 makes guid optional)."""
    return entry.id or entry.link


def _import_one(
    s: Session,
    entry: FeedEntry,
    section_id: int,
    stored: set[str],
    seen: set[str],
    base_url: str,
    by: int | None,
) -> Outcome:
    item_id = _id_of(entry)
    title = entry.title or _derived_title(entry)

    def outcome(what: str, why: str = "", article_id: int | None = None) -> Outcome:
        return Outcome(entry.position, item_id, title, what, why, article_id)

    if not item_id:
        return outcome(REFUSED, "It has no id (guid, atom:id) and no link to stand for one.")
    if len(item_id) > GUID_MAX:
        return outcome(REFUSED, f"Its id is {len(item_id):,} characters; at most {GUID_MAX}.")
    why = _not_an_article(entry)
    if why:
        return outcome(REFUSED, why)
    if item_id in seen:
        return outcome(SKIPPED, "An earlier item of this feed has the same id.")
    seen.add(item_id)
    if item_id in stored:
        return outcome(SKIPPED, "Already imported: an article has this id.")
    data = ArticleInput(
        title=title,
        section_id=section_id,
        body=entry.content_html,
        summary=entry.summary,
        author=entry.author,
        tags=_tags(entry.categories),
        publish_at=entry.published,  # None: now; in the future: scheduled until then
        # A WordPress draft, pending or private post stays out of the feeds: a draft here.
        status=STATUS_DRAFT if entry.state in _WXR_DRAFTS else STATUS_PUBLISHED,
    )
    revised: datetime | None = None
    if entry.updated and entry.published:
        revised = max(entry.updated, entry.published)
    try:
        origin = Origin(guid=item_id, url=_link(entry.link), revised_at=revised)
        with s.begin_nested():  # a refused item leaves nothing, the batch goes on
            article = create_article(s, data, base_url=base_url, by=by, origin=origin)
    except ValidationError as exc:
        return outcome(REFUSED, " ".join(exc.errors.values()))
    except IntegrityError:  # the same id saved by another import since this batch looked
        return outcome(SKIPPED, "Already imported: an article has this id.")
    return outcome(IMPORTED, article_id=article.id)


# What a WordPress export holds besides posts and pages: not articles.
_WXR_ARTICLES = {"", "post", "page"}
_WXR_DRAFTS = {"draft", "pending", "private"}
_WXR_GONE = {"trash", "auto-draft", "inherit"}


def _not_an_article(entry: FeedEntry) -> str:
    """Why a WordPress export's item is no article ("" when it is one)."""
    if entry.kind not in _WXR_ARTICLES:
        return f"It is a WordPress {entry.kind}, not a post or page."
    if entry.state in _WXR_GONE:
        return f"Its WordPress status is {entry.state!r}: not a post anyone published or wrote."
    return ""


def _derived_title(entry: FeedEntry) -> str:
    """RSS 2.0 items may have no title: the first words of the summary or body stand in."""
    text = entry.summary
    if not text and entry.content_html.strip():
        text = " ".join(str(parse_fragment(entry.content_html).text_content()).split())
    if len(text) <= _DERIVED_TITLE_MAX:
        return text
    cut = text[: _DERIVED_TITLE_MAX - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _tags(categories: Sequence[str]) -> tuple[str, ...]:
    """The categories as tags: those a tag may be, the first TAGS_MAX distinct ones."""
    kept: tuple[str, ...] = ()
    for category in categories:
        if len(kept) >= TAGS_MAX:
            break
        if len(one_line(category)) > TAG_MAX:
            continue
        try:
            kept = topics.clean_tags((*kept, category))
        except ContentError:
            continue  # a control character: this one is left out, the others kept
    return kept


def _link(link: str) -> str:
    """The item's permalink if it is an absolute http(s) URL we can store, else ""."""
    if not link:
        return ""
    try:
        return clean_url(link, "The link")
    except ContentError:
        return ""
