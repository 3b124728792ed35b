"""The OpenAPI description: valid OpenAPI 3.1, every route described, limits as enforced."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate as validate_openapi

from feedsvc.web.api import openapi
from tests.support.apiclient import (
    API,
    Api,
    add_article,
    add_section,
    api_rules,
    body,
    error,
    new_token,
    openapi_path,
)
from tests.support.app import SITE_URL

DOCUMENT = openapi.document(SITE_URL)
# Each request body's schema, and where it is sent ({section} and {article}: existing ones).
WRITES = {
    "SectionCreate": ("POST", "/sections"),
    "SectionPatch": ("PATCH", "/sections/{section}"),
    "ArticleCreate": ("POST", "/articles"),
    "ArticlePatch": ("PATCH", "/articles/{article}"),
}
BOUNDS = ("maxLength", "minimum", "maximum")


def documented_limits(document: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(schema, field, keyword, bound) for every bound the request bodies document."""
    schemas = document["components"]["schemas"]
    found = []
    for schema in WRITES:
        for field, prop in schemas[schema]["properties"].items():
            for branch in prop.get("oneOf", [prop]):
                found += [(schema, field, key, branch[key]) for key in BOUNDS if key in branch]
    return found


LIMITS = documented_limits(DOCUMENT)
# The media fields: a value of n characters (or n itself) that is valid but for its size, and
# the field that must come with it (alt text describes an image, a length an attachment).
MEDIA_VALUES: dict[str, tuple[Any, dict[str, str]]] = {
    "image_url": (lambda n: "https://e.org/" + "x" * (n - 14), {}),
    "image_alt": (lambda n: "x" * n, {"image_url": "https://e.org/a.jpg"}),
    "attachment_url": (lambda n: "https://e.org/" + "x" * (n - 14), {}),
    "attachment_type": (
        lambda n: "a" * 127 + "/" + "b" * (n - 128),
        {"attachment_url": "https://e.org/a"},
    ),
    "attachment_length": (lambda n: n, {"attachment_url": "https://e.org/a.mp3"}),
}


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


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
    assert len(in_app) == 11


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
            if method != "parameters" and path != "/openapi.json":
                # A database outage answers every token-checked route 503 (tests/test_outage.py).
                assert "503" in operation["responses"], (path, method)
    assert "409" in document["paths"]["/sections"]["post"]["responses"]


# --- the documented limits are the enforced ones ---------------------------------------------


def test_the_served_description_is_the_one_probed(client: FlaskClient) -> None:
    assert body(client.get(f"{API}/openapi.json")) == DOCUMENT


def test_every_limited_field_documents_its_limits() -> None:
    """Each field whose value the services bound carries the bound, on create and on patch."""
    bounded = {
        "Section": {"name", "slug", "description", "items_per_feed"},
        "Article": {"title", "section", "body", "summary", "author", *MEDIA_VALUES},
    }
    expected = {
        (f"{kind}{verb}", field) for kind, fields in bounded.items()
        for verb in ("Create", "Patch") for field in fields
    }  # fmt: skip
    assert {(schema, field) for schema, field, _, _ in LIMITS} == expected
    ranges = {(schema, key) for schema, field, key, _ in LIMITS if field == "items_per_feed"}
    assert ranges == {(s, k) for s in ("SectionCreate", "SectionPatch") for k in BOUNDS[1:]}


@pytest.mark.parametrize(
    ("schema", "field", "keyword", "bound"),
    LIMITS,
    ids=[f"{schema}.{field}.{key}" for schema, field, key, _ in LIMITS],
)
def test_documented_limits_are_the_enforced_ones(
    api: Api, schema: str, field: str, keyword: str, bound: int
) -> None:
    """One past the documented bound is refused (422, that field alone); the bound is stored."""
    section = add_section(api)  # the first section in a fresh database: id 1, the smallest id
    article = add_article(api, section=section["id"])
    method, path = WRITES[schema]
    path = path.format(section=section["id"], article=article["id"])
    base = {
        "SectionCreate": {"name": "Probe"},
        "ArticleCreate": {"title": "t", "section": section["id"], "body": "b"},
    }.get(schema, {})
    past = bound + 1 if keyword in ("maxLength", "maximum") else bound - 1

    def value(n: int) -> str | int:
        if field in MEDIA_VALUES:
            return MEDIA_VALUES[field][0](n)  # type: ignore[no-any-return]
        return "x" * n if keyword == "maxLength" else n

    base = {**base, **MEDIA_VALUES.get(field, (None, {}))[1]}

    # Past the bound first: a section stored at the bound would make "Probe" a slug in use.
    refused = error(api.send(method, path, {**base, field: value(past)}), 422)
    assert list(refused["fields"]) == [field], refused
    stored = api.send(method, path, {**base, field: value(bound)})
    assert stored.status_code == (201 if method == "POST" else 200), stored.get_data(as_text=True)


def _query_limits() -> list[tuple[str, str, int]]:
    operation = DOCUMENT["paths"]["/articles"]["get"]
    return [
        (parameter["name"], key, parameter["schema"][key])
        for parameter in operation["parameters"]
        for key in BOUNDS[1:]
        if key in parameter["schema"]
    ]


@pytest.mark.parametrize(("name", "keyword", "bound"), _query_limits())
def test_documented_query_limits_are_the_enforced_ones(
    api: Api, name: str, keyword: str, bound: int
) -> None:
    """A page's query parameters: the bound is accepted, one past it is a 400 naming it."""
    past = bound + 1 if keyword == "maximum" else bound - 1
    assert api.get("/articles", query_string={name: str(bound)}).status_code == 200
    refused = error(api.get("/articles", query_string={name: str(past)}), 400)
    assert list(refused["fields"]) == [name]
