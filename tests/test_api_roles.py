"""A token acts as its account: that account's role, the token's own scope, expiry, and the
account's state; and articles say who wrote and last changed them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select, update

from feedsvc.storage.db import transaction
from feedsvc.storage.models import ApiToken, Article, Section, User, utcnow
from feedsvc.users import create_user, disable_user, enable_user
from tests.support.apiclient import (
    API,
    Api,
    add_article,
    add_section,
    api_rules,
    body,
    concrete,
    conforms,
    count,
    error,
    new_token,
)
from tests.support.app import EDITOR, WRITER
from tests.support.forms import add_article as add_article_by_form
from tests.support.forms import edit_article


@pytest.fixture
def admin_api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


@pytest.fixture
def editor_api(app: Flask, client: FlaskClient) -> Api:
    """A read-and-write token of WRITER, an account with the editor role."""
    with transaction(app) as s:
        create_user(s, *WRITER)
    return Api(client, new_token(app, user=WRITER[0]))


def set_account(app: Flask, name: str, *, active: bool) -> None:
    with transaction(app) as s:
        admin = s.scalars(select(User).where(User.username == EDITOR[0])).one()
        target = s.scalars(select(User.id).where(User.username == name)).one()
        if active:
            enable_user(s, target)
        else:
            disable_user(s, admin, target)


def test_a_read_token_reads_and_every_write_is_403_insufficient_scope(
    app: Flask, client: FlaskClient, admin_api: Api
) -> None:
    section = add_section(admin_api)
    add_article(admin_api, section=section["id"])
    reader = Api(client, new_token(app, "dashboard", scope="read"))
    assert reader.get("/sections").status_code == 200
    assert reader.get("/articles/1").status_code == 200
    writes = 0
    for rule, methods in api_rules(app):
        for method in methods - {"GET"}:
            response = reader.send(method, concrete(rule), {"name": "x", "title": "x"})
            payload = error(response, 403)
            assert payload["error"] == "insufficient_scope", (method, rule)
            assert response.headers["WWW-Authenticate"] == (
                'Bearer realm="feedsvc", error="insufficient_scope", scope="write", '
                'error_description="The token may only read."'
            )
            writes += 1
    assert writes == 6  # POST, PATCH and DELETE sections, POST, PATCH and DELETE articles
    assert count(app, Section) == 1 and count(app, Article) == 1
    with transaction(app, write=False) as s:
        assert s.scalars(select(Article.title)).one() == "Council keeps fares"
    # Paths that are no route stay 404 and 405, whatever the scope.
    assert error(reader.post("/nothing-here", {}), 404)["error"] == "not_found"
    assert error(reader.send("PUT", "/sections", {}), 405)["error"] == "method_not_allowed"


def test_an_editors_token_changes_articles_but_not_sections(
    app: Flask, admin_api: Api, editor_api: Api
) -> None:
    section = add_section(admin_api)
    assert editor_api.get("/sections").status_code == 200
    refused = error(editor_api.post("/sections", {"name": "Sport"}), 403)
    assert refused["error"] == "forbidden"
    assert refused["message"].startswith("Only an admin's token may create or change sections")
    refused = error(editor_api.patch(f"/sections/{section['id']}", {"name": "Renamed"}), 403)
    assert refused["error"] == "forbidden"
    assert [s["name"] for s in body(admin_api.get("/sections"))["sections"]] == ["World News"]

    article = add_article(editor_api, section=section["id"])
    assert editor_api.patch(f"/articles/{article['id']}", {"title": "New"}).status_code == 200
    assert editor_api.delete(f"/articles/{article['id']}").status_code == 204
    assert count(app, Article) == 0


def test_an_expired_token_is_401_invalid_token(app: Flask, admin_api: Api) -> None:
    assert admin_api.get("/sections").status_code == 200
    with transaction(app) as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() + timedelta(seconds=2)))
    assert admin_api.get("/sections").status_code == 200  # not yet
    with transaction(app) as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = admin_api.get("/sections")
    payload = error(response, 401)
    assert payload["error"] == "invalid_token"
    assert payload["message"] == "The token has expired; ask an admin for a new one."
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_disabled_accounts_tokens_stop_and_start_again(
    app: Flask, client: FlaskClient, editor_api: Api
) -> None:
    spare = Api(client, new_token(app, "spare", user=WRITER[0]))
    assert editor_api.get("/sections").status_code == 200
    set_account(app, WRITER[0], active=False)
    for api in (editor_api, spare):
        payload = error(api.get("/sections"), 401)
        assert payload["error"] == "invalid_token"
        assert payload["message"].startswith("The account of this token is disabled")
    with transaction(app) as s:  # revoked while the account was disabled
        s.execute(update(ApiToken).where(ApiToken.name == "spare").values(revoked_at=utcnow()))
    set_account(app, WRITER[0], active=True)
    assert editor_api.get("/sections").status_code == 200
    assert error(spare.get("/sections"), 401)["message"].startswith("The token was revoked")


def test_articles_name_who_created_and_last_changed_them(
    app: Flask, admin_api: Api, editor_api: Api, editor: FlaskClient
) -> None:
    section = add_section(admin_api)
    article = add_article(admin_api, section=section["id"])
    assert (article["created_by"], article["updated_by"]) == (EDITOR[0], EDITOR[0])
    changed = body(editor_api.patch(f"/articles/{article['id']}", {"title": "Changed"}))
    assert (changed["created_by"], changed["updated_by"]) == (EDITOR[0], WRITER[0])
    conforms(changed, "Article")
    listed = body(admin_api.get("/articles"))["articles"]
    assert [(a["created_by"], a["updated_by"]) for a in listed] == [(EDITOR[0], WRITER[0])]
    conforms(body(admin_api.get("/articles")), "ArticleList")

    # An article of unknown authorship (made before accounts were recorded): null.
    with transaction(app) as s:
        s.execute(update(Article).values(created_by_id=None, updated_by_id=None))
    got = body(admin_api.get(f"/articles/{article['id']}"))
    assert (got["created_by"], got["updated_by"]) == (None, None)
    conforms(got, "Article")


def admin_list(client: FlaskClient) -> list[tuple[str, str, str]]:
    doc = html.fromstring(client.get("/admin/").get_data(as_text=True))
    headings = [th.text_content() for th in doc.xpath("//thead//th")]
    wrote, changed = headings.index("Written by"), headings.index("Last changed by")
    return [
        (tds[0].text_content(), tds[wrote].text_content(), tds[changed].text_content())
        for tds in (tr.xpath("./td") for tr in doc.xpath("//tbody/tr"))
    ]


def test_the_admin_forms_record_the_logged_in_account(
    app: Flask, editor: FlaskClient, writer: FlaskClient, admin_api: Api
) -> None:
    add_section(admin_api)
    add_article_by_form(writer, Title="By the writer")
    edit_article(editor, 1, Title="Edited by the admin")
    assert admin_list(editor) == [("Edited by the admin", WRITER[0], EDITOR[0])]
    got = body(admin_api.get("/articles/1"))
    assert (got["created_by"], got["updated_by"]) == (WRITER[0], EDITOR[0])


def test_the_description_documents_403_on_every_write(client: FlaskClient) -> None:
    document = body(client.get(f"{API}/openapi.json"))
    for path, item in document["paths"].items():
        for method in ("post", "patch", "delete"):
            if method in item:
                assert "403" in item[method]["responses"], (path, method)
    article = document["components"]["schemas"]["Article"]
    assert {"created_by", "updated_by"} <= set(article["required"])
    assert article["properties"]["created_by"]["type"] == ["string", "null"]
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    assert {"insufficient_scope", "forbidden", "invalid_token"} <= set(codes)
