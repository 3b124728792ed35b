"""Logging set-up: readable lines in a terminal, one JSON object per line in production."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from flask import Flask


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so a log shipper needs no parsing rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str, level: int = logging.INFO) -> None:
    """Configure the root logger once per process (idempotent)."""
    root = logging.getLogger()
    if getattr(root, "_feedsvc_configured", False):
        return
    root._feedsvc_configured = True  # type: ignore[attr-defined]
    if root.handlers:
        return  # the server (webserver.py's or gunicorn's log config) set it up already
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    if not app.testing and not app.config.get("TESTING"):
        configure(app.config["LOG_FORMAT"])
