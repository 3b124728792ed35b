"""The JSON API's articles as a CMS uses them: the form's rules, pages, and the feeds after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.publishing.passes import run_pass
from feedsvc.storage.models import Article
from tests.support.apiclient import (
    API,
    RFC3339_UTC,
    STORY,
    Api,
    add_article,
    add_section,
    body,
    conforms,
    count,
    error,
    new_token,
)
from tests.support.app import SITE_URL
from tests.support.feedcheck import check_atom, check_json, check_rss


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


# --- articles ------------------------------------------------------------------------------


def test_article_lifecycle_reaches_the_feeds(api: Api, app: Flask) -> None:
    section = add_section(api)
    response = api.post(
        "/articles",
        {
            "title": "Council keeps fares",
            "section": section["id"],
            "body": STORY + "\n\n[More](/more)",
            "author": "Ana Lopez",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    article = body(response)
    conforms(article, "Article")
    assert response.headers["Location"] == f"{SITE_URL}{API}/articles/{article['id']}"
    assert article["url"] == f"{SITE_URL}/articles/{article['id']}"
    assert article["guid"].startswith("urn:uuid:")
    assert article["section"] == {"id": section["id"], "slug": "world-news", "name": "World News"}
    assert article["body"].startswith("The council met")  # the Markdown source
    assert article["body_html"].count("<p>") == 3
    assert 'href="http://feeds.example.org/more"' in article["body_html"]
    assert article["summary"].startswith("The council met on Tuesday.")
    assert article["summary_source"] == ""
    assert (article["status"], article["author"]) == ("published", "Ana Lopez")
    for key in ("publish_at", "created_at", "updated_at"):
        assert RFC3339_UTC.fullmatch(article[key]), article[key]
    assert body(api.get(f"/articles/{article['id']}")) == article

    assert not run_pass(app).failures
    feeds = api.client
    atom = feeds.get("/sections/world-news/atom.xml")
    assert atom.status_code == 200
    root = check_atom(atom.get_data())
    ids = [entry.findtext("{http://www.w3.org/2005/Atom}id") for entry in root]
    assert article["guid"] in ids
    rss = check_rss(feeds.get("/sections/world-news/rss.xml").get_data())
    assert [e.title for e in rss.entries] == ["Council keeps fares"]
    assert rss.entries[0].link == article["url"]
    jsonfeed = check_json(feeds.get("/sections/world-news/feed.json").get_data())
    assert jsonfeed["items"][0]["id"] == article["guid"]
    assert feeds.get(f"/articles/{article['id']}").status_code == 200

    response = api.delete(f"/articles/{article['id']}")
    assert response.status_code == 204 and response.get_data() == b""
    assert error(api.get(f"/articles/{article['id']}"), 404)["error"] == "not_found"
    assert error(api.delete(f"/articles/{article['id']}"), 404)["error"] == "not_found"
    assert not run_pass(app).failures
    rss = check_rss(feeds.get("/sections/world-news/rss.xml").get_data())
    assert rss.entries == []


def test_section_may_be_given_by_slug_and_drafts_stay_out_of_feeds(api: Api, app: Flask) -> None:
    add_section(api)
    draft = add_article(api, section="world-news", status="draft", title="Not yet")
    assert draft["status"] == "draft" and draft["publish_at"] is None
    assert not run_pass(app).failures
    rss = check_rss(api.client.get("/sections/world-news/rss.xml").get_data())
    assert rss.entries == []
    published = body(api.patch(f"/articles/{draft['id']}", {"status": "published"}))
    assert published["publish_at"] is not None and published["guid"] == draft["guid"]
    assert not run_pass(app).failures
    rss = check_rss(api.client.get("/sections/world-news/rss.xml").get_data())
    assert [e.title for e in rss.entries] == ["Not yet"]


def test_patch_keeps_guid_and_every_untouched_field(api: Api, app: Flask) -> None:
    add_section(api)
    add_section(api, "Business")
    original = add_article(
        api,
        summary="Fares stay.",
        author="Ana Lopez",
        publish_at="2026-03-04T05:06:07+01:00",
    )
    assert original["publish_at"] == "2026-03-04T04:06:07Z"  # stored and shown in UTC
    response = api.patch(f"/articles/{original['id']}", {"title": "Council keeps fares, for now"})
    assert response.status_code == 200, response.get_data(as_text=True)
    patched = body(response)
    conforms(patched, "Article")
    for key in original.keys() - {"title", "updated_at", "version"}:
        assert patched[key] == original[key], key
    assert patched["title"] == "Council keeps fares, for now"
    assert patched["version"] == original["version"] + 1  # every save moves it on

    # An empty patch changes nothing a reader sees; null clears the optional fields.
    same = body(api.patch(f"/articles/{original['id']}", {}))
    saved = {"updated_at", "version"}  # a save, if an empty one
    assert {k: v for k, v in same.items() if k not in saved} == {
        k: v for k, v in patched.items() if k not in saved
    }
    cleared = body(
        api.patch(
            f"/articles/{original['id']}",
            {"summary": None, "author": None},
            content_type="application/merge-patch+json",
        )
    )
    assert cleared["summary_source"] == "" and cleared["author"] == ""
    assert cleared["summary"].startswith("The council met on Tuesday.")  # derived again
    assert cleared["publish_at"] == original["publish_at"] and cleared["guid"] == original["guid"]

    moved = body(api.patch(f"/articles/{original['id']}", {"section": "business"}))
    assert moved["section"]["slug"] == "business" and moved["guid"] == original["guid"]
    assert moved["body"] == original["body"]


def test_patch_of_a_missing_article_is_404(api: Api) -> None:
    add_section(api)
    assert error(api.patch("/articles/999", {"title": "x"}), 404)["error"] == "not_found"


@pytest.mark.parametrize(
    ("fields", "field", "phrase"),
    [
        ({"title": "   "}, "title", "Title is required."),
        ({"title": "T" * 301}, "title", "longer than 300"),
        ({"body": ""}, "body", "Body is required."),
        ({"body": "<script>x</script>"}, "body", "Body is required."),
        ({"body": "x" * 200_001}, "body", "longer than 200,000"),
        ({"summary": "s" * 1001}, "summary", "at most 1000"),
        ({"author": "a" * 121}, "author", "longer than 120"),
        ({"status": "live"}, "status", "“published” or “draft”"),
        ({"section": "no-such-section"}, "section", "no section with the slug “no-such-section”"),
        ({"section": 999}, "section", "no section with the id 999"),
        ({"section": 10**40}, "section", "no section with the id"),
        ({"section": -1}, "section", "no section with the id -1"),
        ({"publish_at": "2026-11-28T14:30:00"}, "publish_at", "time zone"),
        ({"publish_at": "2026-11-28 14:30"}, "publish_at", "RFC 3339"),
        ({"publish_at": "next tuesday"}, "publish_at", "RFC 3339"),
        ({"publish_at": "2026-02-30T10:00:00Z"}, "publish_at", "not a real date"),
        ({"publish_at": "2026-11-28T24:00:00Z"}, "publish_at", "not a real date"),
        ({"publish_at": "2026-11-28T10:00:00+24:00"}, "publish_at", "not a real date"),
        ({"publish_at": "0001-01-01T00:00:00+01:00"}, "publish_at", "between 1970 and 2100"),
        ({"publish_at": "9999-12-31T23:59:59-01:00"}, "publish_at", "between 1970 and 2100"),
        ({"publish_at": "２０２６-11-28T14:30:00Z"}, "publish_at", "RFC 3339"),
    ],
)
def test_article_validation_errors_are_422_per_field_and_nothing_is_stored(
    api: Api, app: Flask, fields: dict[str, Any], field: str, phrase: str
) -> None:
    add_section(api)
    payload = {"title": "Council keeps fares", "section": "world-news", "body": STORY, **fields}
    found = error(api.post("/articles", payload), 422)
    assert found["error"] == "validation_failed"
    assert phrase in found["fields"][field], found
    assert count(app, Article) == 0


def test_a_naive_publish_time_is_explained(api: Api, app: Flask) -> None:
    add_section(api)
    found = error(api.post("/articles", {
        "title": "t", "section": "world-news", "body": "b", "publish_at": "2026-11-28T14:30:00"
    }), 422)  # fmt: skip
    message = found["fields"]["publish_at"]
    assert "time zone" in message and "2026-11-28T14:30:00Z" in message and "+01:00" in message


def test_several_bad_fields_are_reported_together(api: Api, app: Flask) -> None:
    add_section(api)
    found = error(api.post("/articles", {"title": "", "section": "nope", "body": ""}), 422)
    assert set(found["fields"]) == {"title", "section", "body"}
    assert count(app, Article) == 0


def test_failed_article_patch_changes_nothing(api: Api, app: Flask) -> None:
    add_section(api)
    article = add_article(api)
    error(api.patch(f"/articles/{article['id']}", {"title": "New", "body": "  "}), 422)
    error(api.patch(f"/articles/{article['id']}", {"title": "New", "status": 1}), 400)
    assert body(api.get(f"/articles/{article['id']}")) == article


def test_publish_at_offsets_and_fractions_are_normalised_to_utc(api: Api) -> None:
    add_section(api)
    cases = {
        "2026-11-28T14:30:00Z": "2026-11-28T14:30:00Z",
        "2026-11-28t14:30:00z": "2026-11-28T14:30:00Z",
        "2026-11-28T14:30:00.987654321-05:30": "2026-11-28T20:00:00Z",
        "2026-11-28T00:10:00+01:00": "2026-11-27T23:10:00Z",
        "2026-11-28T14:30:00-00:00": "2026-11-28T14:30:00Z",
    }
    for given, stored in cases.items():
        assert add_article(api, publish_at=given)["publish_at"] == stored, given


def test_a_future_publish_time_schedules_the_article(api: Api, app: Flask) -> None:
    add_section(api)
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    article = add_article(api, publish_at=later)
    assert article["status"] == "published" and article["publish_at"] == later
    assert not run_pass(app).failures
    assert check_rss(api.client.get("/sections/world-news/rss.xml").get_data()).entries == []
    assert api.client.get(f"/articles/{article['id']}").status_code == 404


# --- listing and pagination ------------------------------------------------------------------


def test_articles_are_listed_newest_first_a_page_at_a_time(api: Api, app: Flask) -> None:
    add_section(api)
    add_section(api, "Business")
    made = [add_article(api, title=f"Story {i}") for i in range(7)]
    add_article(api, title="Elsewhere", section="business")
    add_article(api, title="Draft", status="draft")

    response = api.get("/articles", query_string={"section": "world-news", "limit": "3"})
    assert response.status_code == 200
    page = body(response)
    conforms(page, "ArticleList")
    titles: list[str] = []
    pages = 0
    while True:
        pages += 1
        titles += [a["title"] for a in page["articles"]]
        ids = [a["id"] for a in page["articles"]]
        assert ids == sorted(ids, reverse=True)
        if page["next"] is None:
            assert "Link" not in response.headers
            break
        assert response.headers["Link"] == f'<{page["next"]}>; rel="next"'
        assert page["next"].startswith(f"{SITE_URL}{API}/articles?")
        assert "section=world-news" in page["next"] and "limit=3" in page["next"]
        response = api.client.get(page["next"].removeprefix(SITE_URL), headers=api.headers())
        page = body(response)
    assert pages == 3
    assert titles == ["Draft", *[a["title"] for a in reversed(made)]]

    published = body(api.get("/articles", query_string={"status": "published", "limit": "100"}))
    assert len(published["articles"]) == 8 and published["next"] is None
    drafts = body(api.get("/articles", query_string={"status": "draft"}))
    assert [a["title"] for a in drafts["articles"]] == ["Draft"]
    default = body(api.get("/articles"))
    assert len(default["articles"]) == 9
    before = body(api.get("/articles", query_string={"before_id": str(made[2]["id"])}))
    assert [a["id"] for a in before["articles"]] == [made[1]["id"], made[0]["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"before_id": "abc"}, "before_id"),
        ({"before_id": "99999999999999"}, "before_id"),
        ({"status": "scheduled"}, "status"),
    ],
)
def test_bad_query_parameters_are_400(api: Api, query: dict[str, str], field: str) -> None:
    assert field in error(api.get("/articles", query_string=query), 400)["fields"]


def test_listing_an_unknown_section_is_404(api: Api) -> None:
    assert error(api.get("/articles?section=nope"), 404)["error"] == "not_found"
    assert error(api.get("/articles?section=%00"), 404)["error"] == "not_found"
