"""Schema migrations: reaching head, refusing old schemas, models matching them, no data loss."""

from __future__ import annotations

import gzip
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import Column, Engine, MetaData, String, inspect, select, text
from werkzeug.security import generate_password_hash

from devtools.procs import service_env
from feedsvc.publishing.passes import run_pass
from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article, Base, FeedDocument, Section
from feedsvc.storage.searchindex import is_search_object
from feedsvc.users import authenticate
from tests.support.env import SUBPROCESS_TIMEOUT
from tests.support.factories import make_article, make_section

FIRST_REVISION = "0001"
TABLES = {"users", "sections", "articles", "feed_documents", "scheduler_lease"}


@pytest.fixture
def engine(empty_app: Flask) -> Engine:
    return database(empty_app).engine


def schema_diff(engine: Engine, metadata: MetaData) -> list[Any]:
    """What `alembic revision --autogenerate` would write to make the database match metadata."""
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression indexes (0014's list order): it says
        # so and skips them, as the comparison below skips every search object by name.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, _type, _parent: not is_search_object(name),
            },
        )
        return list(compare_metadata(context, metadata))


# --- upgrade and the schema check ---------------------------------------------------------


def test_upgrade_on_empty_database_reaches_head(engine: Engine) -> None:
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrate.upgrade(engine)  # again: nothing to do, nothing breaks
    assert migrate.current(engine) == migrate.head()


def test_require_current_refuses_empty_database_with_the_hint(engine: Engine) -> None:
    with pytest.raises(migrate.SchemaOutdated) as caught:
        migrate.require_current(engine)
    message = str(caught.value)
    assert "has no schema yet" in message
    assert f"needs revision {migrate.head()}" in message
    assert message.endswith(f"Run: {migrate.UPGRADE_HINT}")
    assert migrate.UPGRADE_HINT == "flask --app feedsvc db upgrade"
    assert inspect(engine).get_table_names() == []  # checking creates nothing

    migrate.upgrade(engine)
    migrate.require_current(engine)  # passes: no exception


def test_require_current_refuses_a_different_revision(engine: Engine) -> None:
    migrate.upgrade(engine)
    # As if the database had been upgraded by a newer release than the code now running.
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrate.SchemaOutdated, match="is at revision 9999") as caught:
        migrate.require_current(engine)
    assert migrate.UPGRADE_HINT in str(caught.value)


# --- models and migrations agree ----------------------------------------------------------


def test_models_match_the_migrations(engine: Engine) -> None:
    migrate.upgrade(engine)
    diff = schema_diff(engine, Base.metadata)
    assert diff == [], (
        "feedsvc/models.py and the migrations disagree; add a migration for: " + repr(diff)
    )


