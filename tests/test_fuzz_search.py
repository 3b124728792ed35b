"""Search and the admin list's URL parameters with generated input: never a syntax error or
a 500, and a query that holds a stored title's words always finds it.

The queries mix every Unicode character with both engines' query syntax (FTS5 operators,
tsquery operators, quotes, brackets, backslashes, NUL). `make test` runs the "feedsvc"
hypothesis profile; `make fuzz` the "fuzz" one.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from feedsvc.listing import Filters, list_page
from feedsvc.search import matching
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, utcnow
from tests.support.factories import make_article, make_section
from tests.support.fuzzcount import example

SYNTAX = [
    *"\"'*^:()-+&|!<>{}[]\\,.;~@#$%",
    *("AND", "OR", "NOT", "NEAR", "NEAR(", "<->", ":*", "\x00", " ", "\t", "é", "ß", "東京", "İ"),
]
QUERIES = st.lists(st.one_of(st.sampled_from(SYNTAX), st.text(max_size=12)), max_size=12).map(
    "".join
)


def _site(app: Flask) -> None:
    section = make_section(app, "World")
    make_article(app, section, "Council keeps fares", body="Ships *return* to Zürich.")
    make_article(app, section, "東京都の天気", body="晴れ", status="draft")


def test_any_query_runs_on_the_index(app: Flask) -> None:
    _site(app)

    @given(query=QUERIES)
    def search(query: str) -> None:
        with example("search query"), transaction(app, write=False) as s:
            condition = matching(s, query)
            if condition is not None:
                list(s.scalars(select(Article.id).where(condition)))
            list_page(s, Filters(query=query, author=query), utcnow())

    search()


def test_a_title_is_found_by_its_own_words(app: Flask) -> None:
    section = make_section(app, "World")

    @given(title=st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
                         min_size=1, max_size=40))  # fmt: skip
    def find(title: str) -> None:
        with example("search own title"):
            article = make_article(app, section, title.strip() or "x", body="Body.")
            with transaction(app, write=False) as s:
                stored = s.get(Article, article)
                assert stored is not None
                condition = matching(s, stored.title)
                if condition is None:
                    return  # no letters or digits: nothing to search for
                hits = set(s.scalars(select(Article.id).where(condition)))
            # Words the engines split differently (a letter and a combining mark, say) may
            # miss; every letter-and-digit ASCII title must be found.
            if stored.title.isascii():
                assert article in hits, stored.title

    find()


def test_admin_list_answers_any_parameters(app: Flask, editor: FlaskClient) -> None:
    _site(app)
    values = st.one_of(QUERIES, st.sampled_from(["1", "99", "-1", "0x1", "draft", "scheduled"]))
    params = st.dictionaries(
        st.sampled_from(["section", "status", "author", "q", "before", "after"]), values
    )

    @given(query=params)
    def get(query: dict[str, str]) -> None:
        with example("admin list parameters"):
            response = editor.get("/admin/?" + urlencode(query))
            assert response.status_code in (200, 400), (query, response.status_code)

    get()
