"""Create, edit and delete articles; a save moves its version and its section's revision on."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import update
from sqlalchemy.orm import Session, joinedload

from feedsvc import archiving, media, tombstones, topics
from feedsvc.content.html import render_body as render_markdown
from feedsvc.content.summary import derive_summary
from feedsvc.content.text import ContentError, clean_line, clean_text, clean_title
from feedsvc.errors import NotFound, StaleVersion, ValidationError
from feedsvc.limits import (
    AUTHOR_MAX,
    BODY_HTML_MAX_BYTES,
    PUBLISH_AT_EARLIEST,
    PUBLISH_AT_LATEST,
    STATUS_PUBLISHED,
    STATUSES,
    SUMMARY_MAX,
    TITLE_MAX,
    valid_id,
)
from feedsvc.sections import bump_revision
from feedsvc.storage.models import Article, Section, utcnow

# The one sentence for a time outside the range, typed in the admin form or sent to the API.
PUBLISH_AT_RANGE = (
    f"Publish at must be between {PUBLISH_AT_EARLIEST.year} and {PUBLISH_AT_LATEST.year} "
    f"({PUBLISH_AT_EARLIEST:%Y-%m-%d %H:%M} to {PUBLISH_AT_LATEST:%Y-%m-%d %H:%M} UTC)."
)


@dataclass(frozen=True)
class ArticleInput:
    """An article as editors write it, field by field.

    The admin form has a field of each name, and an edit starts from input_of(article): a new
    field needs this class, CleanArticle, the model and the form, and no code in between.
    """

    title: str
    section_id: int
    body: str  # Markdown
    summary: str = ""  # empty: derived from the body
    author: str = ""
    tags: tuple[str, ...] = ()  # as typed; normalised by topics.clean_tags
    publish_at: datetime | None = None  # aware; empty: now when published
    status: str = STATUS_PUBLISHED
    # Lead image and attachment (feedsvc/media.py): absolute http(s) URLs, "" for none; an
    # empty type or length is found (from the extension; by the scheduler's HEAD request).
    image_url: str = ""
    image_alt: str = ""
    attachment_url: str = ""
    attachment_type: str = ""
    attachment_length: int | None = None


# Input fields kept under another column: the editor's own text, beside what is made of it.
_SOURCE_COLUMNS = {"body": "body_source", "summary": "summary_source"}


def input_of(article: Article) -> ArticleInput:
    """The input that stores `article` as it is, in the editor's own terms.

    That is the Markdown source and the editor's own summary, not their renderings: what an
    edit starts from.
    """
    tags = topics.tags_of(article)
    return ArticleInput(
        **{
            f.name: getattr(article, _SOURCE_COLUMNS.get(f.name, f.name))
            for f in fields(ArticleInput)
            if f.name != "tags"  # not a column: the article's topics (feedsvc/topics.py)
        },
        tags=tags,
    )


@dataclass(frozen=True)
class CleanArticle:
    """The columns an input sets, validated and cleaned; publish_at aside (it depends on the
    stored value), each field is the column of the same name."""

    section_id: int
    title: str
    body_source: str
    body_html: str
    summary_source: str
    summary: str
    author: str
    status: str
    image_url: str
    image_alt: str
    attachment_url: str
    attachment_type: str
    attachment_length: int | None
    tags: tuple[str, ...]


def _store(article: Article, clean: CleanArticle) -> None:
    """Set the article's columns from clean: the one list of them is CleanArticle's fields."""
    for f in fields(CleanArticle):
        if f.name == "tags":  # stored as topics, by feeds_changed
            continue
        setattr(article, f.name, getattr(clean, f.name))


def validated(
    session: Session, data: ArticleInput, base_url: str, stored: Article | None = None
) -> CleanArticle:
    """Clean every field or collect one sentence per bad field; nothing is half-stored."""
    errors: dict[str, str] = {}
    title = body_html = summary_source = author = ""
    tags: tuple[str, ...] = ()
    try:
        title = clean_title(data.title, max_length=TITLE_MAX)
    except ContentError as exc:
        errors["title"] = str(exc)
    if not valid_id(data.section_id) or session.get(Section, data.section_id) is None:
        errors["section_id"] = "Choose one of the sections."
    try:
        body_html = render_markdown(data.body, base_url=base_url, max_html_bytes=body_html_max())
    except ContentError as exc:
        errors["body"] = str(exc)
    summary_source = clean_text(data.summary).strip()
    if len(summary_source) > SUMMARY_MAX:
        errors["summary"] = f"The summary must be at most {SUMMARY_MAX} characters."
    try:
        author = clean_line(data.author, field="Author", max_length=AUTHOR_MAX)
    except ContentError as exc:
        errors["author"] = str(exc)
    try:
        tags = topics.clean_tags(data.tags)
    except ContentError as exc:
        errors["tags"] = str(exc)
    if data.status not in STATUSES:
        errors["status"] = "Status must be Published or Draft."
    if data.publish_at is not None:
        if data.publish_at.tzinfo is None:
            errors["publish_at"] = "Publish at needs a time zone."
        elif not PUBLISH_AT_EARLIEST <= data.publish_at <= PUBLISH_AT_LATEST:
            errors["publish_at"] = PUBLISH_AT_RANGE
    found = media.clean_media(data, errors, stored)
    if errors:
        raise ValidationError(errors)
    return CleanArticle(
        section_id=data.section_id,
        title=title,
        body_source=clean_text(data.body),
        body_html=body_html,
        summary_source=summary_source,
        summary=summary_of(summary_source, body_html),
        author=author,
        status=data.status,
        **asdict(found),
        tags=tags,
    )


def body_html_max() -> int:
    """The BODY_HTML_MAX_BYTES setting of the app at hand (every edge has one), else its default."""
    return (
        int(current_app.config["BODY_HTML_MAX_BYTES"]) if has_app_context() else BODY_HTML_MAX_BYTES
    )


def summary_of(summary_source: str, body_html: str) -> str:
    """The editor's own summary on one line, or one derived from the rendered body."""
    return " ".join(summary_source.split()) if summary_source else derive_summary(body_html)