def test_the_comparison_notices_a_model_change(engine: Engine) -> None:
    """The check above can fail: a column added, or a length changed, without a migration."""
    migrate.upgrade(engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["users"].append_column(Column("email", String(255), nullable=True))
    changed.tables["sections"].c.name.type = String(200)
    found = set()
    for entry in schema_diff(engine, changed):
        op = entry if isinstance(entry, tuple) else entry[0]  # modify_* come wrapped in a list
        if op[0] == "add_column":
            found.add((op[0], op[2], op[3].name))
        elif op[0] == "modify_type":
            found.add((op[0], op[2], op[3]))
    assert {("add_column", "users", "email"), ("modify_type", "sections", "name")} <= found


# --- upgrading keeps data -----------------------------------------------------------------

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


ATOM_BODY = b"<feed>" + b"<entry>x</entry>" * 50 + b"</feed>"
ATOM_GZIP = gzip.compress(ATOM_BODY, compresslevel=9, mtime=0)  # not what publishing makes


def insert_first_revision_data(engine: Engine) -> None:
    """Rows as revision 0001 stores them, written with the columns that revision has."""
    tables = MetaData()
    tables.reflect(engine, only=["users", "sections", "articles", "feed_documents"])
    users, sections, articles, documents = (
        tables.tables[name] for name in ("users", "sections", "articles", "feed_documents")
    )
    with engine.begin() as conn:
        conn.execute(
            users.insert().values(
                id=1,
                username="ana",
                password_hash=generate_password_hash("a long passphrase", method="scrypt"),
                created_at=WHEN,
            )
        )
        conn.execute(
            sections.insert().values(
                id=1,
                guid="urn:uuid:6b1f0c9e-2f4e-4c55-9a59-0d4c6f0f1a11",
                name="World News",
                slug="world-news",
                description="From everywhere.",
                items_per_feed=20,
                revision=3,
                rendered_revision=2,
                rendered_as_of=None,
                created_at=WHEN,
                updated_at=WHEN,
            )
        )
        conn.execute(
            articles.insert().values(
                id=1,
                guid="urn:uuid:0e6a9b0e-8c44-4d3c-a7c5-6a1b2c3d4e5f",
                section_id=1,
                title="Council keeps fares",
                body_source="The council met on Tuesday.",
                body_html="<p>The council met on Tuesday.</p>",
                summary_source="",
                summary="The council met on Tuesday.",
                author="Ana Lopez",
                status="published",
                publish_at=WHEN,
                created_at=WHEN,
                updated_at=WHEN,
            )
        )
        conn.execute(
            documents.insert().values(
                path="sections/world-news/rss.xml",
                content_type="application/rss+xml",
                body=b"<rss>\x00\xff</rss>",
                body_gzip=b"\x1f\x8b",
                etag="abc",
                last_modified=WHEN,
                section_id=1,
                source_revision=2,
                rendered_at=WHEN,
            )
        )
        conn.execute(
            documents.insert().values(
                path="sections/world-news/atom.xml",
                content_type="application/atom+xml",
                body=ATOM_BODY,
                body_gzip=ATOM_GZIP,
                etag="def",
                last_modified=WHEN,
                section_id=1,
                source_revision=2,
                rendered_at=WHEN,
            )
        )


def test_upgrade_from_first_revision_keeps_data(empty_app: Flask, engine: Engine) -> None:
    migrate.upgrade(engine, FIRST_REVISION)
    assert migrate.current(engine) == FIRST_REVISION
    insert_first_revision_data(engine)

    migrate.upgrade(engine, "head")
    assert migrate.current(engine) == migrate.head()
    with transaction(empty_app, write=False) as s:
        user = authenticate(s, "ana", "a long passphrase")
        assert user is not None and user.created_at == WHEN
        section = s.scalars(select(Section)).one()
        assert (section.name, section.slug, section.items_per_feed) == (
            "World News",
            "world-news",
            20,
        )
        assert section.guid == "urn:uuid:6b1f0c9e-2f4e-4c55-9a59-0d4c6f0f1a11"
        assert (section.revision, section.rendered_revision) == (3, 2)
        article = s.scalars(select(Article)).one()
        assert article.section.slug == "world-news"
        assert article.title == "Council keeps fares"
        assert article.body_html == "<p>The council met on Tuesday.</p>"
        assert article.author == "Ana Lopez"
        assert article.publish_at == WHEN
        # Documents are kept as gzip only: a broken variant is made again from the body, a
        # good one keeps its very bytes (and with them the ETag readers hold).
        document = s.get(FeedDocument, "sections/world-news/rss.xml")
        assert document is not None and document.body == b"<rss>\x00\xff</rss>"
        assert document.body_length == len(b"<rss>\x00\xff</rss>")
        atom = s.get(FeedDocument, "sections/world-news/atom.xml")
        assert atom is not None and atom.body_gzip == ATOM_GZIP and atom.body == ATOM_BODY
        assert atom.body_length == len(ATOM_BODY)

    # The upgraded data still publishes: the old article reaches its section's feed.
    result = run_pass(empty_app)
    assert not result.failures, result.failures
    feed = empty_app.test_client().get("/sections/world-news/rss.xml")
    assert feed.status_code == 200
    assert "Council keeps fares" in feed.get_data(as_text=True)


# --- wsgi.py refuses an outdated schema ---------------------------------------------------


def import_wsgi(database_url: str) -> subprocess.CompletedProcess[str]:
    """What gunicorn does on start: import wsgi.py from the project folder."""
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env=service_env(database_url),
        capture_output=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT,
    )


