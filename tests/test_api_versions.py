"""The API's answer to lost updates: ETag per article version, If-Match, 412 (RFC 9110 §13.1.1)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from feedsvc.storage.models import Article
from tests.support.apiclient import (
    Api,
    add_article,
    add_section,
    body,
    conforms,
    count,
    new_token,
)
from tests.support.forms import submit


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    api = Api(client, new_token(app))
    add_section(api)
    return api


def patch(api: Api, article_id: int, payload: Any, if_match: str | None) -> TestResponse:
    headers = {"If-Match": if_match} if if_match is not None else None
    return api.patch(f"/articles/{article_id}", payload, headers=headers)


def delete(api: Api, article_id: int, if_match: str) -> TestResponse:
    return api.client.delete(
        f"/api/v1/articles/{article_id}", headers=api.headers({"If-Match": if_match})
    )


def precondition_failed(response: TestResponse) -> dict[str, Any]:
    """A 412 in the API's error shape, with the stored article and its ETag."""
    assert response.status_code == 412, response.get_data(as_text=True)
    payload = dict(body(response))
    conforms(payload, "Error")
    assert payload["error"] == "precondition_failed"
    assert payload["message"].endswith(".")
    assert (
        response.headers["ETag"] == f'"{payload["current"]["id"]}-{payload["current"]["version"]}"'
    )
    return payload


def test_get_post_and_patch_carry_a_strong_etag_of_the_version(api: Api) -> None:
    created = api.post("/articles", {"title": "Fares", "section": "world-news", "body": "Text."})
    assert created.status_code == 201
    article = body(created)
    conforms(article, "Article")
    assert article["version"] == 1
    etag = f'"{article["id"]}-1"'
    assert created.headers["ETag"] == etag
    read = api.get(f"/articles/{article['id']}")
    assert read.headers["ETag"] == etag and not etag.startswith("W/")
    saved = patch(api, article["id"], {"title": "Fares rise"}, etag)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert body(saved)["version"] == 2
    assert saved.headers["ETag"] == f'"{article["id"]}-2"'
    assert api.get(f"/articles/{article['id']}").headers["ETag"] == saved.headers["ETag"]


def test_a_patch_against_a_stale_etag_is_412_and_changes_nothing(
    app: Flask, api: Api, editor: FlaskClient
) -> None:
    article = add_article(api)
    stale = api.get(f"/articles/{article['id']}").headers["ETag"]
    # An editor saves through the admin form meanwhile.
    edit = f"/admin/articles/{article['id']}/edit"
    assert submit(editor, edit, {"Title": "Council raises fares"}).status_code == 302
    before = body(api.get(f"/articles/{article['id']}"))

    refused = patch(api, article["id"], {"title": "Mine", "author": before["author"]}, stale)
    payload = precondition_failed(refused)
    assert payload["current"] == before  # the article as stored, version 2
    assert payload["current"]["version"] == 2
    assert payload["fields"] == {"title": "The stored title is now “Council raises fares”."}
    assert "saved by editor" in payload["message"]
    assert body(api.get(f"/articles/{article['id']}")) == before  # nothing was written

    # With the current ETag, the same change goes through.
    current = refused.headers["ETag"]
    saved = patch(api, article["id"], {"title": "Mine"}, current)
    assert saved.status_code == 200
    assert body(saved)["title"] == "Mine" and body(saved)["version"] == 3


def test_if_match_star_lists_and_weak_tags(api: Api) -> None:
    article = add_article(api)
    a_id = article["id"]
    assert patch(api, a_id, {"author": "A"}, "*").status_code == 200  # any current version
    listed = f'"{a_id}-1", "{a_id}-2"'
    assert patch(api, a_id, {"author": "B"}, listed).status_code == 200  # one of them is current
    # Strong comparison (RFC 9110 §8.8.3.2): a weak tag never matches, nor does garbage.
    for header in (f'W/"{a_id}-3"', "", "not-a-tag", f'"{a_id + 1}-3"'):
        precondition_failed(patch(api, a_id, {"author": "C"}, header))
    assert body(api.get(f"/articles/{a_id}"))["author"] == "B"
    # No such article: 404 whatever If-Match says (§13.2.1: preconditions come after that).
    assert patch(api, a_id + 1000, {"author": "C"}, "*").status_code == 404


def test_without_if_match_a_write_is_unconditional(api: Api) -> None:
    """The documented choice: clients written before versions keep working (last write wins)."""
    article = add_article(api)
    patch(api, article["id"], {"title": "One"}, None)
    saved = patch(api, article["id"], {"title": "Two"}, None)
    assert saved.status_code == 200 and body(saved)["version"] == 3


def test_the_precondition_comes_before_the_body(api: Api) -> None:
    """RFC 9110 §13.2.2: a stale If-Match is 412 even when the body would be refused."""
    article = add_article(api)
    stale = f'"{article["id"]}-0"'
    response = api.patch(
        f"/articles/{article['id']}", raw=b"{not json", headers={"If-Match": stale}
    )
    assert precondition_failed(response)["fields"] == {}


def test_a_delete_against_a_stale_etag_is_412_and_keeps_the_article(app: Flask, api: Api) -> None:
    article = add_article(api)
    stale = api.get(f"/articles/{article['id']}").headers["ETag"]
    fresh = patch(api, article["id"], {"body": "New text someone wrote."}, stale)
    precondition_failed(delete(api, article["id"], stale))
    assert count(app, Article) == 1
    assert delete(api, article["id"], fresh.headers["ETag"]).status_code == 204
    assert count(app, Article) == 0


def race(app: Flask, token: str | None, article_id: int, etag: str) -> list[int]:
    """Two clients PATCH with the same If-Match at once; their statuses."""
    start = threading.Barrier(2, timeout=30)
    statuses: list[int] = []

    def save(title: str) -> None:
        client = Api(app.test_client(), token)
        start.wait()
        statuses.append(patch(client, article_id, {"title": title}, etag).status_code)

    threads = [threading.Thread(target=save, args=(f"Title {n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a PATCH hung"
    return statuses


def test_two_patches_of_one_version_at_once_one_wins(app: Flask, api: Api) -> None:
    """Two CMS clients race with the same ETag: one 200, one 412, on the engine under test."""
    article = add_article(api)
    rounds = 5
    for _ in range(rounds):
        etag = api.get(f"/articles/{article['id']}").headers["ETag"]
        assert sorted(race(app, api.token, article["id"], etag)) == [200, 412]
    assert body(api.get(f"/articles/{article['id']}"))["version"] == 1 + rounds
