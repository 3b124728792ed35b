"""The article search index and the admin list's order index, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Connection

# SQLite: an FTS5 table with external content (https://sqlite.org/fts5.html §4.4.3): it keeps
# only the index and reads the text from `articles`, so the words are not stored twice.
# Triggers keep it in step with every insert, change of title or body, and delete.
FTS_TABLE = "articles_fts"
# Words as Unicode letters and digits (Unicode 6.1 categories L*, N*, Co); accents folded,
# so "cafe" finds "café" (remove_diacritics 2: also letters with several accents).
FTS_TOKENIZER = "unicode61 remove_diacritics 2"
TRIGGERS = ("articles_fts_insert", "articles_fts_update", "articles_fts_delete")

# PostgreSQL: a GIN index over the same words (title and Markdown body), 'simple' config:
# lower-cased words without stemming or stop words, whatever the language of the newsroom.
PG_INDEX = "ix_articles_search"
PG_CONFIG = "simple"


def pg_document(table: str = "") -> str:
    """The indexed expression (a query must spell it the same for the planner to use it).

    Everything but letters and digits becomes a space first: PostgreSQL's parser would keep
    "/0", "a.b" or "x@y.org" as one token (a path, a host, an address), where FTS5 and the
    words of a query (feedsvc/search.py) see separate words."""
    title, body = (f"{table}.title", f"{table}.body_source") if table else ("title", "body_source")
    text = f"regexp_replace({title} || ' ' || {body}, '[^[:alnum:]]+', ' ', 'g')"
    return f"to_tsvector('{PG_CONFIG}'::regconfig, {text})"


# The admin list's order, newest first: when an article goes (or went) out, a draft without
# a publish time by when it was written; ties by id. Both engines, as expression indexes.
LISTED_INDEX = "ix_articles_listed"
SECTION_LISTED_INDEX = "ix_articles_section_listed"
LISTED_KEY_SQL = "coalesce(publish_at, created_at)"

# Not in the models' metadata (SQLAlchemy cannot declare a virtual table, triggers or an
# expression index for one engine only): the schema comparison leaves these names out.
NAMES = frozenset({FTS_TABLE, PG_INDEX, LISTED_INDEX, SECTION_LISTED_INDEX, *TRIGGERS})


def is_search_object(name: str | None) -> bool:
    """One of the objects above, or an FTS5 shadow table (articles_fts_data, _idx, …)."""
    return name is not None and (name in NAMES or name.startswith(FTS_TABLE + "_"))


def _sqlite_statements() -> list[str]:
    columns = "title, body_source"
    new = "new.id, new.title, new.body_source"
    old = "'delete', old.id, old.title, old.body_source"
    forget = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {columns}) VALUES ({old});"
    learn = f"INSERT INTO {FTS_TABLE}(rowid, {columns}) VALUES ({new});"
    return [
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({columns}, content='articles', "
        f"content_rowid='id', tokenize='{FTS_TOKENIZER}')",
        f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON articles BEGIN {learn} END",
        # Only a change of the indexed text touches the index: a status or time change does not.
        f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF title, body_source ON articles "
        f"BEGIN {forget} {learn} END",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER DELETE ON articles BEGIN {forget} END",
    ]


def create(conn: Connection) -> None:
    """Create the search index and the list indexes, filled from the rows already there."""
    if conn.dialect.name == "sqlite":
        for statement in _sqlite_statements():
            conn.exec_driver_sql(statement)
        rebuild(conn)
    else:
        conn.exec_driver_sql(f"CREATE INDEX {PG_INDEX} ON articles USING gin (({pg_document()}))")
    conn.exec_driver_sql(f"CREATE INDEX {LISTED_INDEX} ON articles ({LISTED_KEY_SQL}, id)")
    conn.exec_driver_sql(
        f"CREATE INDEX {SECTION_LISTED_INDEX} ON articles (section_id, {LISTED_KEY_SQL}, id)"
    )


def drop(conn: Connection) -> None:
    for index in (SECTION_LISTED_INDEX, LISTED_INDEX):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    if conn.dialect.name == "sqlite":
        for trigger in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")


def rebuild(conn: Connection) -> None:
    """SQLite: index every article again from the table (after a bulk load without triggers)."""
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def installed(conn: Connection) -> bool:
    """Whether the search index exists (a database stamped by the placeholder 0014 lacks it)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return conn.exec_driver_sql(query, (FTS_TABLE,)).first() is not None
    query = "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s"
    return conn.exec_driver_sql(query, (PG_INDEX,)).first() is not None
