"""Generated sections and articles through the services: each is refused with a field error, or
published into RSS, Atom and JSON Feed that parse strictly, validate, and show its title.

`make test` runs the "feedsvc" hypothesis profile (sixty examples per engine);
`make fuzz` the "fuzz" one (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import feedparser
import html5lib
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from feedsvc.articles import create_article, update_article
from feedsvc.content.text import clean_line, clean_title
from feedsvc.errors import ValidationError
from feedsvc.limits import AUTHOR_MAX, SECTION_NAME_MAX, STATUS_PUBLISHED, TITLE_MAX
from feedsvc.sections import SectionInput, create_section
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, FeedDocument, Section, utcnow
from tests.support.factories import BASE_URL
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.fuzzcount import example
from tests.support.published import fetch, publish
from tests.support.readings import as_html, feedparser_reading, visible
from tests.support.strategies import ArticleDraft, article_drafts, section_inputs

ARTICLE_FIELDS = {"title", "section_id", "body", "summary", "author", "publish_at", "status"}
SECTION_FIELDS = {"name", "slug", "description", "items_per_feed"}
_STRICT_HTML = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)


@dataclass
class Stored:
    """What the services kept of one accepted article, as a reader must see it."""

    id: int
    guid: str
    title: str  # the service's normalisation of the title typed
    author: str
    section_id: int
    published: bool  # its status; due once publish_at has come
    publish_at: datetime | None

    def due(self, at: datetime) -> bool:
        return self.published and self.publish_at is not None and self.publish_at <= at


def _refused(exc: ValidationError, allowed: set[str]) -> None:
    """A refusal names the bad fields, each with a full sentence, and nothing else."""
    assert exc.errors, "a ValidationError without a field"
    assert set(exc.errors) <= allowed, exc.errors
    for message in exc.errors.values():
        assert message.strip() and message.rstrip("”").endswith("."), message


def _expected_title(raw: str) -> str:
    """The title a reader must see: content/text.py's clean_title of what was typed."""
    return clean_title(raw, max_length=TITLE_MAX)


def _wipe(app: Flask) -> None:
    """Each example starts from an empty site (accounts aside): its feeds hold only its own."""
    with transaction(app) as s:
        s.execute(delete(Article))
        s.execute(delete(Section))
        s.execute(delete(FeedDocument))


def _count(app: Flask, model: type) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _store_section(app: Flask, data: SectionInput) -> int | None:
    before = _count(app, Section)
    try:
        with transaction(app) as s:
            section = create_section(s, data)
            section_id = section.id
            stored = (section.name, section.slug)
    except ValidationError as exc:
        _refused(exc, SECTION_FIELDS)
        event(f"section refused: {', '.join(sorted(exc.errors))}")
        assert _count(app, Section) == before, "a refused section was stored"
        return None
    assert stored[0] == clean_line(data.name, field="Name", max_length=SECTION_NAME_MAX)
    return section_id


def _store_article(
    app: Flask, draft: ArticleDraft, section_id: int, edit_of: Stored | None
) -> Stored | None:
    before = _count(app, Article)
    data = draft.in_section(section_id)
    try:
        with transaction(app) as s:
            if edit_of is None:
                article = create_article(s, data, base_url=BASE_URL)
            else:
                article = update_article(s, edit_of.id, data, base_url=BASE_URL)
            stored = Stored(
                article.id,
                article.guid,
                article.title,
                article.author,
                article.section_id,
                article.status == STATUS_PUBLISHED,
                article.publish_at,
            )
    except ValidationError as exc:
        _refused(exc, ARTICLE_FIELDS)
        event(f"article refused: {', '.join(sorted(exc.errors))}")
        assert _count(app, Article) == before, "a refused article was stored"
        return None
    assert stored.title == _expected_title(draft.title)
    assert stored.author == clean_line(draft.author, field="Author", max_length=AUTHOR_MAX)
    return stored


def _reader_text(value: str, content_type: str) -> str:
    """What a reader shows of a feedparser value: as HTML when feedparser says it is."""
    reading = feedparser_reading(value, content_type)
    assert not reading.live, f"{value!r} read as markup {reading.markup}"
    return visible(reading.text)