def publish_time(data: ArticleInput, current: datetime | None) -> datetime | None:
    """The publish time a save of data gives an article whose time is current (None: new)."""
    if data.publish_at is not None:
        return data.publish_at.replace(microsecond=0)
    if data.status == STATUS_PUBLISHED:
        return current or utcnow()
    return current


def revised_moves(correction: bool, shown_before: frozenset[str]) -> bool:
    """Whether a save moves the date feeds show as updated: a correction always; any save
    while nobody has seen the article yet (a draft, a scheduled story), its date being free."""
    return correction or not shown_before


def create_article(
    session: Session, data: ArticleInput, *, base_url: str, by: int | None = None
) -> Article:
    """Store a new article written by the user `by` (raises ValidationError). The caller commits.

    `by` is the account's id (None: no account, as in a script); it is recorded as the
    article's creator and last editor.
    """
    clean = validated(session, data, base_url)
    now = utcnow()
    article = Article(
        guid=uuid.uuid4().urn,
        publish_at=publish_time(data, None),
        created_at=now,
        updated_at=now,
        revised_at=now,
        created_by_id=by,
        updated_by_id=by,
    )
    _store(article, clean)
    session.add(article)
    session.flush()
    feeds_changed(session, article, tags=clean.tags)
    media.queue_probe(session, article)
    return article


class ArticleConflict(StaleVersion):
    """The article was saved by someone else since the version the change was made against.

    `current` is the stored article as it is now (its version, values, updated_by/updated_at).
    """

    def __init__(self, current: Article, expected: int) -> None:
        super().__init__(
            f"Article {current.id} is at version {current.version}, not {expected}: "
            "it was changed since. Nothing was saved."
        )
        self.current = current
        self.expected = expected


