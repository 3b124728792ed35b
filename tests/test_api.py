"""The JSON API as a CMS uses it: bearer tokens, JSON in and out, the form's rules, feeds after."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import transaction
from feedsvc.storage.models import ApiToken, Article, Section
from feedsvc.tokens import create_token, revoke_token
from feedsvc.web.api import openapi
from tests.support.app import EDITOR, SITE_URL
from tests.support.feedcheck import check_atom, check_json, check_rss

API = "/api/v1"
RFC3339_UTC = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
STORY = "The council met on Tuesday.\n\n“We will not raise fares,” the mayor said – to applause."
HOSTILE = [
    "\ud800",
    "a\udfffb",
    "\x00\x01\x1b[31m",
    "\u202eevil\u202c",
    "<script>alert(1)</script>",
    "\ufffe\uffff",
    "😀" * 50,
    "' OR 1=1 --",
    "\r\n\r\n",
]


class Api:
    """A test client that sends the bearer token (or not) and JSON bodies."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(API + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def send(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        data = raw if raw is not None else json.dumps(payload)
        return self.client.open(
            API + path,
            method=method,
            data=data,
            content_type=content_type,
            headers=self.headers(headers),
        )

    def post(self, path: str, payload: Any = None, **kw: Any) -> TestResponse:
        return self.send("POST", path, payload, **kw)

    def patch(self, path: str, payload: Any = None, **kw: Any) -> TestResponse:
        return self.send("PATCH", path, payload, **kw)

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(API + path, headers=self.headers())


def new_token(app: Flask, name: str = "cms") -> str:
    with transaction(app) as s:
        return create_token(s, EDITOR[0], name)[1]


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


def body(response: TestResponse) -> Any:
    """The response's JSON, parsed strictly: UTF-8 exactly, no duplicate keys, no NaN."""
    assert response.mimetype == "application/json", response.mimetype
    raw = response.get_data()
    text = raw.decode("utf-8")  # strict: a lone surrogate could not have been encoded

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({k for k, _ in items}) == len(items), "duplicate keys"
        return dict(items)

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)


def error(response: TestResponse, status: int) -> dict[str, Any]:
    """Assert an error answer in the API's format; return it."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    payload = body(response)
    assert set(payload) == {"error", "message", "fields"}, payload
    assert payload["message"].endswith("."), payload["message"]  # a full sentence
    conforms(payload, "Error")
    return dict(payload)


_DOCUMENT = openapi.document(SITE_URL)


def conforms(instance: Any, schema_name: str) -> None:
    """Validate against the OpenAPI document's own schema of that name."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": _DOCUMENT["components"]}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


