"""Hostile titles through the real path: posted to the API, published, read back from the RSS
feeds as text and as HTML. Neither reading may show markup, and both show what was stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from feedsvc.limits import ITEMS_PER_FEED_MAX, ROLE_ADMIN
from feedsvc.storage.db import database, transaction
from feedsvc.users import create_user
from tests.support.apiclient import Api, add_article, add_section, body, new_token
from tests.support.app import EDITOR, make_app
from tests.support.feedcheck import check_json, check_rss
from tests.support.published import fetch, publish
from tests.support.readings import JOINER, as_html, corpus, feedparser_reading, visible

SITE_NAME = '<a href="vbscript:msgbox(1)">Example</a> News & Q&A'
SITE_DESCRIPTION = "<iframe srcdoc=x>News from &amp; for </ the newsroom"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
CORPUS = corpus()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with a hostile site name and description, and a site feed that takes them all."""
    app = make_app(
        database_url,
        tmp_path,
        SITE_NAME=SITE_NAME,
        SITE_DESCRIPTION=SITE_DESCRIPTION,
        SITE_FEED_ITEMS=ITEMS_PER_FEED_MAX,
    )
    with transaction(app) as s:
        create_user(s, *EDITOR, role=ROLE_ADMIN)
    yield app
    database(app).dispose()


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


class Readings:
    """Every RSS field read both ways: what went wrong, and which entries were live markup."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        # ("title as HTML", "title in feedparser", ...) -> the guids or texts concerned: read
        # as markup, or as text other than what was stored (say "x<y" shown as "x").
        self.live: dict[str, set[str]] = defaultdict(set)
        self.altered: dict[str, set[str]] = defaultdict(set)

    def xml_text(self, where: str, field: str, key: str, text: str | None, stored: str) -> None:
        """One field's XML text value: as text, and parsed as an HTML fragment (html5lib)."""
        text = text or ""
        if visible(text) != visible(stored):
            self.problems.append(f"{where} {field}: text {text!r} is not {stored!r}")
        reading = as_html(text)
        if reading.live:
            self.live[f"{field} as HTML"].add(key)
            self.problems.append(f"{where} {field}: HTML builds {reading.markup} from {text!r}")
        elif visible(reading.text) != visible(stored):
            self.altered[f"{field} as HTML"].add(key)
            self.problems.append(f"{where} {field}: HTML shows {reading.text!r}, not {stored!r}")

    def feedparser(
        self, where: str, field: str, key: str, value: str, content_type: str, stored: str
    ) -> None:
        """What feedparser returns (sanitised, typed by its "looks like HTML" guess)."""
        reading = feedparser_reading(value, content_type)
        if reading.live:
            self.live[f"{field} in feedparser"].add(key)
            self.problems.append(f"{where} {field}: feedparser gives {content_type} {value!r}")
        elif visible(reading.text) != visible(stored):
            self.altered[f"{field} in feedparser"].add(key)
            self.problems.append(
                f"{where} {field}: feedparser shows {reading.text!r}, not {stored!r}"
            )

    def report(self, of: str) -> str:
        def counts(found: dict[str, set[str]]) -> str:
            return ", ".join(f"{label} {len(keys)}" for label, keys in sorted(found.items()))

        return (
            f"Of {of}: live markup: {counts(self.live) or 'none'}; other text shown: "
            f"{counts(self.altered) or 'none'}; {len(self.problems)} problems:\n"
            + "\n".join(self.problems[:60])
        )


def _post_corpus(api: Api) -> dict[str, dict[str, Any]]:
    """Every corpus title as an article (short ones also as its author), by guid as stored."""
    add_section(api, "Hostile", items_per_feed=ITEMS_PER_FEED_MAX)
    stored = {}
    for category, title in CORPUS:
        fields: dict[str, Any] = {"title": title, "section": "hostile", "body": "Body."}
        if len(title) <= 100:  # AUTHOR_MAX is 120
            fields["author"] = title
        response = api.post("/articles", fields)
        assert response.status_code == 201, (category, title, response.get_data(as_text=True))
        article = body(response)
        # Stored as typed (trimmed, XML-illegal characters dropped): no joiner added there.
        assert article["title"].count(JOINER) == title.count(JOINER)
        stored[article["guid"]] = article
    return stored


def test_corpus_is_large_and_covers_the_classic_vectors() -> None:
    assert len(CORPUS) >= 150
    titles = "\n".join(title for _, title in CORPUS)
    for vector in [
        "<script>",
        "onerror=",
        "<svg onload",
        "<details open ontoggle=",
        'href="vbscript:',
        '<embed src="javascript:',
        "<iframe srcdoc=",
        '<button formaction="javascript:',
        "<math>",
        "<style>",
        "<!--",
        "<![CDATA[",
        "&lt;script&gt;",
        "&#60;",
        "&#x3C;",
        "\x00",
        "A < B",
        "Q&A",
        "Fish &amp chips",
        "AT&T",
        "1 < 2 > 0",
    ]:
        assert vector in titles, vector
    assert max(len(title) for _, title in CORPUS) >= 290


