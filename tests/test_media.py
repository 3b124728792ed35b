"""Lead images and attachments: the form, the API, the feeds in three formats, the article page."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree, html
from sqlalchemy import select

from feedsvc import feeds
from feedsvc.feeds import Attachment, FeedItem, FeedMeta, Image
from feedsvc.storage.db import transaction
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, Section
from feedsvc.web.api import openapi
from tests.support.apiclient import Api, add_section, body, conforms, error, new_token
from tests.support.app import SITE_URL
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.forms import add_section as form_add_section
from tests.support.forms import edit_article, form_values, post_article
from tests.support.published import publish

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
IMAGE = "https://cdn.example.net/photos/council.jpg"
ALT = 'The mayor at the "fares" vote <in> the hall & gallery'
PODCAST = "https://cdn.example.net/audio/episode-12.mp3"
FEED_PATHS = {
    fmt: f"/sections/world-news/{name}"
    for fmt, name in (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json"))
}


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


def _stored(app: Flask, article_id: int) -> Article:
    with transaction(app, write=False) as s:
        article = s.get(Article, article_id)
        assert article is not None
        s.expunge(article)
        return article


def _queued(app: Flask) -> set[int]:
    with transaction(app, write=False) as s:
        return set(s.scalars(select(MediaProbe.article_id)))


def _feeds(client: FlaskClient) -> dict[str, bytes]:
    out = {}
    for fmt, path in FEED_PATHS.items():
        response = client.get(path)
        assert response.status_code == 200, path
        out[fmt] = response.get_data()
    return out


def _newest_article(app: Flask) -> int:
    with transaction(app, write=False) as s:
        newest = s.scalar(select(Article.id).order_by(Article.id.desc()).limit(1))
        assert newest is not None
        return int(newest)


# --- the admin form ------------------------------------------------------------------------


def test_form_takes_an_image_and_an_attachment_and_the_feeds_carry_them(
    app: Flask, editor: FlaskClient
) -> None:
    form_add_section(editor)
    response = post_article(
        editor,
        **{
            "Image URL": IMAGE,
            "Image alt text": ALT,
            "Attachment URL": PODCAST,
            "Attachment length": "12345678",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    article_id = _newest_article(app)
    stored = _stored(app, article_id)
    # The type came from the extension, the length from the editor: nothing left to probe.
    assert (stored.attachment_type, stored.attachment_length) == ("audio/mpeg", 12345678)
    assert _queued(app) == set()
    # The edit form shows the values again, under the same labels.
    values = form_values(editor.get(f"/admin/articles/{article_id}/edit"))
    assert values["image_url"] == IMAGE and values["image_alt"] == ALT
    assert values["attachment_type"] == "audio/mpeg"
    assert values["attachment_length"] == "12345678"

    publish(app)
    docs = _feeds(editor)
    rss = check_rss(docs["rss"])
    entry = rss.entries[0]
    assert entry.enclosures == [{"href": PODCAST, "type": "audio/mpeg", "length": "12345678"}]
    assert entry.media_content[0]["url"] == IMAGE
    assert entry.media_content[0]["medium"] == "image"
    assert entry.media_thumbnail[0]["url"] == IMAGE
    assert entry.link == f"{SITE_URL}/articles/{article_id}"
    # The image heads the item's HTML, its alt text escaped once (and read back as typed).
    fragment = html.fragment_fromstring(entry.content[0].value, create_parent="div")
    first = fragment[0]
    assert first.tag == "p" and first[0].tag == "img"
    assert (first[0].get("src"), first[0].get("alt")) == (IMAGE, ALT)

    root = check_atom(docs["atom"])
    links = root.find(f"{ATOM}entry").findall(f"{ATOM}link")
    assert [(x.get("rel"), x.get("type"), x.get("length")) for x in links] == [
        ("alternate", "text/html", None),
        ("enclosure", "audio/mpeg", "12345678"),
    ]
    atom = feedparser.parse(docs["atom"])
    assert atom.entries[0].link == f"{SITE_URL}/articles/{article_id}"
    assert atom.entries[0].enclosures[0]["href"] == PODCAST
    assert atom.entries[0].enclosures[0]["type"] == "audio/mpeg"
    assert atom.entries[0].enclosures[0]["length"] == "12345678"
    assert atom.entries[0].media_content[0]["url"] == IMAGE
    assert atom.entries[0].media_thumbnail[0]["url"] == IMAGE
    description = root.find(f"{ATOM}entry/{MEDIA}content/{MEDIA}description")
    assert description is not None and description.text == ALT

    item = check_json(docs["json"])["items"][0]
    assert item["image"] == IMAGE
    assert item["attachments"] == [
        {"url": PODCAST, "mime_type": "audio/mpeg", "size_in_bytes": 12345678}
    ]
    assert item["content_html"].startswith("<p><img ")

    # The article page: the image above the body, the attachment as a link.
    page = html.fromstring(editor.get(f"/articles/{article_id}").get_data(as_text=True))
    image = page.xpath("//article//figure//img")[0]
    assert (image.get("src"), image.get("alt")) == (IMAGE, ALT)
    link = page.xpath("//article//a[@download]")[0]
    assert link.get("href") == PODCAST and link.get("type") == "audio/mpeg"
    assert "12,345,678 bytes" in link.getparent().text_content()


# (fields typed, the field the message sits with, part of the message)
REFUSALS: list[tuple[dict[str, str], str, str]] = [
    ({"Image alt text": "A photo"}, "image_alt", "Image alt text needs an Image URL."),
    ({"Image URL": "javascript:alert(1)"}, "image_url", "must start with http://"),
    ({"Image URL": "ftp://example.org/a.jpg"}, "image_url", "must start with http://"),
    ({"Image URL": "https:///no-host.jpg"}, "image_url", "needs a host name"),
    ({"Image URL": "https://exa mple.org/a.jpg"}, "image_url", "must not contain spaces"),
    ({"Image URL": "https://user:pw@example.org/a.jpg"}, "image_url", "user name"),
    ({"Image URL": "https://example.org:99999/a.jpg"}, "image_url", "not a valid web"),
    ({"Image URL": "https://e.org/" + "a" * 2000}, "image_url", "longer than 2,000"),
    ({"Attachment URL": "/relative/file.mp3"}, "attachment_url", "must start with"),
    ({"Attachment type": "audio/mpeg"}, "attachment_type", "needs an Attachment URL."),
    ({"Attachment length": "12"}, "attachment_length", "needs an Attachment URL."),
    (
        {"Attachment URL": PODCAST, "Attachment type": "audio"},
        "attachment_type",
        "must be a media type like audio/mpeg",
    ),
    (
        {"Attachment URL": PODCAST, "Attachment length": "-5"},
        "attachment_length",
        "whole number of bytes",
    ),
    (
        {"Attachment URL": PODCAST, "Attachment length": "1_000"},
        "attachment_length",
        "whole number of bytes",
    ),
    (
        {"Attachment URL": PODCAST, "Attachment length": str(2**53)},
        "attachment_length",
        "from 0 to",
    ),
]


def test_form_refuses_bad_media_fields_next_to_the_field(app: Flask, editor: FlaskClient) -> None:
    form_add_section(editor)
    for fields, name, message in REFUSALS:
        response = post_article(editor, **fields)
        assert response.status_code == 200, fields  # the form again, never a 500
        page = html.fromstring(response.get_data(as_text=True))
        field = page.xpath(f"//*[@name='{name}']")[0]
        # The message sits with its field (the _macros field() block around it).
        block = field.getparent().text_content()
        assert message in block, (fields, block)
    with transaction(app, write=False) as s:
        assert s.scalar(select(Article.id)) is None  # nothing saved


def test_form_edit_keeps_found_values_and_finds_them_again_for_a_new_file(
    app: Flask, editor: FlaskClient
) -> None:
    form_add_section(editor)
    post_article(editor, **{"Attachment URL": "https://cdn.example.net/files/report"})
    article_id = _newest_article(app)
    assert _queued(app) == {article_id}  # no extension, no length: the scheduler's to find
    # What the scheduler would store; the section's revision is its concern, not this test's.
    with transaction(app) as s:
        article = s.get(Article, article_id)
        assert article is not None
        article.attachment_type, article.attachment_length = "application/pdf", 777
        s.execute(MediaProbe.__table__.delete())
    # Saving the form again (the fields show the found values) keeps them: nothing to probe.
    edit_article(editor, article_id, **{"Title": "Retitled"})
    stored = _stored(app, article_id)
    assert (stored.attachment_type, stored.attachment_length) == ("application/pdf", 777)
    assert _queued(app) == set()
    # A new file: the old file's values shown in the form are not the new one's.
    edit_article(editor, article_id, **{"Attachment URL": "https://cdn.example.net/a/talk.mp4"})
    stored = _stored(app, article_id)
    assert (stored.attachment_type, stored.attachment_length) == ("video/mp4", None)
    assert _queued(app) == {article_id}
    # Removing the file removes what described it, without a complaint about leftovers.
    edit_article(editor, article_id, **{"Attachment URL": ""})
    stored = _stored(app, article_id)
    assert (stored.attachment_url, stored.attachment_type, stored.attachment_length) == (
        "",
        "",
        None,
    )
    assert _queued(app) == set()


# --- the API -------------------------------------------------------------------------------


def test_api_round_trip_of_image_and_attachment(api: Api, app: Flask) -> None:
    add_section(api)
    response = api.post(
        "/articles",
        {
            "title": "Podcast",
            "section": "world-news",
            "body": "Listen.",
            "image_url": IMAGE,
            "image_alt": "The studio",
            "attachment_url": "https://cdn.example.net/audio/Episode%2012.M4A?dl=1",
            "attachment_length": 5000,
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    article = body(response)
    conforms(article, "Article")
    assert (article["image_url"], article["image_alt"]) == (IMAGE, "The studio")
    assert article["attachment_type"] == "audio/mp4"  # from ".M4A", whatever its case
    assert article["attachment_length"] == 5000
    assert body(api.get(f"/articles/{article['id']}")) == article

    # PATCH: a new file without type or length: both found again (the length by the scheduler).
    patched = api.patch(
        f"/articles/{article['id']}", {"attachment_url": "https://cdn.example.net/doc.pdf"}
    )
    assert patched.status_code == 200, patched.get_data(as_text=True)
    changed = body(patched)
    conforms(changed, "Article")
    assert (changed["attachment_type"], changed["attachment_length"]) == ("application/pdf", None)
    assert article["id"] in _queued(app)
    # null: no image, and its alt text goes with it; an explicit length is kept.
    cleared = body(
        api.patch(f"/articles/{article['id']}", {"image_url": None, "attachment_length": 0})
    )
    assert (cleared["image_url"], cleared["image_alt"], cleared["attachment_length"]) == ("", "", 0)
    assert article["id"] not in _queued(app)  # type and length known now


def test_api_refuses_bad_media_fields_per_field(api: Api) -> None:
    add_section(api)
    base = {"title": "T", "section": "world-news", "body": "B"}
    refused = error(
        api.post(
            "/articles",
            {
                **base,
                "image_alt": "alone",
                "attachment_url": "http://",
                "attachment_type": "not a type",
            },
        ),
        422,
    )
    assert refused["fields"]["image_alt"] == "Image alt text needs an Image URL."
    assert "needs a host name" in refused["fields"]["attachment_url"]
    assert "media type like audio/mpeg" in refused["fields"]["attachment_type"]
    # Wrong JSON types are 400 with the field named; null is fine for the length.
    wrong = error(api.post("/articles", {**base, "attachment_length": "12"}), 400)
    assert "attachment_length" in wrong["fields"]
    wrong = error(api.post("/articles", {**base, "image_url": 5}), 400)
    assert "image_url" in wrong["fields"]
    negative = error(
        api.post("/articles", {**base, "attachment_url": PODCAST, "attachment_length": -1}), 422
    )
    assert "from 0 to" in negative["fields"]["attachment_length"]
    ok = api.post("/articles", {**base, "attachment_url": PODCAST, "attachment_length": None})
    assert ok.status_code == 201


def test_openapi_documents_the_media_fields() -> None:
    schemas = openapi.document(SITE_URL)["components"]["schemas"]
    names = {"image_url", "image_alt", "attachment_url", "attachment_type", "attachment_length"}
    for name in ("ArticleCreate", "ArticlePatch", "Article"):
        assert names <= set(schemas[name]["properties"]), name
        for field in names:
            assert schemas[name]["properties"][field].get("type"), (name, field)
    assert schemas["ArticleCreate"]["properties"]["attachment_length"]["type"] == [
        "integer",
        "null",
    ]
    assert names <= set(schemas["Article"]["required"])


def test_a_save_never_touches_the_network_and_queues_the_probe(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_section(api)

    def no_network(*args: object, **kw: object) -> None:
        raise AssertionError(f"network call during a request: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    started = time.monotonic()
    response = api.post(
        "/articles",
        {
            "title": "T",
            "section": "world-news",
            "body": "B",
            "attachment_url": "https://files.example.net/unknown-length.mp3",
        },
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.get_data(as_text=True)
    assert elapsed < 2.0
    assert body(response)["attachment_length"] is None
    assert _queued(app) == {body(response)["id"]}


# --- the renderer --------------------------------------------------------------------------

_WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_META = FeedMeta(
    id="urn:uuid:00000000-0000-0000-0000-000000000001",
    title="Feed",
    description="",
    home_url="https://news.example.org/",
    self_url="https://news.example.org/feed",
    language="en",
    updated=_WHEN,
    author="News",
)


def _item(n: int, **kw: Any) -> FeedItem:
    return FeedItem(
        id=f"urn:uuid:00000000-0000-0000-0000-{n:012d}",
        url=f"https://news.example.org/articles/{n}",
        title=f"Item {n}",
        content_html="<p>Body.</p>",
        summary="Body.",
        published=_WHEN,
        updated=_WHEN,
        author=None,
        category="News",
        **kw,
    )


def test_unknown_length_and_type_stay_valid_in_every_format() -> None:
    item = _item(1, attachment=Attachment("https://f.example.org/x", "", 0), image=None)
    docs = feeds.render_all({fmt: _META for fmt in feeds.FORMATS}, [item])
    rss = check_rss(docs["rss"])
    assert rss.entries[0].enclosures[0]["length"] == "0"
    assert rss.entries[0].enclosures[0]["type"] == "application/octet-stream"
    root = check_atom(docs["atom"])
    enclosure = root.find(f"{ATOM}entry/{ATOM}link[@rel='enclosure']")
    assert enclosure is not None and enclosure.get("length") is None  # §4.2.7.6: advisory
    attachment = check_json(docs["json"])["items"][0]["attachments"][0]
    assert attachment == {"url": "https://f.example.org/x", "mime_type": "application/octet-stream"}


def test_entries_with_media_join_cached_and_fresh_renders_byte_for_byte() -> None:
    with_media = _item(
        1,
        image=Image("https://img.example.org/a.jpg?x=1&y=2", 'Quote " and <tag>'),
        attachment=Attachment("https://f.example.org/a.mp3", "audio/mpeg", 99),
    )
    plain = _item(2)
    metas = {fmt: _META for fmt in feeds.FORMATS}
    feeds.FRAGMENTS.clear()
    feeds.render_all(metas, [with_media])  # cached now
    joined = feeds.render_all(metas, [plain, with_media])  # one fresh entry, one cached
    feeds.FRAGMENTS.clear()
    whole = feeds.render_all(metas, [plain, with_media])
    assert joined == whole
    for fmt, check in (("rss", check_rss), ("atom", check_atom), ("json", check_json)):
        check(whole[fmt])
    # Only the head declares the namespace; the entries use its prefix.
    for fmt in ("rss", "atom"):
        root = etree.fromstring(whole[fmt])
        assert root.nsmap.get("media") == "http://search.yahoo.com/mrss/"
        assert whole[fmt].count(b"xmlns:media=") == 1


def test_article_page_ignores_a_stored_url_that_is_not_http(
    app: Flask, client: FlaskClient
) -> None:
    with transaction(app) as s:
        section = Section(guid="urn:uuid:x", name="World News", slug="world-news")
        s.add(section)
        s.flush()
        article = Article(
            guid="urn:uuid:y",
            section_id=section.id,
            title="T",
            body_source="B",
            body_html="<p>B</p>",
            summary="B",
            publish_at=_WHEN,
            image_url="javascript:alert(1)",
            attachment_url="data:text/html,x",
        )
        s.add(article)
        s.flush()
        article_id = article.id
    page = client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "javascript:" not in page and "data:text/html" not in page


def test_deleting_an_article_drops_its_queued_probe(api: Api, app: Flask) -> None:
    add_section(api)
    article = body(
        api.post(
            "/articles",
            {"title": "T", "section": "world-news", "body": "B", "attachment_url": PODCAST},
        )
    )
    assert _queued(app) == {article["id"]}
    response = api.delete(f"/articles/{article['id']}")
    assert response.status_code == 204
    assert _queued(app) == set()


def test_migration_0007_goes_down_and_up_keeping_articles(empty_app: Flask) -> None:
    from feedsvc.storage import migrate
    from feedsvc.storage.db import database
    from tests.support.factories import make_article, make_section

    engine = database(empty_app).engine
    migrate.upgrade(engine)
    section = make_section(empty_app)
    article_id = make_article(empty_app, section, "Kept")
    migrate.downgrade(engine, "0006")
    migrate.upgrade(engine)
    stored = _stored(empty_app, article_id)
    assert stored.title == "Kept"
    assert (stored.image_url, stored.attachment_url, stored.attachment_length) == ("", "", None)
