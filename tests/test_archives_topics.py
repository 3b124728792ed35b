"""RFC 5005 §4 archives of tag and author feeds: prev-archive from a tag's or author's feed
reaches each of its articles once; a closed page changes only with its own articles."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update

from feedsvc.articles import ArticleInput, create_article, get_article, input_of, update_article
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, Section
from feedsvc.storage.topics import ArticleTopic, Topic
from feedsvc.web.fastpath import document_path
from tests.support.app import SITE_URL, make_app
from tests.support.archived import settle
from tests.support.archivewalk import FH, FILES, get, walk
from tests.support.factories import BASE_URL, make_section

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TAGGED, UNTAGGED = 250, 70
START = datetime(2025, 1, 1, tzinfo=UTC)
TAG_FEED, AUTHOR_FEED = "tags/climate/", "authors/ada-lovelace/"


def topic_id(app: Flask, slug: str) -> int:
    with transaction(app, write=False) as s:
        found = s.scalar(select(Topic.id).where(Topic.slug == slug))
        assert found is not None
        return found


def bulk_topic_articles(app: Flask, section_id: int) -> None:
    """TAGGED articles tagged "Climate" by Ada Lovelace, and UNTAGGED ones by her without
    the tag, in one INSERT each (three a minute: ties by id), linked to their topics as a
    save links them (tags first, then the author)."""
    with transaction(app) as s:
        # The topics, through the service: the oldest article of both feeds.
        data = ArticleInput(
            title="Climate 0",
            section_id=section_id,
            body="First.",
            author="Ada Lovelace",
            tags=("Climate",),
            publish_at=START - timedelta(days=1),
        )
        create_article(s, data, base_url=BASE_URL)
    tag, author = topic_id(app, "climate"), topic_id(app, "ada-lovelace")
    rows = []
    for i in range(1, TAGGED + UNTAGGED):
        tagged = i < TAGGED
        rows.append(
            {
                "guid": uuid.uuid4().urn,
                "section_id": section_id,
                "title": f"{'Climate' if tagged else 'Other'} {i}",
                "body_source": f"Body {i}.",
                "body_html": f"<p>Body {i}.</p>",
                "summary_source": "",
                "summary": f"Body {i}.",
                "author": "Ada Lovelace",
                "tag_names": "Climate" if tagged else "",
                "status": "published",
                "publish_at": START + timedelta(minutes=i // 3),
                "created_at": START,
                "updated_at": START,
            }
        )
    with transaction(app) as s:
        s.execute(insert(Article), rows)
        stored = s.execute(
            select(Article.id, Article.tag_names, Article.publish_at).where(
                Article.title != "Climate 0"
            )
        ).all()
        links = []
        for article_id, names, at in stored:
            topics = ([tag] if names else []) + [author]
            links += [
                {
                    "article_id": article_id,
                    "topic_id": t,
                    "position": position,
                    "status": "published",
                    "publish_at": at,
                }
                for position, t in enumerate(topics)
            ]
        s.execute(insert(ArticleTopic), links)
        s.execute(update(Topic).values(revision=Topic.revision + 1))
        s.execute(
            update(Section).where(Section.id == section_id).values(revision=Section.revision + 1)
        )


@pytest.fixture
def topical(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A section whose articles all have one author, most of them one tag; 40 a page."""
    app = make_app(
        database_url,
        tmp_path,
        ARCHIVE_PAGE_ITEMS=40,
        ARCHIVE_PAGES_PER_PASS=8,
        EXPORT_DIR=str(tmp_path / "export"),
    )
    try:
        bulk_topic_articles(app, make_section(app, "Desk", slug="desk"))
        settle(app)
        yield app
    finally:
        database(app).dispose()


def guids(app: Flask, slug: str) -> set[str]:
    """The published articles linked to the topic, straight from the tables."""
    with transaction(app, write=False) as s:
        return set(
            s.scalars(
                select(Article.guid)
                .join(ArticleTopic, ArticleTopic.article_id == Article.id)
                .join(Topic, Topic.id == ArticleTopic.topic_id)
                .where(Topic.slug == slug, Article.status == "published")
            )
        )


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_walking_prev_archive_from_a_tag_or_author_feed_reaches_each_article_once(
    topical: Flask, fmt: str
) -> None:
    client = topical.test_client()
    for base, slug, count in ((TAG_FEED, "climate", TAGGED), (AUTHOR_FEED, "ada-lovelace", 320)):
        ids, pages = walk(client, fmt, f"{SITE_URL}/{base}{FILES[fmt]}")
        assert len(ids) == len(set(ids)), f"{base}: an article appears twice"
        assert len(ids) == count and set(ids) == guids(topical, slug), base
        # Numbered from the oldest, under the topic's own folder.
        assert pages[-1] == f"{SITE_URL}/{base}archive/1/{FILES[fmt]}"
    # 250 items, 50 in the feed, 40 a closed page: 5 closed pages and the open one.
    assert len(walk(client, fmt, f"{SITE_URL}/{TAG_FEED}{FILES[fmt]}")[1]) == 6


