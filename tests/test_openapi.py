"""The OpenAPI description: valid OpenAPI 3.1, every route described, limits as enforced."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate as validate_openapi

from tests.apiclient import API, Api, api_rules, body, new_token, openapi_path
from tests.conftest import SITE_URL


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
