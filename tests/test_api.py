"""What only the JSON edge can get wrong: types, syntax, media types, sizes, paths, hostile text."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.publishing.passes import run_pass
from feedsvc.storage.models import Article, Section
from tests.support.apiclient import (
    API,
    Api,
    add_article,
    add_section,
    body,
    conforms,
    count,
    error,
    new_token,
)
from tests.support.feedcheck import check_atom, check_json, check_rss

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


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


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
    response = api.send("PUT", "/sections/1", {})
    assert set(response.headers["Allow"].split(", ")) == {
        "GET", "HEAD", "OPTIONS", "PATCH", "DELETE"
    }  # fmt: skip
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


# Every JSON type, and strings the services clean away or refuse, against every article field:
# 400 for a value of the wrong JSON type, 422 for a value of the right type that cannot be
# stored, OK (201 for POST, 200 for PATCH) otherwise. Columns: FIELDS.
FIELDS = ("title", "section", "body", "summary", "author", "publish_at", "status")
OK = 0
# fmt: off
ANSWERS: list[tuple[Any, tuple[int, ...]]] = [
    # value         title section body summary author publish_at status
    (None,          (400, 400, 400, OK,  OK,  OK,  400)),  # null: "" where nullable
    (True,          (400, 400, 400, 400, 400, 400, 400)),
    (False,         (400, 400, 400, 400, 400, 400, 400)),
    (0,             (400, 422, 400, 400, 400, 400, 400)),  # an id, but no section has it
    (-1,            (400, 422, 400, 400, 400, 400, 400)),
    (2**63,         (400, 422, 400, 400, 400, 400, 400)),
    (10**400,       (400, 422, 400, 400, 400, 400, 400)),
    (1.5,           (400, 400, 400, 400, 400, 400, 400)),
    # A whole number is an integer however it is written (JSON Schema 2020-12 says 5.0 is).
    (-0.0,          (400, 422, 400, 400, 400, 400, 400)),
    (1e308,         (400, 422, 400, 400, 400, 400, 400)),
    ("",            (422, 422, 422, OK,  OK,  OK,  422)),  # "" publish_at: keep / now
    (" ",           (422, 422, 422, OK,  OK,  422, 422)),
    ("\ud800",      (422, 422, 422, OK,  OK,  422, 422)),  # cleaned away: empty
    ("\x00",        (422, 422, 422, OK,  OK,  422, 422)),
    ([],            (400, 400, 400, 400, 400, 400, 400)),
    ([1],           (400, 400, 400, 400, 400, 400, 400)),
    ({},            (400, 400, 400, 400, 400, 400, 400)),
    ({"a": None},   (400, 400, 400, 400, 400, 400, 400)),
    ("9" * 10_000,  (422, 422, OK,  422, 422, 422, 422)),  # a fine body; too long elsewhere
]
# fmt: on


def _answers(field: str) -> list[tuple[Any, int]]:
    column = FIELDS.index(field)
    return [(value, row[column]) for value, row in ANSWERS]


@pytest.mark.parametrize("field", FIELDS)
def test_every_json_value_in_every_field_gets_its_exact_answer(
    api: Api, app: Flask, field: str
) -> None:
    """POST and PATCH alike: never a 500, and never a refusal in place of a wrong type."""
    add_section(api)
    target = add_article(api, section="world-news")
    before = count(app, Article)
    created = 0
    for value, expected in _answers(field):
        payload = {"title": "t", "section": "world-news", "body": "b", field: value}
        for method, path, sent, ok in [
            ("POST", "/articles", payload, 201),
            ("PATCH", f"/articles/{target['id']}", {field: value}, 200),
        ]:
            response = api.send(method, path, sent)
            if expected == OK:
                assert response.status_code == ok, (method, value, response.get_data())
                conforms(body(response), "Article")
                created += method == "POST"
            else:
                found = error(response, expected)
                assert list(found["fields"]) == [field], (method, value, found)
    assert count(app, Article) == before + created
