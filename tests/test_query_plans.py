"""The feed queries use their indexes: EXPLAIN the very statements the service runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.publishing.changes import sections_due
from feedsvc.publishing.passes import run_pass
from feedsvc.reading import feed_rows, published_everywhere, published_in_section
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, Section, utcnow
from tests.support.queries import captured_selects


@pytest.fixture
def archive(app: Flask) -> Flask:
    """Twenty sections of thirty articles, and fresh planner statistics."""
    now = utcnow()
    with transaction(app) as s:
        for n in range(20):
            s.add(Section(guid=f"urn:uuid:s{n}", name=f"S{n}", slug=f"s{n}"))
        s.flush()
        s.add_all(
            Article(
                guid=f"urn:uuid:a{n}-{i}",
                section_id=n + 1,
                title="t",
                body_source="b",
                body_html="<p>b</p>",
                summary="b",
                publish_at=now - timedelta(hours=i),
            )
            for n in range(20)
            for i in range(30)
        )
    with database(app).engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return app


def _plan(app: Flask, sql: str, params: Any) -> str:
    with database(app).engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            return "\n".join(str(r[-1]) for r in rows)
        # An empty test table makes a sequential scan cheapest, and thirty rows a section
        # make a bitmap scan of any index on section_id plus a sort cheaper than reading an
        # index in order; forbid both to see which index the planner would use on a real
        # archive, where LIMIT 50 of thousands of rows rewards the index that needs no sort.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall()
        return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize(
    ("name", "run", "index"),
    [
        ("section feed", lambda s: feed_rows(s, utcnow(), 50, 1), "ix_articles_section_feed"),
        ("site feed", lambda s: feed_rows(s, utcnow(), 50), "ix_articles_status"),
        (
            "section page",
            lambda s: published_in_section(s, 1, utcnow(), 50),
            "ix_articles_section_feed",
        ),
        ("home page", lambda s: published_everywhere(s, utcnow(), 50), "ix_articles_status"),
    ],
)
def test_feed_queries_use_their_index(
    archive: Flask, name: str, run: Callable[[Session], object], index: str
) -> None:
    [(sql, params)] = [st for st in captured_selects(archive, run) if "FROM articles" in st[0]][:1]
    plan = _plan(archive, sql, params)
    print(f"{name}:\n{plan}")  # shown with -s: the plan itself, for the record
    assert index in plan, plan
    # SQLite: the index yields rows already in feed order. (PostgreSQL's planner may still
    # sort a handful of rows when that is cheaper; it reads them through the index.)
    assert "TEMP B-TREE" not in plan, plan


def test_the_tick_query_for_scheduled_articles_uses_an_index(archive: Flask) -> None:
    # On the archive's rows and statistics: on an empty table any index is as cheap.
    run_pass(archive)  # gives the sections a render time, so the scheduled-article query runs
    statements = captured_selects(archive, lambda s: sections_due(s, utcnow()))
    [(sql, params)] = [st for st in statements if "FROM articles" in st[0]]
    plan = _plan(archive, sql, params)
    print(plan)
    assert "ix_articles_status_publish_at" in plan, plan


@pytest.fixture
def tagged(archive: Flask) -> Flask:
    """The archive with every article under one of five tags, and fresh statistics."""
    from feedsvc.storage.topics import ArticleTopic, Topic

    with transaction(archive) as s:
        s.add_all(Topic(kind="tag", name=f"T{n}", slug=f"t{n}") for n in range(5))
        s.flush()
        for article in s.scalars(select(Article)):
            s.add(
                ArticleTopic(
                    article_id=article.id,
                    topic_id=article.id % 5 + 1,
                    status=article.status,
                    publish_at=article.publish_at,
                )
            )
    with database(archive).engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return archive


def test_the_tag_feed_query_reads_its_index_in_order(tagged: Flask) -> None:
    from feedsvc.scopes import Scope, scope_rows

    statements = captured_selects(tagged, lambda s: scope_rows(s, Scope("tag", 1), utcnow(), 50))
    [(sql, params)] = [st for st in statements if "article_topics" in st[0]]
    plan = _plan(tagged, sql, params)
    print(plan)
    assert "ix_article_topics_feed" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # SQLite: rows come in feed order, never sorted


def test_the_tick_query_for_scheduled_tagged_articles_uses_an_index(tagged: Flask) -> None:
    from feedsvc.topics import topics_due

    run_pass(tagged)  # gives the topics a render time, so the scheduled-article query runs
    statements = captured_selects(tagged, lambda s: topics_due(s, utcnow()))
    [(sql, params)] = [st for st in statements if "FROM articles" in st[0]]
    plan = _plan(tagged, sql, params)
    print(plan)
    assert "ix_articles_status_publish_at" in plan, plan
