"""Thin `flask --app feedsvc …` commands, each calling one service function."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from feedsvc import migrate
from feedsvc.db import database, transaction
from feedsvc.errors import ValidationError
from feedsvc.users import create_user, ensure_admin


def _app() -> Flask:
    """The real app object: jobs run in other threads, outside any application context."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _fail(message: str) -> None:
    raise click.ClickException(message)


def upgrade_database(app: Flask) -> None:
    migrate.upgrade(database(app).engine)


def ensure_first_admin(app: Flask) -> None:
    """Create `admin` on first start; print a generated password once."""
    try:
        with transaction(app) as s:
            generated = ensure_admin(s, os.environ.get("FEEDSVC_ADMIN_PASSWORD") or None)
    except ValidationError as exc:  # a too-short FEEDSVC_ADMIN_PASSWORD: a sentence, not a crash
        _fail("FEEDSVC_ADMIN_PASSWORD cannot be used. " + " ".join(exc.errors.values()))
    if generated:
        click.echo(
            "\n  Created the user 'admin' with the password:  "
            f"{generated}\n  (shown once; set FEEDSVC_ADMIN_PASSWORD to choose it yourself)\n"
        )


@click.group("db")
def db_group() -> None:
    """Schema migrations."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create the schema or bring it up to date."""
    upgrade_database(current_app)
    click.echo(f"Database schema at revision {migrate.head()}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    found = migrate.current(database(current_app).engine)
    click.echo(f"database: {found or 'no schema'}; code: {migrate.head()}")


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the schema and the first admin user."""
    upgrade_database(current_app)
    ensure_first_admin(current_app)
    click.echo("Database ready.")


@click.command("create-user")
@click.argument("username")
@click.password_option(prompt="Password for the new user")
@with_appcontext
def create_user_command(username: str, password: str) -> None:
    """Add an editor who can log in to /admin."""
    _require_schema()
    try:
        with transaction(current_app) as s:
            create_user(s, username, password)
    except ValidationError as exc:
        _fail(" ".join(exc.errors.values()))
    click.echo(f"User {username!r} created.")


@click.command("rebuild-feeds")
@click.option("--all", "everything", is_flag=True, help="Re-render every section, changed or not.")
@with_appcontext
def rebuild_feeds(everything: bool) -> None:
    """Run one publishing pass now (for cron, or after restoring a backup)."""
    from feedsvc.publishing import run_pass

    _require_schema()
    result = run_pass(_app(), full=everything)
    click.echo(
        f"Rendered {len(result.sections_rendered)} section(s)"
        f"{' and the site-wide feeds' if result.site_rendered else ''}; "
        f"{result.documents_changed} document(s) changed in {result.seconds:.2f} s."
    )
    if result.failures:
        for where, why in result.failures.items():
            click.echo(f"failed: {where}: {why}", err=True)
        sys.exit(1)


@click.command("run-scheduler")
@with_appcontext
def run_scheduler_command() -> None:
    """Run the scheduler in the foreground (one leader renders; others stand by)."""
    from feedsvc import logs
    from feedsvc.scheduler import run_scheduler

    _require_schema()
    logs.configure(current_app.config["LOG_FORMAT"])
    run_scheduler(_app())


@click.command("serve")
@with_appcontext
def serve_command() -> None:
    """Upgrade the database, then run gunicorn and the scheduler together until Ctrl-C."""
    from feedsvc.serve import serve

    upgrade_database(current_app)
    ensure_first_admin(current_app)
    sys.exit(serve(_app()))


def _require_schema() -> None:
    try:
        migrate.require_current(database(current_app).engine)
    except migrate.SchemaOutdated as exc:
        _fail(str(exc))


def init_app(app: Flask) -> None:
    for command in (
        db_group,
        init_db,
        create_user_command,
        rebuild_feeds,
        run_scheduler_command,
        serve_command,
    ):
        app.cli.add_command(command)
