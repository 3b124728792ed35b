"""The JSON API against its own OpenAPI document, with requests schemathesis generates from it:
no 500, and no answer (status, media type, body) that the document does not describe.

In-process through the WSGI app, with a write-scope token of an admin made through the
services, over a few stored sections and articles so that ids and slugs name real rows.
`make test` runs the "feedsvc" hypothesis profile; `make fuzz` the "fuzz" one.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from feedsvc.limits import SCOPE_WRITE
from feedsvc.storage.db import transaction
from feedsvc.tokens import create_token
from tests.support.app import EDITOR
from tests.support.factories import make_article, make_section
from tests.support.fuzzcount import example

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture
def token(app: Flask) -> str:
    """A write-scope token of EDITOR (an admin), made as the admin page or the CLI makes one."""
    with transaction(app) as s:
        return create_token(s, EDITOR[0], "fuzz", scope=SCOPE_WRITE)[1]


def _site(app: Flask) -> None:
    """Three sections with two articles each (ids 1-3 and 1-6), for the cases that name them."""
    for n, name in enumerate(["World News", "Économie", "Sport"]):
        section = make_section(app, name)
        make_article(app, section, f"Story {n}")
        make_article(app, section, "Draft", status="draft")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_as_its_description_says(app: Flask, token: str, mode: GenerationMode) -> None:
    """Positive: requests the document allows. Negative: requests it forbids (wrong types,
    missing fields, values out of range), which must be refused with a documented 4xx."""
    _site(app)
    # The description as the app serves it; every operation of it, each request with the token.
    # schemathesis's Python API inside a hypothesis test rather than its pytest integration:
    # 4.32's lazy loader (from_fixture) reads pytest's Function._nodeid, gone in pytest 9.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    # Generated ids rarely name a stored row: three strategies in four use those of _site's.
    cases = st.one_of(
        schema.as_strategy(mode, headers=auth),
        *(
            schema.as_strategy(
                mode, headers=auth, path_parameters={"section_id": n, "article_id": n}
            )
            for n in (1, 2, 3)
        ),
    )

    @given(case=cases)
    def call(case: schemathesis.Case) -> None:
        with example(f"api {mode.value}"):
            response = case.call_and_validate(checks=CHECKS)
            event(f"{case.operation.label} -> {response.status_code}")

    call()


# Regression examples: what the generated requests found, kept as plain tests.


def test_a_whole_number_written_with_a_fraction_is_an_integer(app: Flask, token: str) -> None:
    """JSON Schema 2020-12 counts 20.0 as an integer, so the description allows it; the API
    refused it with 400 ("must be an integer") until it read whole numbers as integers."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/sections", json={"name": "Sport", "items_per_feed": 20.0}, headers=auth
    )
    assert created.status_code == 201, created.get_json()
    section = created.get_json()
    assert section["items_per_feed"] == 20
    article = client.post(
        "/api/v1/articles",
        json={"title": "Match", "section": float(section["id"]), "body": "Report."},
        headers=auth,
    )
    assert article.status_code == 201, article.get_json()
    assert article.get_json()["section"]["id"] == section["id"]
    # A fraction is still no integer.
    refused = client.post(
        "/api/v1/sections", json={"name": "Other", "items_per_feed": 20.5}, headers=auth
    )
    assert refused.status_code == 400 and "items_per_feed" in refused.get_json()["fields"]
