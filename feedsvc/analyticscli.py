"""`flask --app feedsvc ingest-access-log PATH`, and the scheduler's job doing the same."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from feedsvc import accesslog
from feedsvc.progress import Progress
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import utcnow

log = logging.getLogger(__name__)


def ingest(app: Flask, path: Path, progress: Progress | None = None) -> accesslog.Ingested:
    return accesslog.ingest(
        path,
        secret_key=str(app.config["SECRET_KEY"]),
        zone=ZoneInfo(app.config["TIMEZONE"]),
        transaction=lambda: transaction(app),
        now=utcnow,
        progress=progress,
    )


def run_job(app: Flask) -> None:
    """The scheduler's job: what is new in ACCESS_LOG_PATH, on every scheduler (each host
    reads its own nginx's log; a position per host and path keeps them apart)."""
    path = Path(app.config["ACCESS_LOG_PATH"])
    try:
        found = ingest(app, path)
    except FileNotFoundError:
        log.warning("ACCESS_LOG_PATH %s does not exist (yet); read again later", path)
        return
    except Exception:  # the next run reads from the same position
        log.exception("access log %s not read", path)
        return
    if found.lines:
        log.info("access log: %d line(s), %d feed poll(s) counted", found.lines, found.counted)


@click.command("ingest-access-log")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def ingest_access_log_command(path: Path) -> None:
    """Count the feed polls nginx served from the export, read from its access log.

    Reads from where the last run stopped (a rotated log from its start), so running it
    again, e.g. from cron, counts nothing twice.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        migrate.require_current(database(app).engine)
    except migrate.SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with Progress("Reading access log", 0, unit="bytes", stream=sys.stderr) as progress:
            found = ingest(app, path, progress)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    again = " (rotated or truncated: read from its start)" if found.started_over else ""
    click.echo(
        f"{found.lines:,} new line(s){again}; {found.counted:,} feed poll(s) served by nginx "
        "counted."
    )
