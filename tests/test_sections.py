"""The sections service: validation, derived slugs, and revisions that trigger re-rendering."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from feedsvc import limits
from feedsvc.errors import NotFound, SlugInUse, ValidationError
from feedsvc.sections import SectionInput, create_section, get_section, update_section
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Section


def test_slugs_are_derived_even_from_non_latin_names(app: Flask) -> None:
    with transaction(app) as s:
        latin = create_section(s, SectionInput(name="Économie & Finance"))
        chinese = create_section(s, SectionInput(name="新闻"))
        assert latin.slug == "economie-finance"
        assert chinese.slug and chinese.slug.isascii()
    client = app.test_client()
    assert client.get(f"/sections/{chinese.slug}/").status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (SectionInput(name=""), "name"),
        (SectionInput(name="Ok", slug="Not A Slug"), "slug"),
        (SectionInput(name="Ok", slug="../etc"), "slug"),
        (SectionInput(name="Ok", items_per_feed=0), "items_per_feed"),
        (SectionInput(name="Ok", items_per_feed=501), "items_per_feed"),
        (SectionInput(name="x" * 121), "name"),
    ],
)
def test_bad_sections_are_refused_with_a_field_error(
    app: Flask, data: SectionInput, field: str
) -> None:
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_section(s, data)
    assert field in caught.value.errors


def test_a_derived_slug_clash_is_reported_on_the_name(app: Flask) -> None:
    with transaction(app) as s:
        create_section(s, SectionInput(name="World News"))
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_section(s, SectionInput(name="World  News!"))
    assert "already used" in caught.value.errors["name"]


def test_a_slug_in_use_raises_slug_in_use_on_the_field_it_came_from(app: Flask) -> None:
    with transaction(app) as s:
        create_section(s, SectionInput(name="World News"))
        other = create_section(s, SectionInput(name="Sport"))
    clashes = [
        (lambda s: create_section(s, SectionInput(name="Other", slug="world-news")), "slug"),
        (lambda s: create_section(s, SectionInput(name="World  News!")), "name"),
        (lambda s: update_section(s, other.id, SectionInput(name="x", slug="world-news")), "slug"),
    ]
    for save, field in clashes:
        with pytest.raises(SlugInUse) as caught, transaction(app) as s:
            save(s)
        assert caught.value.errors == {
            field: "The slug “world-news” is already used by another section."
        }
    # Keeping its own slug is no clash.
    with transaction(app) as s:
        update_section(s, other.id, SectionInput(name="Sport", slug="sport"))


def test_a_slug_in_use_with_other_bad_fields_is_a_plain_validation_error(app: Flask) -> None:
    with transaction(app) as s:
        create_section(s, SectionInput(name="World News"))
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_section(s, SectionInput(name="Other", slug="world-news", items_per_feed=0))
    assert not isinstance(caught.value, SlugInUse)
    assert set(caught.value.errors) == {"slug", "items_per_feed"}


def test_editing_a_section_bumps_its_revision_and_keeps_its_feed_id(app: Flask) -> None:
    with transaction(app) as s:
        section = create_section(s, SectionInput(name="Tech"))
        guid, revision = section.guid, section.revision
    with transaction(app) as s:
        update_section(s, section.id, SectionInput(name="Technology", slug="technology"))
    with transaction(app, write=False) as s:
        after = s.get_one(Section, section.id)
        assert (after.guid, after.revision) == (guid, revision + 1)


# Each limit the service enforces, probed at the limit and one past it, with its sentence:
# a limit spelled again in the service (or a message left behind) fails here.
SECTION_LIMITS = [
    (
        "name",
        lambda n: SectionInput(name="n" * n),
        limits.SECTION_NAME_MAX,
        f"The name is longer than {limits.SECTION_NAME_MAX} characters.",
    ),
    (
        "slug",
        lambda n: SectionInput(name=f"Ok {n}", slug="s" * n),
        limits.SLUG_MAX,
        "A slug is lower-case letters, digits and single hyphens, "
        f"at most {limits.SLUG_MAX} characters (like world-news).",
    ),
    (
        "description",
        lambda n: SectionInput(name=f"Ok {n}", description="d" * n),
        limits.DESCRIPTION_MAX,
        f"Description must be at most {limits.DESCRIPTION_MAX} characters.",
    ),
    (
        "items_per_feed",
        lambda n: SectionInput(name=f"Ok {n}", items_per_feed=n),
        limits.ITEMS_PER_FEED_MAX,
        f"Items per feed must be between {limits.ITEMS_PER_FEED_MIN} and "
        f"{limits.ITEMS_PER_FEED_MAX}.",
    ),
    (
        "items_per_feed",
        # The lower bound, probed downwards: at the minimum, and one below it.
        lambda n: SectionInput(name=f"Ok {n}", items_per_feed=2 * limits.ITEMS_PER_FEED_MIN - n),
        limits.ITEMS_PER_FEED_MIN,
        f"Items per feed must be between {limits.ITEMS_PER_FEED_MIN} and "
        f"{limits.ITEMS_PER_FEED_MAX}.",
    ),
]


@pytest.mark.parametrize(
    ("field", "make", "limit", "message"),
    SECTION_LIMITS,
    ids=[f"{x[0]}-{x[2]}" for x in SECTION_LIMITS],
)
def test_section_limits_are_the_ones_in_limits(
    app: Flask, field: str, make: Callable[[int], SectionInput], limit: int, message: str
) -> None:
    with transaction(app) as s:
        create_section(s, make(limit))  # at the limit: stored
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_section(s, make(limit + 1))
    assert caught.value.errors == {field: message}


def test_section_defaults_and_derived_slugs_follow_limits(app: Flask) -> None:
    assert SectionInput(name="Ok").items_per_feed == limits.ITEMS_PER_FEED_DEFAULT
    with transaction(app) as s:
        section = create_section(s, SectionInput(name="word " * (limits.SECTION_NAME_MAX // 5)))
        assert section.items_per_feed == limits.ITEMS_PER_FEED_DEFAULT
        assert 0 < len(section.slug) <= limits.SLUG_MAX
        long = create_section(s, SectionInput(name="n" * limits.SECTION_NAME_MAX))
        assert len(long.slug) == limits.SLUG_MAX


def test_out_of_range_section_ids_are_not_found(app: Flask) -> None:
    with transaction(app) as s:
        for section_id in [limits.ID_MIN - 1, limits.ID_MAX, limits.ID_MAX + 1, -(2**63)]:
            with pytest.raises(NotFound):
                get_section(s, section_id)
