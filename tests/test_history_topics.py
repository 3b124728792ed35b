"""RFC 6721 tombstones in tag and author feeds: an article that leaves one is announced there."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import feedparser
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.articles import (
    ArticleInput,
    create_article,
    delete_article,
    get_article,
    input_of,
    update_article,
)
from feedsvc.storage.db import transaction
from feedsvc.storage.models import utcnow
from tests.support.factories import BASE_URL, make_section
from tests.support.published import fetch, publish
from tests.support.tombstones import entry_ids, tombstones

CLIMATE, ENERGY = "/tags/climate/atom.xml", "/tags/energy/atom.xml"
ADA, GRACE = "/authors/ada-lovelace/atom.xml", "/authors/grace-hopper/atom.xml"


def store(app: Flask, section_id: int, title: str, **kw: Any) -> tuple[int, str]:
    """A published article (an hour ago) through the service: (id, guid)."""
    data = ArticleInput(
        title=title,
        section_id=section_id,
        body=f"{title}.",
        publish_at=utcnow() - timedelta(hours=1),
        **kw,
    )
    with transaction(app) as s:
        article = create_article(s, data, base_url=BASE_URL)
        return article.id, article.guid


def edit(app: Flask, article_id: int, **changes: Any) -> None:
    with transaction(app) as s:
        data = replace(input_of(get_article(s, article_id)), **changes)
        update_article(s, article_id, data, base_url=BASE_URL)


def test_a_deleted_article_is_announced_in_its_tags_and_authors_feeds(
    app: Flask, client: FlaskClient
) -> None:
    desk = make_section(app, "Desk")
    gone_id, gone = store(app, desk, "Withdrawn", author="Ada Lovelace", tags=("Climate", "Energy"))
    _kept_id, kept = store(app, desk, "Stays", author="Grace Hopper", tags=("Climate",))
    publish(app)
    assert gone in entry_ids(client, ADA) and tombstones(client, CLIMATE) == {}
    with transaction(app) as s:
        delete_article(s, gone_id)
    publish(app)
    for path in (CLIMATE, ENERGY, ADA):
        found = tombstones(client, path)  # each document valid Atom (check_atom)
        assert list(found) == [gone], path
        assert gone not in entry_ids(client, path)
        # feedparser, as a reader, sees no error in the document.
        assert not feedparser.parse(fetch(client, path)).bozo
    # Feeds it was never in say nothing of it.
    assert tombstones(client, GRACE) == {}
    assert entry_ids(client, CLIMATE) == [kept]


def test_taking_a_tag_off_tombstones_the_article_in_that_tag_feed_only(
    app: Flask, client: FlaskClient
) -> None:
    desk = make_section(app, "Desk")
    article_id, guid = store(
        app, desk, "Turbines", author="Ada Lovelace", tags=("Climate", "Energy")
    )
    publish(app)
    assert guid in entry_ids(client, CLIMATE)

    edit(app, article_id, tags=("Energy",))
    publish(app)
    assert list(tombstones(client, CLIMATE)) == [guid]
    assert guid not in entry_ids(client, CLIMATE)
    # Still in its other tag's and its author's feeds: nothing to announce there.
    for path in (ENERGY, ADA, "/atom.xml", "/sections/desk/atom.xml"):
        assert tombstones(client, path) == {}, path
        assert guid in entry_ids(client, path), path
    # A new author: it leaves Ada's feed (tombstone) and joins Grace's.
    edit(app, article_id, author="Grace Hopper")
    publish(app)
    assert list(tombstones(client, ADA)) == [guid] and guid in entry_ids(client, GRACE)

    # The tag back: its tombstone goes, and the entry comes back dated after it, so a reader
    # that kept the tombstone takes the entry as newer (RFC 6721 §3).
    when = tombstones(client, CLIMATE)[guid]
    edit(app, article_id, tags=("Climate", "Energy"))
    publish(app)
    assert tombstones(client, CLIMATE) == {}
    entry = feedparser.parse(fetch(client, CLIMATE)).entries[0]
    assert entry.id == guid
    assert datetime.fromisoformat(entry.updated) >= when


def test_unpublishing_tombstones_in_topic_feeds_and_republishing_clears(
    app: Flask, client: FlaskClient
) -> None:
    desk = make_section(app, "Desk")
    article_id, guid = store(app, desk, "Draft again", author="Ada Lovelace", tags=("Climate",))
    publish(app)
    edit(app, article_id, status="draft")
    publish(app)
    for path in (CLIMATE, ADA):
        assert list(tombstones(client, path)) == [guid], path
    edit(app, article_id, status="published")
    publish(app)
    for path in (CLIMATE, ADA):
        assert tombstones(client, path) == {}, path
        assert entry_ids(client, path) == [guid], path
