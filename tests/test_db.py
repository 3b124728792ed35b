"""The database layer: SQLite tuned for several processes, datetimes always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import text

from feedsvc.db import database, transaction
from feedsvc.models import Section
from feedsvc.sections import SectionInput, create_section


def test_sqlite_runs_in_wal_with_a_busy_timeout(app: Flask) -> None:
    engine = database(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_datetimes_come_back_aware_and_in_utc(app: Flask) -> None:
    with transaction(app) as s:
        section_id = create_section(s, SectionInput(name="World")).id
        section = s.get_one(Section, section_id)
        # Stored from another zone: the instant is kept, the zone normalised to UTC.
        section.updated_at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with transaction(app, write=False) as s:
        back = s.get_one(Section, section_id).updated_at
    assert back == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert back.utcoffset() == timedelta(0)


def test_a_naive_datetime_is_refused(app: Flask) -> None:
    with pytest.raises(Exception, match="naive datetime"), transaction(app) as s:
        section_id = create_section(s, SectionInput(name="World")).id
        s.get_one(Section, section_id).updated_at = datetime(2026, 3, 1, 9, 30)
        s.flush()


def test_a_failed_transaction_leaves_nothing_behind(app: Flask) -> None:
    with pytest.raises(RuntimeError), transaction(app) as s:
        create_section(s, SectionInput(name="Half written"))
        raise RuntimeError("crash mid-transaction")
    with transaction(app, write=False) as s:
        assert s.execute(text("SELECT count(*) FROM sections")).scalar() == 0
