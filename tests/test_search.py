"""Searching articles: words of titles and bodies (not markup), kept current, from the index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import search
from feedsvc.articles import ArticleInput, delete_article, input_of, update_article
from feedsvc.listing import Cursor, Filters, list_page
from feedsvc.search import matching, words
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, Section, utcnow
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.queries import captured_selects


def found(app: Flask, query: str) -> set[str]:
    """Titles of the articles the search finds."""
    with transaction(app, write=False) as s:
        condition = matching(s, query)
        if condition is None:
            return set()
        return set(s.scalars(select(Article.title).where(condition)))


def engine_of(app: Flask) -> str:
    return database(app).engine.dialect.name


@pytest.fixture
def desk(app: Flask) -> int:
    section = make_section(app, "World")
    make_article(app, section, "Council keeps bus fares", body="The **mayor** spoke _today_.")
    make_article(app, section, "Harbour reopens", body="Ships [return](https://example.org/x).")
    make_article(app, section, "Zürich votes", body="Les électeurs de la région ont voté.")
    make_article(app, section, "東京都の天気", body="今日は晴れ。Tokyo weather.")
    make_article(app, section, "Markup", body="<div>raw</div> and `code`", status="draft")
    return section


def test_finds_by_title_and_body_words_all_of_them(app: Flask, desk: int) -> None:
    assert found(app, "council") == {"Council keeps bus fares"}
    assert found(app, "MAYOR") == {"Council keeps bus fares"}
    assert found(app, "mayor harbour") == set()  # every word must be there
    assert found(app, "ships return") == {"Harbour reopens"}
    assert found(app, "fares bus") == {"Council keeps bus fares"}
    assert found(app, "fare") == set()  # whole words
    assert found(app, "bu") == set()


def test_markup_and_html_tags_are_not_words(app: Flask, desk: int) -> None:
    # The body is indexed as the editor wrote it (Markdown), never its HTML rendering.
    for tag in ("strong", "em", "href", "p"):
        assert found(app, tag) == set(), tag


def test_punctuation_separates_words_in_the_text_too(app: Flask, desk: int) -> None:
    make_article(app, desk, "Release 1.5/notes", body="Mail desk@paper.invalid or see a_b-c.")
    for word in ("1", "5", "notes", "desk", "paper", "invalid", "a", "b", "c"):
        assert found(app, word) == {"Release 1.5/notes"}, word


def test_syntax_characters_are_only_separators(app: Flask, desk: int) -> None:
    assert found(app, '"council" AND (fares) NOT -x*') == set()  # "and", "not", "x" are words
    assert found(app, '"council" (fares)*') == {"Council keeps bus fares"}
    assert found(app, "council:fares") == {"Council keeps bus fares"}
    assert words('"a" OR b* NEAR(c) ^d') == ["a", "or", "b", "near", "c", "d"]
    assert found(app, "*()\"'^:-") == set()


def test_letters_beyond_ascii(app: Flask, desk: int) -> None:
    assert found(app, "zürich") == {"Zürich votes"}
    assert found(app, "ZÜRICH électeurs") == {"Zürich votes"}
    assert found(app, "東京都の天気") == {"東京都の天気"}  # a run of CJK letters is one word…
    assert found(app, "天気") == set()  # …found whole only (documented)
    assert found(app, "tokyo") == {"東京都の天気"}
    # Accents: folded on SQLite (unicode61 remove_diacritics 2), kept on PostgreSQL ('simple').
    assert found(app, "zurich") == ({"Zürich votes"} if engine_of(app) == "sqlite" else set())


def test_edits_and_deletes_reach_the_index(app: Flask, desk: int) -> None:
    with transaction(app) as s:
        article = s.scalars(select(Article).where(Article.title == "Harbour reopens")).one()
        data = input_of(article)
        changed = ArticleInput(**{**data.__dict__, "title": "Port closes", "body": "Storm."})
        update_article(s, article.id, changed, base_url=BASE_URL)
    assert found(app, "harbour") == set()
    assert found(app, "ships") == set()
    assert found(app, "storm port") == {"Port closes"}
    with transaction(app) as s:
        delete_article(s, article.id)
    assert found(app, "storm") == set()
    new = make_article(app, desk, "Storm returns", body="Again.")
    assert found(app, "storm") == {"Storm returns"}
    with transaction(app) as s:  # a change of status alone leaves the words as they were
        stored = s.get(Article, new)
        assert stored is not None
        update_article(
            s, new, ArticleInput(**{**input_of(stored).__dict__, "status": "draft"}),
            base_url=BASE_URL,
        )  # fmt: skip
    assert found(app, "storm again") == {"Storm returns"}


@pytest.mark.parametrize("few", [2, search.FEW_MATCHES])
def test_search_combines_with_filters_and_pages(
    app: Flask, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    """Both of SQLite's plans: the matches read by id, and the order index walked."""
    monkeypatch.setattr(search, "FEW_MATCHES", few)
    world, sport = make_section(app, "World"), make_section(app, "Sport")
    for n in range(7):
        make_article(app, world if n % 2 else sport, f"Match {n}", body="final whistle")
    with transaction(app, write=False) as s:
        first = list_page(s, Filters(section_id=sport, query="whistle"), utcnow(), size=2)
        assert [a.title for a in first.articles] == ["Match 6", "Match 4"]
        assert first.older is not None and first.newer is None
        second = list_page(
            s, Filters(section_id=sport, query="whistle"), utcnow(), before=first.older, size=2
        )
        assert [a.title for a in second.articles] == ["Match 2", "Match 0"]
        assert second.older is None and second.newer is not None