def _check_feeds(
    client: FlaskClient, prefix: str, title: str, expected: list[Stored], names: dict[int, str]
) -> None:
    """The three feeds under prefix: valid, holding exactly `expected`, titles as stored."""
    guids = [a.guid for a in expected]
    by_guid = {a.guid: a for a in expected}

    rss = check_rss(fetch(client, f"{prefix}rss.xml"))
    assert _reader_text(rss.feed.title, rss.feed.title_detail.type) == visible(title)
    assert [e.id for e in rss.entries] == guids
    for entry in rss.entries:
        article = by_guid[entry.id]
        assert _reader_text(entry.title, entry.title_detail.type) == visible(article.title)
        (tag,) = entry.tags
        assert visible(as_html(tag.term).text) == visible(names[article.section_id])

    atom_body = fetch(client, f"{prefix}atom.xml")
    check_atom(atom_body)
    atom = feedparser.parse(atom_body)
    assert atom.feed.title == title
    assert [e.id for e in atom.entries] == guids
    for entry in atom.entries:
        article = by_guid[entry.id]
        assert entry.title_detail.type == "text/plain"
        assert entry.title == article.title
        if article.author:
            assert entry.author == article.author

    feed = check_json(fetch(client, f"{prefix}feed.json"))
    assert feed["title"] == title
    assert [i["id"] for i in feed["items"]] == guids
    for item in feed["items"]:
        article = by_guid[item["id"]]
        assert item["title"] == article.title
        if article.author:
            assert item["authors"] == [{"name": article.author}]


def _check_page(client: FlaskClient, path: str, heading: str) -> None:
    """An HTML page that answers 200, parses without a single HTML parse error, and shows
    `heading` as its <h1>."""
    page = fetch(client, path)
    document = _STRICT_HTML.parse(page)  # raises on any parse error (HTML §13.2.2)
    h1 = document.find(".//h1")
    assert h1 is not None
    assert "".join(h1.itertext()) == heading


def _newest(articles: list[Stored], at: datetime, limit: int) -> list[Stored]:
    """What a feed rendered at `at` holds: the newest due articles, ties by id (articles.py)."""
    due = [a for a in articles if a.due(at)]
    due.sort(key=lambda a: (a.publish_at, a.id), reverse=True)
    return due[:limit]


@given(
    sections=st.lists(section_inputs(), min_size=1, max_size=2),
    drafts=st.lists(article_drafts(), min_size=1, max_size=3),
    edit=st.none() | article_drafts(),
)
def test_generated_content_is_refused_with_a_field_error_or_published_valid(
    app: Flask,
    client: FlaskClient,
    sections: list[SectionInput],
    drafts: list[ArticleDraft],
    edit: ArticleDraft | None,
) -> None:
    with example("feeds"):
        _wipe(app)
        section_ids = [i for data in sections if (i := _store_section(app, data)) is not None]
        stored: dict[int, Stored] = {}
        for n, draft in enumerate(drafts):
            # No section stored: the articles go to an id no section has, and are refused.
            section_id = section_ids[n % len(section_ids)] if section_ids else 2**31 - 1
            article = _store_article(app, draft, section_id, None)
            if article is not None:
                stored[article.id] = article
        if edit is not None and stored and section_ids:
            first = next(iter(stored.values()))
            edited = _store_article(app, edit, section_ids[-1], first)
            if edited is not None:
                stored[edited.id] = edited
        now = utcnow()
        publish(app, now=now)
        articles = list(stored.values())
        event(f"articles stored: {len(articles)}, due: {sum(a.due(now) for a in articles)}")
        event(f"sections stored: {len(section_ids)}")

        with transaction(app, write=False) as s:
            secs = [
                (sec.id, sec.name, sec.slug, sec.items_per_feed)
                for sec in s.scalars(select(Section))
            ]
        names = {section_id: name for section_id, name, _, _ in secs}
        site_name = app.config["SITE_NAME"]
        for section_id, name, slug, items_per_feed in secs:
            mine = [a for a in articles if a.section_id == section_id]
            prefix = f"/sections/{slug}/"
            _check_feeds(
                client, prefix, f"{site_name}: {name}", _newest(mine, now, items_per_feed), names
            )
            _check_page(client, prefix, name)
        site_items = int(app.config["SITE_FEED_ITEMS"])
        _check_feeds(client, "/", site_name, _newest(articles, now, site_items), names)
        for article in articles:
            path = f"/articles/{article.id}"
            if article.due(utcnow()):
                _check_page(client, path, article.title)
            else:
                # 404, or 410 Gone for one readers saw before it was withdrawn (RFC 9110 §15.5.11).
                status = client.get(path).status_code
                assert status in (404, 410), "a draft or scheduled article shown"
