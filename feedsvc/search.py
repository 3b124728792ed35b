"""Searching articles' titles and bodies: one condition, whichever engine holds them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, TextClause, literal_column, select, text
from sqlalchemy.orm import Session

from feedsvc.limits import SEARCH_MAX, SEARCH_PREFIX_MIN, SEARCH_WORDS_MAX
from feedsvc.storage.models import Article
from feedsvc.storage.searchindex import FTS_TABLE, PG_CONFIG

# A word: a run of Unicode letters and digits. Everything else typed (quotes, operators,
# brackets, hyphens) only separates words, so no input can reach either engine's query
# syntax: the words go in as quoted strings (FTS5) or quoted lexemes (tsquery).
_WORD = re.compile(r"[^\W_]+")


def words(query: str) -> list[str]:
    """The words of a typed query, lower-cased, duplicates dropped, at most SEARCH_WORDS_MAX."""
    found = _WORD.findall(query[:SEARCH_MAX].lower())
    return list(dict.fromkeys(found))[:SEARCH_WORDS_MAX]


def _fts5_query(found: list[str]) -> str:
    # FTS5 strings (https://sqlite.org/fts5.html §3.1): a word never holds '"', and "…"* is
    # a prefix query (§3.3); terms side by side must all match (implicit AND, §3.7).
    return " ".join(f'"{w}"*' if len(w) >= SEARCH_PREFIX_MIN else f'"{w}"' for w in found)


def _tsquery(found: list[str]) -> str:
    # to_tsquery syntax (PostgreSQL §8.11.2): each word a quoted lexeme ('' never occurs in
    # a word, nor does a backslash), ':*' a prefix, '&' all of them.
    return " & ".join(f"'{w}':*" if len(w) >= SEARCH_PREFIX_MIN else f"'{w}'" for w in found)


def matching(session: Session, query: str) -> ColumnElement[bool] | TextClause | None:
    """A WHERE condition: articles whose title or body holds every word of query (each word
    of SEARCH_PREFIX_MIN letters or more also as the start of a longer word); None when the
    query holds no word. Served by the search index on either engine (storage/searchindex)."""
    found = words(query)
    if not found:
        return None
    if session.get_bind().dialect.name == "sqlite":
        hits: Select[tuple[Any]] = select(literal_column("rowid")).select_from(text(FTS_TABLE))
        match = text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=_fts5_query(found))
        return Article.id.in_(hits.where(match))
    # The very expression of ix_articles_search, so the planner can use the index.
    document = (
        f"to_tsvector('{PG_CONFIG}'::regconfig, articles.title || ' ' || articles.body_source)"
    )
    condition = f"{document} @@ to_tsquery('{PG_CONFIG}'::regconfig, :ts_query)"
    return text(condition).bindparams(ts_query=_tsquery(found))
