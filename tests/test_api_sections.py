"""The JSON API's sections: create, read, list, change; 409 for a slug in use, 422 per field."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.errors import Conflict, NotFound, SlugInUse, ValidationError
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Section
from feedsvc.web.api.errors import refused, status_of
from tests.support.apiclient import API, Api, add_section, body, conforms, count, error, new_token
from tests.support.app import SITE_URL


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


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


def test_a_slug_clash_beside_other_bad_fields_is_422_with_all_of_them(api: Api, app: Flask) -> None:
    add_section(api, "World News")
    found = error(
        api.post("/sections", {"name": "Other", "slug": "world-news", "items_per_feed": 0}), 422
    )
    assert set(found["fields"]) == {"slug", "items_per_feed"}
    assert "already used" in found["fields"]["slug"]
    assert count(app, Section) == 1


def test_the_status_follows_the_error_type_never_its_wording() -> None:
    same_words = {"slug": "The slug “news” is already used by another section."}
    assert refused(ValidationError(same_words)).status == 422
    assert refused(SlugInUse({"slug": "Taken."})).status == 409
    assert refused(Conflict({"name": "Clashes."})).status == 409
    assert [status_of(exc) for exc in (NotFound("x"), KeyError("x"))] == [404, 500]


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
