"""Searching articles' titles and bodies: one condition, whichever engine holds them."""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnElement,
    Integer,
    TextClause,
    column,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from feedsvc.limits import SEARCH_MAX, SEARCH_WORDS_MAX
from feedsvc.storage.models import Article
from feedsvc.storage.searchindex import FTS_TABLE, PG_CONFIG, pg_document

# A word: a run of Unicode letters and digits. Everything else typed (quotes, operators,
# brackets, hyphens) only separates words, so no input can reach either engine's query
# syntax: the words go in as quoted strings (FTS5) or quoted lexemes (tsquery).
_WORD = re.compile(r"[^\W_]+")


def words(query: str) -> list[str]:
    """The words of a typed query, lower-cased, duplicates dropped, at most SEARCH_WORDS_MAX."""
    found = _WORD.findall(query[:SEARCH_MAX].lower())
    return list(dict.fromkeys(found))[:SEARCH_WORDS_MAX]


def _fts5_query(found: list[str]) -> str:
    # FTS5 strings (https://sqlite.org/fts5.html §3.1): a word never holds '"'; terms side by
    # side must all match (implicit AND, §3.7). No prefix queries ("…"*, §3.3): without a
    # prefix index FTS5 merges every matching word's list each time a query starts, which
    # the row-by-row probe below would pay for every row.
    return " ".join(f'"{w}"' for w in found)


def _tsquery(found: list[str]) -> str:
    # to_tsquery syntax (PostgreSQL §8.11.2): each word a quoted lexeme ('' never occurs in a
    # word, nor does a backslash), '&' all of them. Whole words, as on SQLite.
    return " & ".join(f"'{w}'" for w in found)


# SQLite: a query matching fewer articles than this is answered from its matches (their rows
# by id, sorted); one matching more reads the list's order index and keeps the ids found in
# the matches, held once in a temporary index: with at least this many matches a page of 50
# lies within the first few thousand entries of the order, however large the archive.
FEW_MATCHES = 3000
_FTS = table(FTS_TABLE, column("rowid", Integer))


def matching(session: Session, query: str) -> ColumnElement[bool] | TextClause | None:
    """A WHERE condition: articles whose title or body holds every word of query, as a whole
    word in any letter case; None when the query holds no word. Served by the search index on
    either engine (storage/searchindex)."""
    found = words(query)
    if not found:
        return None
    if session.get_bind().dialect.name == "sqlite":
        return _fts5_condition(session, _fts5_query(found))
    # The very expression of ix_articles_search, so the planner can use the index; its
    # statistics (ANALYZE) tell it whether to read the matches or walk the list's order.
    document = pg_document(Article.__tablename__)
    condition = f"{document} @@ to_tsquery('{PG_CONFIG}'::regconfig, :ts_query)"
    return text(condition).bindparams(ts_query=_tsquery(found))


def _fts5_condition(session: Session, fts_query: str) -> ColumnElement[bool]:
    """FTS5 keeps no statistics SQLite's planner could weigh: look at how many articles match
    (reading at most FEW_MATCHES ids, a fraction of a millisecond), and choose the plan here.
    A probe of the index per row ("rowid = ?" with MATCH) costs about a millisecond each, so
    the matches are always read as one list (https://sqlite.org/fts5.html §4.1)."""
    match = text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts_query)
    hits = select(_FTS.c.rowid).where(match)
    few = list(session.scalars(hits.limit(FEW_MATCHES)))
    if len(few) < FEW_MATCHES:
        return Article.id.in_(few)
    # "+id" is no indexed term to SQLite (https://sqlite.org/optoverview.html §19): otherwise
    # it would look every match up by id and sort them all rather than read the order index.
    return literal_column(f"+{Article.__tablename__}.id", Integer).in_(hits)
