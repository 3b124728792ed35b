"""Tests for feedsvc.content.slugs: section names to URL slugs."""

from __future__ import annotations

import pytest

from feedsvc.content.slugs import slugify
from feedsvc.content.text import ContentError
from feedsvc.limits import SLUG_RE


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("World News", "world-news"),
        ("Économie & Finance", "economie-finance"),
        ("  --Sport--  ", "sport"),
        ("Straße", "strasse"),
        ("Ærø Øst", "aero-ost"),
        ("C++ / C#", "c-c"),
        ("Covid-19 Live!", "covid-19-live"),
        ("新闻 2024", "2024"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug
    assert SLUG_RE.match(slug)


@pytest.mark.parametrize("name", ["新闻", "أخبار", "Новости", "!!!", "—", "\ud800新"])
def test_slug_fallback_for_names_without_ascii(name: str) -> None:
    slug = slugify(name)
    assert SLUG_RE.match(slug)
    assert slug.startswith("s-") and len(slug) == 10
    assert slugify(f"  {name} ") == slug  # stable


def test_slug_fallback_differs_per_name() -> None:
    assert slugify("新闻") != slugify("体育")


def test_slug_is_cut_between_words() -> None:
    slug = slugify("word " * 30, max_length=22)
    assert slug == "word-word-word-word"
    assert slugify("x" * 100) == "x" * 80


def test_slugify_blank_name_is_an_error() -> None:
    with pytest.raises(ContentError):
        slugify(" \x00 ")


@pytest.mark.parametrize("bad", ["", "News", "a--b", "-a", "a-", "a b", "news\n", "é", "a_b"])
def test_slug_re_rejects_bad_slugs(bad: str) -> None:
    assert SLUG_RE.match(bad) is None
