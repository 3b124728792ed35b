"""Tags and authors as editors enter them: normalisation, slugs, the form, the API, the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from feedsvc.articles import ArticleInput, create_article, update_article
from feedsvc.content.text import ContentError
from feedsvc.errors import ValidationError
from feedsvc.limits import TAG_MAX, TAGS_MAX
from feedsvc.scopes import Scope
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, utcnow
from feedsvc.storage.topics import ArticleTopic, Topic
from feedsvc.topics import article_tags, clean_tags, split_tags
from tests.support.apiclient import Api, body, conforms, error, new_token
from tests.support.apiclient import add_article as api_add_article
from tests.support.apiclient import add_section as api_add_section
from tests.support.factories import BASE_URL, make_section
from tests.support.forms import (
    add_article,
    edit_article,
    form_values,
    labelled_fields,
    post_article,
)


def store(app: Flask, section_id: int, title: str, tags: tuple[str, ...] = (), **kw: object) -> int:
    data = ArticleInput(title=title, section_id=section_id, body="Text.", tags=tags, **kw)  # type: ignore[arg-type]
    with transaction(app) as s:
        return create_article(s, data, base_url=BASE_URL).id


def topics(app: Flask) -> dict[tuple[str, str], str]:
    with transaction(app, write=False) as s:
        return {(t.kind, t.slug): t.name for t in s.scalars(select(Topic))}


# --- normalisation ---------------------------------------------------------------------------


def test_tags_are_trimmed_collapsed_and_deduplicated_case_insensitively() -> None:
    typed = split_tags("  Climate   change , energy,,CLIMATE CHANGE, Énergie ,\tcities\n ")
    assert clean_tags(typed) == ("Climate change", "energy", "Énergie", "cities")


def test_two_spellings_with_one_slug_are_one_tag() -> None:
    # "Énergie" and "energie" share the slug "energie"; "Energy" is another tag.
    assert clean_tags(["Énergie", "energie", "Energy", "e-n-e-r-g-i-e"]) == (
        "Énergie",
        "Energy",
        "e-n-e-r-g-i-e",
    )
    assert clean_tags(["New York", "new-york", "NEW  YORK"]) == ("New York",)


def test_bad_tags_are_refused_with_a_sentence() -> None:
    with pytest.raises(ContentError, match="control characters"):
        clean_tags(["fine", "bell\x07"])
    with pytest.raises(ContentError, match=f"at most {TAG_MAX} characters"):
        clean_tags(["x" * (TAG_MAX + 1)])
    with pytest.raises(ContentError, match=f"at most {TAGS_MAX} tags"):
        clean_tags([f"tag {i}" for i in range(TAGS_MAX + 1)])
    # Exactly at the limits is fine, and duplicates do not count against the limit.
    assert len(clean_tags([f"tag {i}" for i in range(TAGS_MAX)] + ["TAG 0"])) == TAGS_MAX
    assert clean_tags(["x" * TAG_MAX]) == ("x" * TAG_MAX,)


def test_one_topic_per_slug_named_by_its_first_spelling(app: Flask) -> None:
    section = make_section(app)
    store(app, section, "One", ("Climate Change",), author="Ana López")
    store(app, section, "Two", ("climate  change", "Cities"), author="ana lopez")
    assert topics(app) == {
        ("tag", "climate-change"): "Climate Change",
        ("tag", "cities"): "Cities",
        ("author", "ana-lopez"): "Ana López",
    }
    with transaction(app, write=False) as s:
        second = s.scalars(select(Article).where(Article.title == "Two")).one()
        assert article_tags(s, second.id) == ("Climate Change", "Cities")  # the editor's order


def test_links_copy_status_and_publish_time_and_follow_every_save(app: Flask) -> None:
    section = make_section(app)
    later = utcnow() + timedelta(hours=2)
    article_id = store(app, section, "Draft", ("Energy",), author="Bo", status="draft")

    def links() -> set[tuple[str, str, object]]:
        with transaction(app, write=False) as s:
            rows = s.execute(
                select(Topic.slug, ArticleTopic.status, ArticleTopic.publish_at)
                .join(Topic, Topic.id == ArticleTopic.topic_id)
                .where(ArticleTopic.article_id == article_id)
            )
            return {tuple(row) for row in rows}  # type: ignore[misc]

    assert links() == {("energy", "draft", None), ("bo", "draft", None)}
    with transaction(app) as s:
        update_article(
            s,
            article_id,
            ArticleInput(
                title="Draft",
                section_id=section,
                body="Text.",
                tags=("Cities",),
                author="Bo",
                publish_at=later,
            ),
            base_url=BASE_URL,
        )
    assert links() == {("cities", "published", later), ("bo", "published", later)}


def test_a_bad_tag_stores_nothing(app: Flask) -> None:
    section = make_section(app)
    with pytest.raises(ValidationError) as refused, transaction(app) as s:
        create_article(
            s,
            ArticleInput(title="T", section_id=section, body="B", tags=("ok", "\x01")),
            base_url=BASE_URL,
        )
    assert "tags" in refused.value.errors
    assert topics(app) == {}


def test_scope_keys_are_stable_strings() -> None:
    for key in ("site", "section:3", "tag:12", "author:7"):
        assert Scope.parse(key).key == key
    for bad in ("", "tag", "tag:", "tag:x", "sections:1", "site:1", "tag:-1"):
        with pytest.raises(ValueError):
            Scope.parse(bad)


# --- the admin form --------------------------------------------------------------------------


def test_the_form_takes_tags_and_shows_them_again(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    page = editor.get("/admin/articles/new").get_data(as_text=True)
    assert "Tags" in labelled_fields(page)
    add_article(editor, Tags=" markets,  Public   transport ,MARKETS", Author="Ana Lopez")
    with transaction(app, write=False) as s:
        article = s.scalars(select(Article)).one()
        assert article_tags(s, article.id) == ("markets", "Public transport")
    edit_form = editor.get(f"/admin/articles/{article.id}/edit")
    assert form_values(edit_form)["tags"] == "markets, Public transport"
    edit_article(editor, article.id, Tags="Public transport")
    with transaction(app, write=False) as s:
        assert article_tags(s, article.id) == ("Public transport",)


def test_a_bad_tag_is_a_field_error_on_the_form(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    response = post_article(editor, Tags=", ".join(f"t{i}" for i in range(TAGS_MAX + 1)))
    assert response.status_code == 200
    doc = html.fromstring(response.get_data(as_text=True))
    assert f"at most {TAGS_MAX} tags" in doc.get_element_by_id("tags-error").text_content()


def test_the_author_field_suggests_known_authors(editor: FlaskClient, app: Flask) -> None:
    section = make_section(app)
    store(app, section, "One", author="Zoë Berg")
    store(app, section, "Two", author="ana lopez")
    doc = html.fromstring(editor.get("/admin/articles/new").get_data(as_text=True))
    author = doc.get_element_by_id("author")
    options = doc.xpath(f"//datalist[@id='{author.get('list')}']/option/@value")
    assert options == ["ana lopez", "Zoë Berg"]


# --- the API ---------------------------------------------------------------------------------


def test_the_api_takes_and_returns_tags(app: Flask, client: FlaskClient) -> None:
    api = Api(client, new_token(app))
    api_add_section(api)
    created = api_add_article(api, tags=["Markets", " markets ", "Fares"])
    conforms(created, "Article")
    assert created["tags"] == ["Markets", "Fares"]
    # A PATCH without "tags" keeps them; one with them replaces them; null clears them.
    path = f"/articles/{created['id']}"
    assert body(api.patch(path, {"title": "New title"}))["tags"] == ["Markets", "Fares"]
    assert body(api.get(path))["tags"] == ["Markets", "Fares"]
    assert body(api.patch(path, {"tags": ["Cities"]}))["tags"] == ["Cities"]
    assert body(api.patch(path, {"tags": None}))["tags"] == []


def test_the_api_refuses_tags_that_are_not_a_list_of_strings(
    app: Flask, client: FlaskClient
) -> None:
    api = Api(client, new_token(app))
    api_add_section(api)
    for bad in ("markets", [1, 2], {"a": 1}):
        response = api.post(
            "/articles", {"title": "T", "section": "world-news", "body": "B", "tags": bad}
        )
        assert "tags" in error(response, 400)["fields"]
    response = api.post(
        "/articles",
        {"title": "T", "section": "world-news", "body": "B", "tags": ["ok", "x" * (TAG_MAX + 1)]},
    )
    assert "tags" in error(response, 422)["fields"]


# --- pages -----------------------------------------------------------------------------------


def test_article_page_links_its_tags_and_author(app: Flask, client: FlaskClient) -> None:
    section = make_section(app)
    article_id = store(app, section, "Story", ("Public transport", "Fares"), author="Ana López")
    doc = html.fromstring(client.get(f"/articles/{article_id}").get_data(as_text=True))
    assert doc.xpath("//a[@rel='tag']/@href") == ["/tags/public-transport/", "/tags/fares/"]
    assert doc.xpath("//a[@rel='author']/@href") == ["/authors/ana-lopez/"]


def test_tag_and_author_pages_list_their_articles_with_autodiscovery(
    app: Flask, client: FlaskClient
) -> None:
    section = make_section(app)
    store(app, section, "Older", ("Fares",), author="Ana", publish_at=utcnow() - timedelta(hours=1))
    store(app, section, "Newer", ("Fares",))
    store(app, section, "Elsewhere", ("Cities",), author="Ana")
    store(app, section, "Not yet", ("Fares",), publish_at=utcnow() + timedelta(hours=1))
    page = client.get("/tags/fares/")
    assert page.status_code == 200
    doc = html.fromstring(page.get_data(as_text=True))
    assert [a.text_content() for a in doc.xpath("//ul[@class='articles']/li/a")] == [
        "Newer",
        "Older",
    ]
    alternates = doc.xpath("//link[@rel='alternate']")
    assert {(link.get("type"), link.get("href")) for link in alternates} == {
        ("application/rss+xml", "http://feeds.example.org/tags/fares/rss.xml"),
        ("application/atom+xml", "http://feeds.example.org/tags/fares/atom.xml"),
        ("application/feed+json", "http://feeds.example.org/tags/fares/feed.json"),
    }
    author = html.fromstring(client.get("/authors/ana/").get_data(as_text=True))
    assert [a.text_content() for a in author.xpath("//ul[@class='articles']/li/a")] == [
        "Elsewhere",
        "Older",
    ]
    assert client.get("/tags/no-such-tag/").status_code == 404
    assert client.get("/authors/fares/").status_code == 404  # a tag's slug is not an author's
    assert client.get("/tags/Not%20a%20slug/").status_code == 404