@pytest.mark.slow
def test_wsgi_refuses_an_unmigrated_database(database_url: str, engine: Engine) -> None:
    done = import_wsgi(database_url)
    assert done.returncode != 0
    assert "SchemaOutdated" in done.stderr
    assert "has no schema yet" in done.stderr
    assert migrate.UPGRADE_HINT in done.stderr
    assert inspect(engine).get_table_names() == []


@pytest.mark.slow
def test_wsgi_starts_on_a_migrated_database(database_url: str, engine: Engine) -> None:
    migrate.upgrade(engine)
    done = import_wsgi(database_url)
    assert done.returncode == 0, done.stderr


def test_gzip_only_documents_downgrade_and_upgrade_keep_every_feeds_bytes(
    empty_app: Flask, engine: Engine
) -> None:
    migrate.upgrade(engine)
    make_article(empty_app, make_section(empty_app, "World News"), "Council keeps fares")
    assert not run_pass(empty_app).failures
    with transaction(empty_app, write=False) as s:
        served = {doc.path: doc.body for doc in s.scalars(select(FeedDocument))}
    assert served and all(served.values())

    migrate.downgrade(engine, "0003")  # the body column comes back, filled
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT path, body FROM feed_documents")).all()
    assert {path: bytes(body) for path, body in rows} == served

    migrate.upgrade(engine)
    with transaction(empty_app, write=False) as s:
        again = {doc.path: (doc.body, doc.body_length) for doc in s.scalars(select(FeedDocument))}
    assert again == {path: (body, len(body)) for path, body in served.items()}


def test_upgrading_keeps_a_deleted_articles_id_retired(empty_app: Flask, engine: Engine) -> None:
    """0005 adds foreign keys to articles, which SQLite does by copying the table: the copy
    keeps AUTOINCREMENT and its counter, so the newest article deleted before the upgrade
    does not hand its id (and permanent URL) to the next one."""
    migrate.upgrade(engine, "0004")
    tables = MetaData()
    tables.reflect(engine, only=["sections", "articles"])
    sections, articles = tables.tables["sections"], tables.tables["articles"]
    with engine.begin() as conn:
        section_id = conn.execute(
            sections.insert().values(
                guid="urn:uuid:6b1f0c9e-2f4e-4c55-9a59-0d4c6f0f1a11",
                name="World News",
                slug="world-news",
                description="",
                items_per_feed=20,
                revision=1,
                rendered_revision=0,
                created_at=WHEN,
                updated_at=WHEN,
            )
        ).inserted_primary_key[0]
        for n in range(3):
            conn.execute(
                articles.insert().values(
                    guid=f"urn:uuid:0e6a9b0e-8c44-4d3c-a7c5-6a1b2c3d4e5{n}",
                    section_id=section_id,
                    title=f"Story {n}",
                    body_source="Text.",
                    body_html="<p>Text.</p>",
                    summary_source="",
                    summary="Text.",
                    author="",
                    status="published",
                    publish_at=WHEN,
                    created_at=WHEN,
                    updated_at=WHEN,
                )
            )
        ids = sorted(conn.execute(select(articles.c.id)).scalars())
        conn.execute(articles.delete().where(articles.c.id == ids[-1]))
    migrate.upgrade(engine, "head")
    assert make_article(empty_app, section_id, "After the upgrade") == ids[-1] + 1