def _claim(session: Session, article_id: int, expected_version: int | None) -> None:
    """Move the article's version on by one, if it still is `expected_version` (None: any).

    The check and the bump are one UPDATE ... WHERE id = :id AND version = :expected, so it
    is atomic in the database, not a read-then-write race: on PostgreSQL a concurrent saver
    blocks on the row lock and then finds the new version (no row: refused); on SQLite write
    transactions are serial (BEGIN IMMEDIATE). Raises NotFound, or ArticleConflict with the
    current article.
    """
    if not valid_id(article_id):
        raise NotFound(f"There is no article with id {article_id}.")
    query = update(Article).where(Article.id == article_id)
    if expected_version is not None:
        # Out of the column's range no version matches; the database must not see the number.
        expected_version = expected_version if valid_id(expected_version) else 0
        query = query.where(Article.version == expected_version)
    # synchronize_session=False: callers read the article afresh after the claim.
    result = session.execute(
        query.values(version=Article.version + 1),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        return
    current = get_article(session, article_id, fresh=True)  # NotFound if it is gone
    raise ArticleConflict(current, expected_version or 0)


def update_article(
    session: Session,
    article_id: int,
    data: ArticleInput,
    *,
    base_url: str,
    by: int | None = None,
    expected_version: int | None = None,
    correction: bool = False,
) -> Article:
    """Change an article as the user `by`, its last editor from now on.

    Its guid never changes (RSS 2.0 "guid", RFC 4287 §4.2.6). Every save moves the version
    on; with `expected_version`, a save made against another version is refused
    (ArticleConflict) and nothing is stored. Only a `correction` moves the date feeds show
    (revised_at) once readers have seen the article; a silent fix keeps it.
    """
    clean = validated(session, data, base_url, get_article(session, article_id))
    _claim(session, article_id, expected_version)
    article = get_article(session, article_id, fresh=True)  # as claimed, not as read before
    old_section, old_publish_at = article.section_id, article.publish_at
    shown_before = tombstones.shown_in(article)
    _store(article, clean)
    article.publish_at = publish_time(data, article.publish_at)
    article.updated_at = utcnow()
    if revised_moves(correction, shown_before):
        article.revised_at = article.updated_at
    article.updated_by_id = by
    session.flush()
    feeds_changed(
        session,
        article,
        old_section_id=old_section,
        old_publish_at=old_publish_at,
        shown_before=shown_before,
        tags=clean.tags,
    )
    media.queue_probe(session, article)
    return article


def delete_article(
    session: Session, article_id: int, *, expected_version: int | None = None
) -> None:
    """Delete an article; with `expected_version`, only if nobody changed it since."""
    if expected_version is not None:
        # Claimed first: the row is then ours (locked) until the delete commits.
        _claim(session, article_id, expected_version)
    article = get_article(session, article_id, fresh=expected_version is not None)
    feeds_changed(session, article, shown_before=tombstones.shown_in(article), deleted=True)
    topics.article_gone(session, article.id)
    session.delete(article)
    session.flush()


def feeds_changed(
    session: Session,
    article: Article,
    *,
    old_section_id: int | None = None,
    old_publish_at: datetime | None = None,
    shown_before: frozenset[str] = frozenset(),
    deleted: bool = False,
    tags: tuple[str, ...] | None = None,
) -> None:
    """Mark every feed that shows, or showed, the article out of date, in the save's transaction.

    The one place a create, edit or delete tells the scheduler what to render again: its
    section's feeds (and, when it moved, the old section's); the site feed follows any section;
    the feeds of the tags and author it had and has (topics.article_saved, which also stores
    the new tags when given, None keeping them, and copies its status and publish time); the
    archive pages that hold its old and new placements (archiving.touch). The feeds it was in
    (shown_before) and leaves keep a tombstone (tombstones.after_change).
    """
    old_topics = topics.topic_keys(session, article.id)  # before the save relinks them
    topics.article_saved(session, article, tags)
    bump_revision(session, article.section_id)
    if old_section_id is not None and old_section_id != article.section_id:
        bump_revision(session, old_section_id)
    tombstones.after_change(session, article, shown_before, deleted=deleted)
    old_keys = archiving.scope_keys(old_section_id or article.section_id, old_topics)
    new_keys = archiving.scope_keys(article.section_id, topics.topic_keys(session, article.id))
    archiving.touch(
        session,
        [(key, article.publish_at) for key in new_keys]
        + [(key, old_publish_at) for key in old_keys],
        article.id,
    )


# An article with its section and the accounts that wrote and last changed it, in one query.
WITH_PEOPLE = (
    joinedload(Article.section),
    joinedload(Article.created_by),
    joinedload(Article.updated_by),
)


def get_article(session: Session, article_id: int, *, fresh: bool = False) -> Article:
    """The article with its people; `fresh` reads it again even if the session holds it."""
    article = None
    if valid_id(article_id):
        article = session.get(
            Article, article_id, options=list(WITH_PEOPLE), populate_existing=fresh
        )
    if article is None:
        raise NotFound(f"There is no article with id {article_id}.")
    return article