# --- the index serves the search ----------------------------------------------------------


def _statements(app: Flask, run: Callable[[Session], object]) -> list[tuple[str, Any]]:
    return [st for st in captured_selects(app, run) if "FROM articles" in st[0]]


def _plan(app: Flask, sql: str, params: Any) -> str:
    with database(app).engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            return "\n".join(str(r[-1]) for r in rows)
        conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: see the index choice
        rows = conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall()
        return "\n".join(r[0] for r in rows)


@pytest.fixture
def archive(app: Flask) -> Flask:
    now = utcnow()
    with transaction(app) as s:
        s.add_all(Section(guid=f"urn:uuid:s{n}", name=f"S{n}", slug=f"s{n}") for n in range(3))
        s.flush()
        s.add_all(
            Article(
                guid=f"urn:uuid:a{i}",
                section_id=i % 3 + 1,
                title=f"t{i} {'lighthouse' if i % 100 == 0 else 'harbour'}",
                body_source="b",
                body_html="<p>b</p>",
                summary="b",
                publish_at=now,
            )
            for i in range(300)
        )
    with database(app).engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return app


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (Filters(), "ix_articles_listed"),
        (Filters(section_id=2), "ix_articles_section_listed"),
        (Filters(status="scheduled"), "ix_articles_status_publish_at"),
        (Filters(section_id=2, status="published"), "ix_articles_section_feed"),
    ],
)
def test_list_pages_read_their_index_in_order(archive: Flask, filters: Filters, index: str) -> None:
    sql, params = _statements(archive, lambda s: list_page(s, filters, utcnow()))[0]
    plan = _plan(archive, sql, params)
    print(plan)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("filters", [Filters(), Filters(section_id=2), Filters(status="draft")])
def test_a_deep_page_starts_at_its_cursor(archive: Flask, filters: Filters) -> None:
    """Older's page is a range of the index from the cursor on, not a walk from the top."""
    cursor = Cursor(utcnow(), 150)
    run = lambda s: list_page(s, filters, utcnow(), before=cursor)  # noqa: E731
    sql, params = _statements(archive, run)[0]
    plan = _plan(archive, sql, params)
    print(plan)
    if engine_of(archive) == "sqlite":
        assert "SEARCH articles USING" in plan and "<?" in plan, plan
    else:  # PostgreSQL reads row values as index ranges; on 300 rows its choice is its own
        assert "Index" in plan, plan


@pytest.mark.parametrize("word", ["lighthouse", "harbour"])
def test_search_uses_the_full_text_index(
    archive: Flask, monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    """A rare word (3 rows) and, with FEW_MATCHES lowered, a common one (297 rows)."""
    monkeypatch.setattr(search, "FEW_MATCHES", 50)
    run = _statements(archive, lambda s: list_page(s, Filters(query=word), utcnow()))
    plan = "\n".join(_plan(archive, sql, params) for sql, params in run)
    print(plan)
    if engine_of(archive) == "sqlite":
        assert "VIRTUAL TABLE INDEX" in plan and "articles_fts" in plan, plan
        if word == "harbour":  # many matches: the order index read in order, nothing sorted
            assert "SCAN articles USING INDEX ix_articles_listed" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
    elif word == "lighthouse":  # PostgreSQL's own choice: the index for a rare word
        assert "ix_articles_search" in plan, plan


# --- the JSON API's ?q ----------------------------------------------------------------------


def test_the_api_lists_what_the_search_finds_page_by_page(app: Flask, desk: int) -> None:
    from tests.support.apiclient import Api, new_token
    from tests.support.app import SITE_URL

    api = Api(app.test_client(), new_token(app))
    for n in range(3):
        make_article(app, desk, f"Ferry {n}", body="The harbour master spoke.")
    first = api.get("/articles?q=Harbour&limit=2")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert [a["title"] for a in body["articles"]] == ["Ferry 2", "Ferry 1"]
    assert "q=Harbour" in body["next"]
    rest = api.get(body["next"].removeprefix(SITE_URL + "/api/v1")).get_json()
    titles = [a["title"] for a in rest["articles"]]
    assert titles == ["Ferry 0", "Harbour reopens"] and rest["next"] is None
    for bad in ("?q=%22*", "?q=" + "x" * 201):
        refused = api.get("/articles" + bad)
        assert refused.status_code == 400 and "q" in refused.get_json()["fields"], bad
