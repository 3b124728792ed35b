"""The SELECT statements a piece of code sends, for query-plan tests on both engines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from feedsvc.storage.db import database, transaction


def captured_selects(app: Flask, run: Callable[[Session], object]) -> list[tuple[str, Any]]:
    """(sql, params) of every SELECT run(session) sends, in order, in a read transaction."""
    statements: list[tuple[str, Any]] = []
    engine = database(app).engine

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with transaction(app, write=False) as s:
            run(s)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements
