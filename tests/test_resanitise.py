"""Stored article HTML is sanitised again: by every full rebuild, and on the article page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from feedsvc import rerendering
from feedsvc.articles import ArticleInput, update_article
from feedsvc.content import html as content_html
from feedsvc.content.html import render_body, sanitise
from feedsvc.content.text import ContentError
from feedsvc.publishing.passes import run_pass
from feedsvc.publishing.scheduler import Publisher
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section
from tests.support.content_samples import NASTY
from tests.support.factories import BASE_URL, STORY, make_article, make_section
from tests.support.published import entries, fetch, publish

SOURCE = "Council met on *Tuesday*.\n\nFares stay."
# What an older, laxer policy (or a hand-edited database) might have stored for SOURCE.
DIRTY = (
    '<p onclick="steal()">Council met on <em>Tuesday</em>.</p>'
    '<script>alert("x")</script>\n<p>Fares stay.</p>'
)
CLEAN = "<p>Council met on <em>Tuesday</em>.</p>\n<p>Fares stay.</p>"
SUMMARY = "Council met on Tuesday. Fares stay."
FEEDS = [
    "/sections/world-news/rss.xml",
    "/sections/world-news/atom.xml",
    "/sections/world-news/feed.json",
    "/rss.xml",
    "/atom.xml",
    "/feed.json",
]


def _store_directly(app: Flask, article_id: int, **columns: Any) -> None:
    """Write columns as they are, past the services and their sanitising."""
    with transaction(app) as s:
        s.execute(update(Article).where(Article.id == article_id).values(**columns))


def _stored(app: Flask, article_id: int) -> tuple[str, str]:
    with transaction(app, write=False) as s:
        row = s.execute(
            select(Article.body_html, Article.summary).where(Article.id == article_id)
        ).one()
        return row[0], row[1]


def _revision(app: Flask, section_id: int) -> int:
    with transaction(app, write=False) as s:
        revision = s.scalar(select(Section.revision).where(Section.id == section_id))
        assert revision is not None
        return revision


def _dirty_feeds(app: Flask, client: FlaskClient) -> list[str]:
    """Feeds holding any trace of DIRTY's script or handler; each must hold the text."""
    dirty = []
    for path in FEEDS:
        body = fetch(client, path)
        assert b"Fares stay." in body, path
        # "script>" as markup or escaped ("&lt;script&gt;" in RSS); "description" is no hit.
        traces = (b"script>", b"script&gt;", b"steal", b"onclick", b"alert")
        if any(trace in body.lower() for trace in traces):
            dirty.append(path)
    return dirty


def test_a_full_rebuild_cleans_a_stored_row_and_the_feeds_that_carry_it(
    app: Flask, client: FlaskClient
) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    make_article(app, section, "Weather", body="Rain, then sun.")
    _store_directly(app, article, body_html=DIRTY, summary='alert("x") Council met')
    publish(app)  # a normal pass publishes the row as stored
    assert _dirty_feeds(app, client) == FEEDS  # what the rebuild has to clean
    revision = _revision(app, section)

    done = app.test_cli_runner().invoke(args=["rebuild-feeds", "--all"])

    assert done.exit_code == 0, done.output
    assert "Re-rendered 1 stored article(s) with the current sanitising policy." in done.output
    assert _stored(app, article) == (CLEAN, SUMMARY)
    assert _stored(app, article + 1) == ("<p>Rain, then sun.</p>", "Rain, then sun.")
    assert _revision(app, section) == revision + 1  # its section's feeds are out of date
    assert _dirty_feeds(app, client) == []
    # Nothing left to change: no row written, no revision bumped.
    again = app.test_cli_runner().invoke(args=["rebuild-feeds", "--all"])
    assert again.exit_code == 0 and "Re-rendered" not in again.output
    assert _revision(app, section) == revision + 1


def test_the_schedulers_periodic_full_rebuild_cleans_too(app: Flask, client: FlaskClient) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    _store_directly(app, article, body_html=DIRTY)
    publisher = Publisher(app)
    result = publisher.run(full=True)  # what the "rebuild-all" job runs
    publisher.release()
    assert result is not None and not result.failures
    assert result.articles_rerendered == 1
    assert _stored(app, article) == (CLEAN, SUMMARY)
    assert _dirty_feeds(app, client) == []


