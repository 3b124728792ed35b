"""Readers' side end to end: form → publishing pass → served feeds, validated; pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree, html

from tests.support.factories import STORY, make_section
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.forms import add_article, add_section, delete_article, edit_article, edit_section
from tests.support.published import FEEDS, entries, fetch, publish

CHECK = {"rss.xml": check_rss, "atom.xml": check_atom, "feed.json": check_json}


def test_posted_article_appears_in_every_feed(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "World News", description="From everywhere.")
    add_article(editor, Author="Ana Lopez")
    publish(app)
    for prefix in ["/sections/world-news/", "/"]:
        for name in FEEDS:
            body = fetch(editor, prefix + name)
            CHECK[name](body)
            [entry] = entries(body)
            assert entry.title == "Council keeps fares"
            assert entry.link == "http://feeds.example.org/articles/1"
            assert entry.id.startswith("urn:uuid:")
            assert entry.author == "Ana Lopez"
            assert "“We will not raise fares,” the mayor said –" in entry.content
            assert entry.content.count("<p>") == 3
            assert entry.summary.startswith("The council met on Tuesday.")
            assert entry.tags == ["World News"]
            # The item's link is the article's permanent page, and it serves the story.
            page = editor.get(entry.link.removeprefix("http://feeds.example.org"))
            assert page.status_code == 200
            assert "Opposition members called the plan" in page.get_data(as_text=True)


def test_feeds_are_newest_first_and_respect_item_count(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "Business", items_per_feed=3)
    start = datetime(2026, 1, 1, 9, 0)
    for i in range(5):
        when = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M")
        add_article(editor, Title=f"Story {i}", **{"Publish at": when})
    publish(app)
    for name in FEEDS:
        items = entries(fetch(editor, f"/sections/business/{name}"))
        assert [e.title for e in items] == ["Story 4", "Story 3", "Story 2"]


def test_rendering_is_deterministic(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor)
    publish(app)
    first = {n: fetch(editor, f"/sections/world-news/{n}") for n in FEEDS}
    etags = {n: editor.get(f"/sections/world-news/{n}").headers["ETag"] for n in FEEDS}
    publish(app, full=True)
    assert {n: fetch(editor, f"/sections/world-news/{n}") for n in FEEDS} == first
    assert {n: editor.get(f"/sections/world-news/{n}").headers["ETag"] for n in FEEDS} == etags


def test_feed_updated_is_the_newest_items_not_now(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor, **{"Publish at": "2025-03-04T05:06"})
    publish(app)
    atom = etree.fromstring(fetch(editor, "/sections/world-news/atom.xml"))
    updated = atom.findtext("{http://www.w3.org/2005/Atom}updated")
    entry_updated = atom.findtext(
        "{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}updated"
    )
    assert updated == entry_updated
    rss = feedparser.parse(fetch(editor, "/sections/world-news/rss.xml"))
    assert rss.entries[0].published_parsed[:5] == (2025, 3, 4, 5, 6)


def test_empty_section_serves_valid_empty_feeds(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "Science")
    publish(app)
    for name in FEEDS:
        body = fetch(editor, f"/sections/science/{name}")
        CHECK[name](body)
        assert entries(body) == []


def test_unknown_section_is_404(client: FlaskClient, app: Flask) -> None:
    publish(app)
    for name in FEEDS:
        assert client.get(f"/sections/nope/{name}").status_code == 404
    assert client.get("/sections/nope/").status_code == 404
    assert client.get("/sections/nope/index.xml").status_code == 404


def test_flask_routes_every_feed_url_and_labels_them_as_before(
    editor: FlaskClient, app: Flask
) -> None:
    # Nothing rendered yet, so the fast path passes every request on to these routes.
    add_section(editor, "Sport")
    for url in ["/rss.xml", "/atom.xml", "/feed.json", "/opml.xml"]:
        assert editor.get(url).status_code == 503, url
    for name in FEEDS:
        assert editor.get(f"/sections/sport/{name}").status_code == 503, name
    assert editor.get("/index.xml").status_code == 404
    assert editor.get("/sections/sport/opml.xml").status_code == 404
    # The rule text is the route label of /metrics: dashboards depend on it.
    rules = {r.endpoint: r.rule for r in app.url_map.iter_rules()}
    assert rules["public.site_feed"] == "/<any(rss.xml, atom.xml, feed.json):name>"
    assert (
        rules["public.section_feed"] == "/sections/<slug>/<any(rss.xml, atom.xml, feed.json):name>"
    )
    assert rules["public.opml"] == "/opml.xml"


def test_new_section_not_rendered_yet_says_retry(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "Sport")
    response = editor.get("/sections/sport/atom.xml")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


def test_drafts_and_future_articles_stay_out_until_due(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor, Title="Draft piece", Status="draft")
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    add_article(editor, Title="Embargoed", **{"Publish at": soon})
    publish(app)
    feed = feedparser.parse(fetch(editor, "/sections/world-news/atom.xml"))
    assert feed.entries == []
    assert app.test_client().get("/articles/1").status_code == 404
    assert app.test_client().get("/articles/2").status_code == 404
    # Time passes: the scheduled one goes out at the next pass, the draft does not.
    publish(app, now=datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2))
    feed = feedparser.parse(fetch(editor, "/sections/world-news/atom.xml"))
    assert [e.title for e in feed.entries] == ["Embargoed"]


def test_edit_unpublish_and_delete_show_at_next_pass(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor, Title="First version")
    publish(app)
    guid = feedparser.parse(fetch(editor, "/atom.xml")).entries[0].id
    edit_article(editor, 1, Title="Second version")
    publish(app)
    [entry] = feedparser.parse(fetch(editor, "/sections/world-news/atom.xml")).entries
    assert (entry.title, entry.id) == ("Second version", guid)
    edit_article(editor, 1, Status="draft")
    publish(app)
    assert feedparser.parse(fetch(editor, "/sections/world-news/rss.xml")).entries == []
    edit_article(editor, 1, Status="published")
    publish(app)
    assert len(feedparser.parse(fetch(editor, "/sections/world-news/rss.xml")).entries) == 1
    delete_article(editor, 1)
    publish(app)
    for prefix in ["/sections/world-news/", "/"]:
        assert entries(fetch(editor, prefix + "feed.json")) == []


def test_moving_an_article_updates_both_sections(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "World News")
    make_section(app, "Business")
    add_article(editor, Section="1")
    publish(app)
    edit_article(editor, 1, Section="2")
    publish(app)
    assert feedparser.parse(fetch(editor, "/sections/world-news/atom.xml")).entries == []
    [entry] = feedparser.parse(fetch(editor, "/sections/business/atom.xml")).entries
    assert entry.tags[0].term == "Business"


def test_renamed_slug_moves_the_feeds(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "Tech")
    publish(app)
    edit_section(editor, 1, Slug="technology")
    publish(app)
    # The old URL leads subscribers to the new one (tests/test_history_slugs.py in full).
    old = editor.get("/sections/tech/atom.xml")
    assert old.status_code == 301
    assert old.headers["Location"] == "http://feeds.example.org/sections/technology/atom.xml"
    check_atom(fetch(editor, "/sections/technology/atom.xml"))


def test_pages_have_autodiscovery_and_feed_links(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor)
    publish(app)
    front = html.fromstring(editor.get("/").get_data(as_text=True))
    alternates = {
        link.get("type"): link.get("href") for link in front.xpath("//head/link[@rel='alternate']")
    }
    assert alternates == {
        "application/rss+xml": "http://feeds.example.org/rss.xml",
        "application/atom+xml": "http://feeds.example.org/atom.xml",
        "application/feed+json": "http://feeds.example.org/feed.json",
    }
    assert front.xpath("//a[@href='http://feeds.example.org/sections/world-news/atom.xml']")
    section = html.fromstring(editor.get("/sections/world-news/").get_data(as_text=True))
    hrefs = {link.get("href") for link in section.xpath("//head/link[@rel='alternate']")}
    assert hrefs == {f"http://feeds.example.org/sections/world-news/{n}" for n in FEEDS}
    # Every advertised feed is really there.
    for href in hrefs:
        assert editor.get(href.removeprefix("http://feeds.example.org")).status_code == 200
    assert "Council keeps fares" in section.text_content()


def test_opml_lists_every_section_feed(editor: FlaskClient, app: Flask) -> None:
    make_section(app, "World News")
    make_section(app, "Business")
    publish(app)
    response = editor.get("/opml.xml")
    assert response.status_code == 200
    doc = etree.fromstring(response.get_data())
    urls = sorted(o.get("xmlUrl") for o in doc.iter("outline"))
    assert urls == [
        "http://feeds.example.org/sections/business/rss.xml",
        "http://feeds.example.org/sections/world-news/rss.xml",
    ]
    for url in urls:
        assert editor.get(url.removeprefix("http://feeds.example.org")).status_code == 200


def test_story_with_typography_reads_back_identically(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor, Title="“Quotes” – and ‘dashes’ — too")
    publish(app)
    for name in FEEDS:
        assert (
            entries(fetch(editor, f"/sections/world-news/{name}"))[0].title
            == "“Quotes” – and ‘dashes’ — too"
        )
    assert STORY.split("\n")[0][:20] in fetch(editor, "/articles/1").decode()