def count(app: Flask, model: type) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def add_section(api: Api, name: str = "World News", **extra: Any) -> dict[str, Any]:
    response = api.post("/sections", {"name": name, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(body(response))


def add_article(api: Api, **fields: Any) -> dict[str, Any]:
    payload = {"title": "Council keeps fares", "section": "world-news", "body": STORY, **fields}
    response = api.post("/articles", payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(body(response))


def api_rules(app: Flask) -> Iterator[tuple[str, set[str]]]:
    """Every /api/v1 URL rule but the catch-all that answers 404/405 in the API's format."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and rule.endpoint != "api.fallback":
            yield rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    return path.removeprefix(API)


def concrete(rule: str) -> str:
    return re.sub(r"<[^<>]+>", "1", rule).removeprefix(API)


# --- authentication ------------------------------------------------------------------------


def test_every_route_needs_a_bearer_token(app: Flask, client: FlaskClient) -> None:
    anonymous = Api(client, None)
    seen = 0
    for rule, methods in api_rules(app):
        if rule == f"{API}/openapi.json":
            continue
        for method in methods:
            response = anonymous.send(method, concrete(rule), {})
            payload = error(response, 401)
            assert payload["error"] == "unauthorized"
            # RFC 6750 §3.1: no error code when the request carried no credentials.
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="feedsvc"'
            seen += 1
    assert seen >= 9
    assert count(app, Section) == 0 and count(app, Article) == 0


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fsv_" + "A" * 43,  # well-formed, unknown
        "Bearer fsv_short",
        "Bearer not-even-close",
        "Bearer fsv_" + "A" * 43 + "\u00e9",
        "bearer  fsv_" + "B" * 43,
    ],
)
def test_unknown_or_malformed_tokens_are_401_invalid_token(
    client: FlaskClient, header: str
) -> None:
    response = client.get(f"{API}/sections", headers={"Authorization": header})
    payload = error(response, 401)
    assert payload["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="feedsvc", error="invalid_token"')


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic ZWRpdG9yOnB3", "Token x"])
def test_other_schemes_or_empty_bearer_are_401(client: FlaskClient, header: str) -> None:
    response = client.get(f"{API}/sections", headers={"Authorization": header})
    assert error(response, 401)["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="feedsvc"'


def test_the_scheme_name_is_case_insensitive(api: Api) -> None:
    response = api.client.get(f"{API}/sections", headers={"Authorization": f"bEaReR {api.token}"})
    assert response.status_code == 200


def test_a_revoked_token_stops_working(app: Flask, api: Api) -> None:
    assert api.get("/sections").status_code == 200
    with transaction(app) as s:
        revoke_token(s, "fsv_" + (api.token or "")[4:12])
    assert error(api.get("/sections"), 401)["error"] == "invalid_token"


def test_the_session_cookie_does_not_authenticate(editor: FlaskClient, app: Flask) -> None:
    """A logged-in browser (cookie) cannot call the API, read or write, without a token."""
    assert editor.get("/admin/").status_code == 200  # logged in indeed
    cookie_only = Api(editor, None)
    assert error(cookie_only.get("/sections"), 401)["error"] == "unauthorized"
    # Not a CSRF failure (400) either: the API never looks at the cookie at all.
    assert error(cookie_only.post("/sections", {"name": "Sneaky"}), 401)["error"] == "unauthorized"
    assert count(app, Section) == 0


def test_a_logged_in_client_with_a_token_can_write(editor: FlaskClient, app: Flask) -> None:
    """Cookie and token together: the token counts; no CSRF token needed, no lock waits."""
    started = datetime.now(UTC)
    # Each token's first use is recorded: on a read beside the cookie user's read session, and
    # on a write inside the request's write transaction (SQLite: one writer at a time).
    assert Api(editor, new_token(app)).get("/sections").status_code == 200
    assert Api(editor, new_token(app)).post("/sections", {"name": "World"}).status_code == 201
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    with transaction(app, write=False) as s:
        assert all(t.last_used_at is not None for t in s.scalars(select(ApiToken)))


def test_openapi_document_needs_no_token(client: FlaskClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert body(response)["openapi"] == "3.1.0"


def test_api_answers_are_not_cached(api: Api) -> None:
    assert api.get("/sections").headers["Cache-Control"] == "no-store"
    assert api.client.get(f"{API}/sections").headers["Cache-Control"] == "no-store"


# --- sections ------------------------------------------------------------------------------


def test_section_create_read_list_patch(api: Api, app: Flask) -> None:
    response = api.post("/sections", {"name": "World News", "description": "From everywhere."})
    assert response.status_code == 201
    created = body(response)
    conforms(created, "Section")
    assert response.headers["Location"] == f"{SITE_URL}{API}/sections/{created['id']}"
    assert created["slug"] == "world-news" and created["items_per_feed"] == 50
    assert created["feeds"]["atom"] == f"{SITE_URL}/sections/world-news/atom.xml"
    assert body(api.get(f"/sections/{created['id']}")) == created
    listing = body(api.get("/sections"))
    conforms(listing, "SectionList")
    assert listing["sections"] == [created]

    response = api.patch(f"/sections/{created['id']}", {"items_per_feed": 10})
    assert response.status_code == 200, response.get_data(as_text=True)
    patched = body(response)
    # Untouched fields keep their values: the slug (and so every feed URL) included.
    for key in ("id", "guid", "name", "slug", "description", "feeds", "created_at"):
        assert patched[key] == created[key], key
    assert patched["items_per_feed"] == 10
    renamed = body(api.patch(f"/sections/{created['id']}", {"name": "World"}))
    assert (renamed["name"], renamed["slug"]) == ("World", "world-news")


def test_section_slug_in_use_is_409(api: Api, app: Flask) -> None:
    add_section(api, "World News")
    add_section(api, "Business")
    clash = error(api.post("/sections", {"name": "Other", "slug": "world-news"}), 409)
    assert clash["error"] == "conflict" and "already used" in clash["fields"]["slug"]
    derived = error(api.post("/sections", {"name": "World News"}), 409)
    assert "already used" in derived["fields"]["name"]
    moved = error(api.patch("/sections/2", {"slug": "world-news"}), 409)
    assert "already used" in moved["fields"]["slug"]
    assert count(app, Section) == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "  "}, "name"),
        ({}, "name"),
        ({"name": "X" * 121}, "name"),
        ({"name": "Ok", "slug": "Not A Slug!"}, "slug"),
        ({"name": "Ok", "slug": "-news"}, "slug"),
        ({"name": "Ok", "slug": "world--news"}, "slug"),
        ({"name": "Ok", "slug": "s" * 81}, "slug"),
        ({"name": "Ok", "items_per_feed": 0}, "items_per_feed"),
        ({"name": "Ok", "items_per_feed": 10**30}, "items_per_feed"),
        ({"name": "Ok", "description": "d" * 2001}, "description"),
    ],
)
def test_section_validation_errors_are_422_per_field(
    api: Api, app: Flask, payload: dict[str, Any], field: str
) -> None:
    payload_out = error(api.post("/sections", payload), 422)
    assert payload_out["error"] == "validation_failed"
    assert field in payload_out["fields"], payload_out
    assert count(app, Section) == 0


def test_failed_section_patch_changes_nothing(api: Api, app: Flask) -> None:
    section = add_section(api)
    with transaction(app, write=False) as s:
        revision = s.get(Section, section["id"]).revision  # type: ignore[union-attr]
    error(api.patch(f"/sections/{section['id']}", {"name": "Renamed", "items_per_feed": -1}), 422)
    assert body(api.get(f"/sections/{section['id']}")) == section
    with transaction(app, write=False) as s:
        assert s.get(Section, section["id"]).revision == revision  # type: ignore[union-attr]


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
    for key in original.keys() - {"title", "updated_at"}:
        assert patched[key] == original[key], key
    assert patched["title"] == "Council keeps fares, for now"

    # An empty patch changes nothing a reader sees; null clears the optional fields.
    same = body(api.patch(f"/articles/{original['id']}", {}))
    assert {k: v for k, v in same.items() if k != "updated_at"} == {
        k: v for k, v in patched.items() if k != "updated_at"
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


# --- what only the JSON edge can get wrong ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"title": 5}, "title"),
        ({"title": None}, "title"),
        ({"body": ["a"]}, "body"),
        ({"section": True}, "section"),
        ({"section": 1.5}, "section"),
        ({"section": None}, "section"),
        ({"summary": {"a": 1}}, "summary"),
        ({"author": 7}, "author"),
        ({"publish_at": 1700000000}, "publish_at"),
        ({"status": None}, "status"),
        ({"Title": "typo"}, "Title"),
        ({"guid": "urn:uuid:mine"}, "guid"),
    ],
)
def test_wrong_json_types_and_unknown_fields_are_400(
    api: Api, app: Flask, fields: dict[str, Any], bad: str
) -> None:
    add_section(api)
    payload = {"title": "t", "section": "world-news", "body": "b", **fields}
    found = error(api.post("/articles", payload), 400)
    assert found["error"] == "bad_request" and bad in found["fields"], found
    assert count(app, Article) == 0


def test_section_fields_of_the_wrong_type_are_400(api: Api, app: Flask) -> None:
    for payload in [
        {"name": 1},
        {"name": "x", "items_per_feed": "10"},
        {"name": "x", "items_per_feed": 10.0},
        {"name": "x", "items_per_feed": True},
        {"name": "x", "slug": 3},
        {"name": "x", "id": 3},
    ]:
        assert error(api.post("/sections", payload), 400)["fields"], payload
    assert count(app, Section) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"{'title': 'single quotes'}",
        b"[]",
        b'"a string"',
        b"null",
        b'{"title": NaN}',
        b'{"title": Infinity}',
        b'{"title": "a", "title": "b"}',
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'{"items_per_feed": ' + b"9" * 5000 + b"}",
        b'{"title": "\xff\xfe"}',
        b'{"title": "caf\xe9"}',
        b"\x00\x00\x00{",
        '{"title": "x"}'.encode("utf-16"),
    ],
)
def test_malformed_json_is_400(api: Api, app: Flask, raw: bytes) -> None:
    add_section(api)
    for path in ["/articles", "/sections"]:
        assert error(api.post(path, raw=raw), 400)["error"] == "bad_request"
    assert count(app, Article) == 0 and count(app, Section) == 1


def test_a_utf8_byte_order_mark_is_tolerated(api: Api) -> None:
    response = api.post("/sections", raw='\ufeff{"name": "World News"}'.encode())
    assert response.status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonp",
        "",
    ],
)
def test_wrong_content_type_is_415(api: Api, app: Flask, content_type: str) -> None:
    response = api.post("/sections", {"name": "World News"}, content_type=content_type)
    assert error(response, 415)["error"] == "unsupported_media_type"
    assert response.headers["Accept-Post"] == "application/json"
    assert count(app, Section) == 0


def test_json_content_type_may_carry_utf8_charset(api: Api) -> None:
    response = api.post(
        "/sections", {"name": "World News"}, content_type="application/json; charset=UTF-8"
    )
    assert response.status_code == 201


def test_merge_patch_is_for_patch_only(api: Api) -> None:
    section = add_section(api)
    response = api.post("/sections", {"name": "B"}, content_type="application/merge-patch+json")
    error(response, 415)
    response = api.patch(f"/sections/{section['id']}", {"name": "C"}, content_type="text/plain")
    error(response, 415)
    assert response.headers["Accept-Patch"] == "application/json, application/merge-patch+json"


def test_a_huge_body_is_413_and_nothing_is_stored(api: Api, app: Flask) -> None:
    add_section(api)
    huge = {"title": "t", "section": "world-news", "body": "x" * (5 * 1024 * 1024)}
    payload = error(api.post("/articles", huge), 413)
    assert payload["error"] == "payload_too_large" and "4 MB" in payload["message"]
    assert count(app, Article) == 0


def test_a_body_just_over_the_length_limit_is_422_not_413(api: Api, app: Flask) -> None:
    add_section(api)
    long_body = "é" * 200_001  # 400 KB of UTF-8: under the byte limit, over the character one
    found = error(api.post("/articles", {"title": "t", "section": 1, "body": long_body}), 422)
    assert "200,000" in found["fields"]["body"]


def test_unknown_paths_and_methods_answer_in_the_api_format(api: Api) -> None:
    assert error(api.get("/nothing"), 404)["error"] == "not_found"
    assert error(api.get("/"), 404)["error"] == "not_found"
    assert error(api.get("/articles/abc"), 404)["error"] == "not_found"
    assert error(api.get("/sections/"), 404)["error"] == "not_found"
    response = api.send("PUT", "/articles/1", {})
    assert error(response, 405)["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {
        "GET", "HEAD", "OPTIONS", "PATCH", "DELETE"
    }  # fmt: skip
    response = api.delete("/sections/1")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH"}
    response = api.client.post(f"{API}/openapi.json")  # no token needed to learn that
    assert error(response, 405)["error"] == "method_not_allowed"


@pytest.mark.parametrize("ident", ["0", "2147483648", "99999999999999999999999", "-1", "1.5"])
def test_ids_out_of_range_are_404_not_a_database_error(api: Api, ident: str) -> None:
    for path in [f"/articles/{ident}", f"/sections/{ident}"]:
        assert error(api.get(path), 404)["error"] == "not_found"
        assert api.patch(path, {}).status_code == 404


# --- hostile strings -------------------------------------------------------------------------


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_strings_in_every_field_never_break_anything(
    api: Api, app: Flask, evil: str
) -> None:
    section = api.post("/sections", {"name": f"News {evil}", "description": evil})
    assert section.status_code in (201, 422), section.get_data(as_text=True)
    assert b"\\ud8" not in section.get_data() and b"\\udf" not in section.get_data()
    body(section)
    add_section(api, "World News")
    payload = {
        "title": f"Title {evil}",
        "section": "world-news",
        "body": f"Body {evil}\n\n{evil}",
        "summary": evil,
        "author": evil,
    }
    response = api.post("/articles", payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    article = body(response)
    raw = response.get_data()
    assert b"\\ud8" not in raw and b"\\udf" not in raw and b"\\u0000" not in raw
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in json.dumps(article, ensure_ascii=False))
    assert "<script>" not in article["body_html"]
    patched = api.patch(f"/articles/{article['id']}", {"title": evil + " again", "author": evil})
    assert patched.status_code == 200
    body(patched)
    # In places that are echoed back in errors, or used to query, too.
    in_url = quote(evil.encode("utf-8", "surrogatepass"))
    for response in [
        api.post("/articles", {**payload, "section": evil}),
        api.post("/articles", {**payload, evil: 1}),
        api.post("/articles", {**payload, "publish_at": evil}),
        api.post("/articles", {**payload, "status": evil}),
        api.post("/sections", {"name": "x", "slug": evil}),
        api.get(f"/articles?section={in_url}"),
        api.get(f"/articles?status={in_url}&limit={in_url}&before_id={in_url}"),
    ]:
        assert response.status_code in (201, 400, 404, 409, 422), response.get_data(as_text=True)
        raw = response.get_data()
        assert b"\\ud8" not in raw and b"\\udf" not in raw
        body(response)
    assert not run_pass(app).failures
    check_atom(api.client.get("/sections/world-news/atom.xml").get_data())
    check_rss(api.client.get("/sections/world-news/rss.xml").get_data())
    check_json(api.client.get("/sections/world-news/feed.json").get_data())


def test_raw_lone_surrogate_escapes_in_the_json_text(api: Api, app: Flask) -> None:
    """The exact bytes a CMS may send: `"\\ud800"` escapes, in values and in a key."""
    add_section(api)
    raw = (
        '{"title": "A\\ud800B", "section": "world-news", "body": "x\\udc00y", "author": "\\ud83d"}'
    )
    response = api.post("/articles", raw=raw)
    assert response.status_code == 201
    article = body(response)
    assert (article["title"], article["body"], article["author"]) == ("AB", "xy", "")
    response = api.post("/articles", raw='{"\\ud800": 1, "title": "t", "section": 1, "body": "b"}')
    found = error(response, 400)
    assert list(found["fields"]) == ["\ufffd"]  # echoed, but as valid Unicode


@pytest.mark.parametrize("field", ["title", "section", "body", "summary", "author", "publish_at",
                                   "status"])  # fmt: skip
def test_no_value_of_any_json_type_is_a_500(api: Api, app: Flask, field: str) -> None:
    add_section(api)
    values: list[Any] = [None, True, False, 0, -1, 2**63, 10**400, 1.5, -0.0, 1e308, "", " ",
                         "\ud800", "\x00", [], [1], {}, {"a": None}, "9" * 10_000]  # fmt: skip
    for value in values:
        payload = {"title": "t", "section": "world-news", "body": "b", field: value}
        response = api.post("/articles", payload)
        assert response.status_code in (201, 400, 422), (value, response.get_data(as_text=True))
        body(response)
        patched = api.patch("/articles/1", {field: value}) if count(app, Article) else None
        if patched is not None:
            assert patched.status_code in (200, 400, 422), (value, patched.get_data(as_text=True))


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


# --- the description -------------------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = body(client.get(f"{API}/openapi.json"))
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": f"{SITE_URL}{API}"}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    # Every operation but the description itself is behind the token, and says so.
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path == "/openapi.json":
                assert operation["security"] == []
            else:
                assert "security" not in operation
                assert "401" in operation["responses"], (path, method)


def test_every_api_route_is_described_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    document = body(client.get(f"{API}/openapi.json"))
    in_app = {
        (openapi_path(rule), method.lower())
        for rule, methods in api_rules(app)
        for method in methods
    }
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert in_app == described
    assert len(in_app) == 10


def test_writes_document_their_error_answers(client: FlaskClient) -> None:
    document = body(client.get(f"{API}/openapi.json"))
    for path, item in document["paths"].items():
        for method in ("post", "patch"):
            if method in item:
                codes = set(item[method]["responses"])
                assert {"400", "401", "413", "415", "422"} <= codes, (path, method)
        for method, operation in item.items():
            if "{" in path and method != "parameters":
                assert "404" in operation["responses"], (path, method)
    assert "409" in document["paths"]["/sections"]["post"]["responses"]