def test_a_narrower_policy_reaches_every_stored_row_at_the_next_full_rebuild(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = make_section(app, "World News")
    ids = [make_article(app, section, f"Story {n}", body=f"Fares *stay* ({n}).") for n in range(3)]
    publish(app)
    assert {_stored(app, i)[0] for i in ids} == {
        f"<p>Fares <em>stay</em> ({n}).</p>" for n in range(3)
    }
    # The policy changes (an nh3 upgrade, a shorter allow-list): no more <em>.
    monkeypatch.setattr(content_html, "_ALLOWED_TAGS", content_html._ALLOWED_TAGS - {"em"})

    result = run_pass(app, full=True)

    assert not result.failures
    assert result.articles_rerendered == 3
    assert [_stored(app, i)[0] for i in ids] == [f"<p>Fares stay ({n}).</p>" for n in range(3)]
    for path in FEEDS:
        contents = [e.content for e in entries(fetch(client, path))]
        assert sorted(contents) == [f"<p>Fares stay ({n}).</p>" for n in range(3)], path


def test_a_source_the_checks_now_refuse_keeps_its_stored_html_sanitised_again(app: Flask) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    # "" no longer renders ("Body is required."): the stored HTML is cleaned instead.
    _store_directly(
        app,
        article,
        body_source="",
        body_html='<p>Kept<script>x</script> <img src="/a.png" onerror="x()"></p>',
    )
    result = run_pass(app, full=True)
    assert not result.failures
    assert _stored(app, article) == (
        '<p>Kept <img src="http://feeds.example.org/a.png" /></p>',
        "Kept",
    )


def test_html_the_policy_refuses_outright_is_reported_and_shown_as_text(
    app: Flask, client: FlaskClient
) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    deep = "<div>" * 150 + "Deep <b>text</b>" + "</div>" * 150
    _store_directly(app, article, body_source="", body_html=deep)
    result = run_pass(app, full=True)
    refused = "ContentError: The body nests HTML elements more than 100 levels deep."
    assert result.failures == {f"article:{article}": refused}
    page = client.get(f"/articles/{article}")
    assert page.status_code == 200
    assert '<div class="body" dir="auto"><p>Deep text</p></div>' in page.get_data(as_text=True)


def test_a_rebuild_never_overwrites_an_edit_committed_meanwhile(app: Flask) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    _store_directly(app, article, body_html=DIRTY)
    with transaction(app, write=False) as s:
        [stored] = rerendering.stored_batch(s, 0, 10)
    change = rerendering.rerender(stored, base_url=BASE_URL)
    assert change is not None and change.body_html == CLEAN
    edit = ArticleInput(title="Council", section_id=section, body="Fares *rise*.")
    with transaction(app) as s:
        update_article(s, article, edit, base_url=BASE_URL)
    with transaction(app) as s:
        assert rerendering.store_rerendered(s, [change]) == 0
    assert _stored(app, article) == ("<p>Fares <em>rise</em>.</p>", "Fares rise.")


def test_the_article_page_sanitises_the_stored_body_as_it_shows_it(
    app: Flask, client: FlaskClient
) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    _store_directly(app, article, body_html=DIRTY)  # no rebuild since
    page = client.get(f"/articles/{article}").get_data(as_text=True)
    assert f'<div class="body" dir="auto">{CLEAN}</div>' in page
    for trace in ("<script", "steal", "onclick", "alert"):
        assert trace not in page.lower(), trace


@pytest.mark.parametrize("source", [STORY, *NASTY, "| a | b |\n|:-|-:|\n| 1 | 2 |"])
def test_sanitising_what_render_body_made_changes_nothing(source: str) -> None:
    """So a full rebuild rewrites only rows the policy changes, and the page shows as stored."""
    try:
        html = render_body(source, base_url=BASE_URL)
    except ContentError:
        return
    assert sanitise(html, base_url=BASE_URL) == html


def test_the_hourly_full_rebuild_renders_articles_again_only_after_a_policy_change(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = make_section(app, "World News")
    article = make_article(app, section, "Council", body=SOURCE)
    assert run_pass(app, full=True).articles_rerendered == 0  # clean already; policy noted
    # A row changed behind the service's back is not looked at again every hour: with the
    # policy unchanged, re-rendering a million bodies hourly would change nothing else.
    _store_directly(app, article, body_html=DIRTY)
    assert run_pass(app, full=True).articles_rerendered == 0
    assert _stored(app, article)[0] == DIRTY
    # A policy change (an upgrade, a narrower allow-list) does reach every stored row.
    monkeypatch.setattr(content_html, "_ALLOWED_TAGS", content_html._ALLOWED_TAGS | {"mark"})
    assert run_pass(app, full=True).articles_rerendered == 1
    assert _stored(app, article)[0] == CLEAN
    # And so does `rebuild-feeds --all`, whatever the policy.
    _store_directly(app, article, body_html=DIRTY)
    done = app.test_cli_runner().invoke(args=["rebuild-feeds", "--all"])
    assert done.exit_code == 0, done.output
    assert _stored(app, article)[0] == CLEAN
