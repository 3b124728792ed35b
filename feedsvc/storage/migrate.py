"""Schema migrations (Alembic), run from code: upgrade, and refuse to run on an old schema."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "flask --app feedsvc db upgrade"


class SchemaOutdated(RuntimeError):
    """The database schema is not the one this code was written for."""


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    rev = script.get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    _quiet()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _quiet() -> None:
    # Alembic's INFO lines ("Context impl SQLiteImpl…") are noise at every start.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _quiet()
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back to revision (each migration's downgrade keeps the data)."""
    _quiet()
    command.downgrade(_config(engine), revision)


def require_current(engine: Engine) -> None:
    """Fail fast, saying which command fixes it, instead of failing later on a missing column."""
    found, wanted = current(engine), head()
    if found != wanted:
        state = "has no schema yet" if found is None else f"is at revision {found}"
        raise SchemaOutdated(
            f"The database {state}; this code needs revision {wanted}. Run: {UPGRADE_HINT}"
        )