def test_hostile_titles_read_the_same_as_text_and_as_html_in_every_rss_feed(
    api: Api, app: Flask, client: FlaskClient
) -> None:
    stored = _post_corpus(api)
    publish(app)
    readings = Readings()
    for path in ("/sections/hostile/rss.xml", "/rss.xml"):
        rss = fetch(client, path)
        parsed = check_rss(rss)  # strict XML, RSS 2.0 rules, feedparser without bozo
        channel = etree.fromstring(rss).find("channel")
        assert channel is not None
        items = channel.findall("item")
        assert sorted(item.findtext("guid", "") for item in items) == sorted(stored)
        for item in items:
            guid = item.findtext("guid", "")
            title, creator = stored[guid]["title"], stored[guid]["author"] or SITE_NAME
            readings.xml_text(path, "title", guid, item.findtext("title"), title)
            readings.xml_text(path, "dc:creator", guid, item.findtext(DC_CREATOR), creator)
        for entry in parsed.entries:
            title, creator = stored[entry.id]["title"], stored[entry.id]["author"] or SITE_NAME
            readings.feedparser(
                path, "title", entry.id, entry.title, entry.title_detail.type, title
            )
            # feedparser gives no type for a name: a reader may take it either way.
            readings.xml_text(path, "feedparser author", entry.id, entry.author, creator)
    assert not readings.problems, readings.report(f"{len(stored)} titles")


def test_atom_and_json_feed_carry_the_titles_exactly_as_stored(
    api: Api, app: Flask, client: FlaskClient
) -> None:
    stored = _post_corpus(api)
    publish(app)
    # Atom text constructs say type="text" (RFC 4287 §3.1.1) and feedparser does not guess
    # for Atom; JSON Feed 1.1 defines "title" as plain text. No joiners, no changes.
    atom = feedparser.parse(fetch(client, "/sections/hostile/atom.xml"))
    assert atom.bozo == 0, atom.get("bozo_exception")
    assert len(atom.entries) == len(stored)
    for entry in atom.entries:
        assert entry.title_detail.type == "text/plain"
        assert entry.title == stored[entry.id]["title"]
    feed = check_json(fetch(client, "/sections/hostile/feed.json"))
    assert {item["id"]: item["title"] for item in feed["items"]} == {
        guid: article["title"] for guid, article in stored.items()
    }
    assert JOINER not in str(atom.entries) and JOINER not in str(feed)


def test_hostile_section_and_site_names_read_the_same_as_text_and_as_html(
    api: Api, app: Flask, client: FlaskClient
) -> None:
    # Section names and descriptions become channel titles, descriptions and item categories.
    short = [title for category, title in CORPUS if category != "benign" and len(title) <= 100]
    names = short[::6]
    sections, section_of = [], {}
    for n, name in enumerate(names):
        section = add_section(api, name, slug=f"s{n}", description=short[-1 - n])
        article = add_article(api, section=section["id"])  # no author: the site name stands in
        sections.append(section)
        section_of[article["guid"]] = section
    publish(app)
    readings = Readings()
    feeds = [(f"/sections/{s['slug']}/rss.xml", s) for s in sections] + [("/rss.xml", None)]
    for path, section in feeds:
        rss = fetch(client, path)
        parsed = check_rss(rss)
        channel = etree.fromstring(rss).find("channel")
        assert channel is not None
        title = SITE_NAME if section is None else f"{SITE_NAME}: {section['name']}"
        description = SITE_DESCRIPTION if section is None else section["description"]
        readings.xml_text(path, "channel title", title, channel.findtext("title"), title)
        readings.xml_text(
            path, "description", description, channel.findtext("description"), description
        )
        feed = parsed.feed
        readings.feedparser(path, "channel title", title, feed.title, feed.title_detail.type, title)
        readings.feedparser(
            path, "description", description, feed.subtitle, feed.subtitle_detail.type, description
        )
        items = channel.findall("item")
        assert len(items) == len(parsed.entries) == (len(sections) if section is None else 1)
        for item, entry in zip(items, parsed.entries, strict=True):
            name = section_of[item.findtext("guid", "")]["name"]
            readings.xml_text(path, "category", name, item.findtext("category"), name)
            creator = item.findtext(DC_CREATOR)
            readings.xml_text(path, "dc:creator", SITE_NAME, creator, SITE_NAME)
            # feedparser gives no type for a category or a name: a reader may take either.
            (tag,) = entry.tags
            readings.xml_text(path, "feedparser category", name, tag.term, name)
            readings.xml_text(path, "feedparser author", SITE_NAME, entry.author, SITE_NAME)
    assert len(sections) >= 20
    of = f"{len(sections)} section names and descriptions, the site's name and description"
    assert not readings.problems, readings.report(of)