def pages_of(client: FlaskClient, count: int) -> list[dict[str, bytes]]:
    """Every closed page of the tag feed, in every format."""
    return [
        {
            fmt: get(client, f"{SITE_URL}/{TAG_FEED}archive/{n}/{name}").get_data()
            for fmt, name in FILES.items()
        }
        for n in range(1, count + 1)
    ]


def on_page(pages: list[dict[str, bytes]], page: int, index: int) -> int:
    """The id of an article of a tag page (numbered from 1)."""
    item = json.loads(pages[page - 1]["json"])["items"][index]
    return int(item["url"].rsplit("/", 1)[1])


def test_a_closed_tag_page_changes_only_with_its_own_articles(topical: Flask) -> None:
    client = topical.test_client()
    before = pages_of(client, 5)
    closed = get(client, f"{SITE_URL}/{TAG_FEED}archive/2/atom.xml")
    assert closed.headers["Cache-Control"] == "public, max-age=86400"
    assert FH.strip("{}").encode() in closed.get_data()

    # Editing an article of page 2: page 2 shows the new title, the other pages keep their bytes.
    edited = on_page(before, 2, 5)
    with transaction(topical) as s:
        data = replace(input_of(get_article(s, edited)), title="Corrected headline")
        update_article(s, edited, data, base_url=BASE_URL)
    settle(topical)
    after = pages_of(client, 5)
    assert b"Corrected headline" in after[1]["atom"] and after[1] != before[1]
    assert [after[i] for i in (0, 2, 3, 4)] == [before[i] for i in (0, 2, 3, 4)]

    # Taking the tag off an article of page 3: it leaves that page (the touch names the tag
    # it had), stays in its author's feed, and the tag's walk still has each article once.
    untagged = on_page(after, 3, 7)
    with transaction(topical) as s:
        update_article(
            s, untagged, replace(input_of(get_article(s, untagged)), tags=()), base_url=BASE_URL
        )
    settle(topical)
    final = pages_of(client, 5)
    assert final[2] != after[2]
    assert f'/articles/{untagged}"'.encode() not in final[2]["json"]
    assert [final[i] for i in (0, 1, 3, 4)] == [after[i] for i in (0, 1, 3, 4)]
    for fmt in FILES:
        ids, _pages = walk(client, fmt, f"{SITE_URL}/{TAG_FEED}{FILES[fmt]}")
        assert sorted(ids) == sorted(guids(topical, "climate")) and len(ids) == TAGGED - 1
    ids, _pages = walk(client, "atom", f"{SITE_URL}/{AUTHOR_FEED}atom.xml")
    assert len(ids) == 320 and set(ids) == guids(topical, "ada-lovelace")


def test_topic_archive_urls_are_served_exported_and_routed_by_nginx(
    topical: Flask,
) -> None:
    for url, label in (
        ("/tags/climate/archive/1/atom.xml", "/tags/<slug>/archive/<n>/atom.xml"),
        ("/authors/ada-lovelace/archive/12/feed.json", "/authors/<slug>/archive/<n>/feed.json"),
    ):
        assert document_path(url) == (url[1:], label)
    assert document_path("/topics/climate/archive/1/atom.xml") is None
    client = topical.test_client()
    served = client.get("/tags/climate/archive/1/atom.xml")
    assert served.status_code == 200 and served.mimetype == "application/atom+xml"
    # The static export holds the same bytes at the same path.
    exported = Path(topical.config["EXPORT_DIR"]) / "tags/climate/archive/1/atom.xml"
    assert exported.read_bytes() == served.get_data()
    # The Flask routes behind the fast path: no such tag, or no such page number, is a 404.
    assert client.get("/tags/no-such-tag/archive/1/rss.xml").status_code == 404
    assert client.get("/authors/ada-lovelace/archive/0/rss.xml").status_code == 404
    # nginx's archive locations (deploy/nginx.conf) take them too.
    conf = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    patterns = re.findall(r"location ~ (\^/\S*archive\S*\$) \{", conf)
    assert len(patterns) == 3
    for path in (
        "/tags/climate/archive/3/rss.xml",
        "/authors/ada/archive/1/atom.xml",
        "/authors/ada/archive/1/feed.json",
        "/sections/x/archive/2/rss.xml",
    ):
        assert sum(bool(re.match(p, path)) for p in patterns) == 1, path
