"""The API as a CMS calls it, for the test_api* modules: a bearer client, strict JSON, schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from feedsvc.limits import SCOPE_WRITE
from feedsvc.storage.db import transaction
from feedsvc.tokens import create_token
from feedsvc.web.api import openapi
from tests.support.app import EDITOR, SITE_URL

API = "/api/v1"
RFC3339_UTC = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
STORY = "The council met on Tuesday.\n\n“We will not raise fares,” the mayor said – to applause."


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


def new_token(
    app: Flask, name: str = "cms", *, user: str = EDITOR[0], scope: str = SCOPE_WRITE
) -> str:
    """A token (EDITOR's, an admin's, read and write unless told otherwise)."""
    with transaction(app) as s:
        return create_token(s, user, name, scope=scope)[1]


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
