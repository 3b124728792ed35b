"""Thin `flask --app feedsvc …` commands, each calling one service function."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from feedsvc import nginxconf
from feedsvc.analyticscli import ingest_access_log_command
from feedsvc.errors import ValidationError
from feedsvc.firstadmin import ensure_first_admin
from feedsvc.importing.command import import_feed_command
from feedsvc.limits import ROLE_EDITOR, ROLES, SCOPE_READ, SCOPES
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.users import create_user


def _app() -> Flask:
    """The real app object: jobs run in other threads, outside any application context."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _fail(message: str) -> None:
    raise click.ClickException(message)


def upgrade_database(app: Flask) -> None:
    migrate.upgrade(database(app).engine)


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


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


def _read_password() -> str:
    """Asked twice, hidden, on a terminal; else the first line of standard input."""
    if _stdin_is_terminal():
        password: str = click.prompt(
            "Password for the new user",
            hide_input=True,
            confirmation_prompt="Repeat the password",
        )
        return password
    try:
        line = sys.stdin.readline() if sys.stdin is not None else ""
    except UnicodeDecodeError:
        _fail("The password on standard input is not UTF-8 text.")
    if not line:
        _fail(
            "No password on standard input: send it as the first line "
            "(printf '%s\\n' \"$PASSWORD\" | flask --app feedsvc create-user NAME), "
            "or run the command in a terminal to be asked for it."
        )
    return line.removesuffix("\n").removesuffix("\r")


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=ROLE_EDITOR,
    show_default=True,
    help="editor: writes articles; admin: also sections, users and API tokens.",
)
@with_appcontext
def create_user_command(username: str, role: str) -> None:
    """Add an account that can log in to /admin (the password is asked, or read from stdin)."""
    _require_schema()
    password = _read_password()
    try:
        with transaction(current_app) as s:
            create_user(s, username, password, role)
    except ValidationError as exc:
        _fail(" ".join(exc.errors.values()))
    click.echo(f"User {username!r} created ({role}).")


@click.command("rebuild-feeds")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-render every stored article (current sanitising policy) and every section.",
)
@with_appcontext
def rebuild_feeds(everything: bool) -> None:
    """Run one publishing pass now (for cron, after restoring a backup or upgrading nh3)."""
    from feedsvc.progress import progress
    from feedsvc.publishing.passes import rebuild_steps, run_pass

    _require_schema()
    if everything:  # long on a large archive: a bar on a terminal, a summary line otherwise
        with progress("Rebuilding every feed", rebuild_steps(_app()), unit="steps") as bar:
            result = run_pass(_app(), full=True, advance=bar.advance, rerender=True)
    else:
        result = run_pass(_app())
    click.echo(
        f"Rendered {len(result.sections_rendered)} section(s)"
        f"{' and the site-wide feeds' if result.site_rendered else ''}; "
        f"{result.documents_changed} document(s) changed in {result.seconds:.2f} s."
    )
    if result.articles_rerendered:
        click.echo(
            f"Re-rendered {result.articles_rerendered} stored article(s) with the current "
            "sanitising policy."
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
    from feedsvc.publishing.scheduler import run_scheduler

    _require_schema()
    logs.configure(current_app.config["LOG_FORMAT"])
    run_scheduler(_app())


@click.command("serve")
@with_appcontext
def serve_command() -> None:
    """Upgrade the database, then run the web server and the scheduler together until Ctrl-C."""
    from feedsvc.runner import serve

    upgrade_database(current_app)
    ensure_first_admin(current_app)
    sys.exit(serve(_app()))


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for, e.g. the CMS it is given to.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=SCOPE_READ,
    show_default=True,
    help="read: GET only; write: also changes (least privilege: ask for write when needed).",
)
@click.option(
    "--expires",
    default="never",
    show_default=True,
    help="When it stops working: days (90d), a date (2027-01-31: 00:00 that day in TIMEZONE), "
    "an RFC 3339 time, or never.",
)
@with_appcontext
def create_token_command(username: str, name: str, scope: str, expires: str) -> None:
    """Make an API bearer token for USERNAME and print it (once: only its hash is kept)."""
    from feedsvc.storage.models import utcnow
    from feedsvc.tokens import create_token, display_prefix, parse_expiry

    _require_schema()
    try:
        expires_at = parse_expiry(expires, ZoneInfo(current_app.config["TIMEZONE"]), utcnow())
        with transaction(current_app) as s:
            token, secret = create_token(s, username, name, scope=scope, expires_at=expires_at)
            label = display_prefix(token)
    except ValidationError as exc:
        _fail(" ".join(exc.errors.values()))
    until = f"expires {_when(expires_at)}" if expires_at else "does not expire"
    click.echo(secret)
    click.echo(
        f"Token {label}… created for {username!r} (scope {scope}; {until}). It is shown only "
        f"this once: store it now. Send it as 'Authorization: Bearer <token>'; revoke it with: "
        f"flask --app feedsvc revoke-token {label}",
        err=True,
    )


@click.command("revoke-token")
@click.argument("prefix")
@with_appcontext
def revoke_token_command(prefix: str) -> None:
    """Revoke the API token whose prefix (as list-tokens shows it) is PREFIX."""
    from feedsvc.errors import NotFound
    from feedsvc.tokens import display_prefix, revoke_token

    _require_schema()
    try:
        with transaction(current_app) as s:
            token, was_live = revoke_token(s, prefix)
            label, when = display_prefix(token), token.revoked_at
    except NotFound as exc:
        _fail(str(exc))
    if was_live:
        click.echo(f"Token {label}… revoked; requests with it now get 401.")
    else:
        click.echo(f"Token {label}… was already revoked ({_when(when)}).")


@click.command("list-tokens")
@with_appcontext
def list_tokens_command() -> None:
    """List API tokens: prefix, user, scope, created, last used, expires, state, name."""
    from feedsvc.storage.models import utcnow
    from feedsvc.tokens import display_prefix, list_tokens, unusable_because

    _require_schema()
    now = utcnow()
    with transaction(current_app, write=False) as s:
        rows = [
            (
                display_prefix(t),
                t.user.username,
                t.scope,
                _when(t.created_at),
                _when(t.last_used_at),
                _when(t.expires_at),
                _state(unusable_because(t, now), t.revoked_at),
                t.name or "-",
            )
            for t in list_tokens(s)
        ]
    if not rows:
        click.echo("No API tokens. Make one with: flask --app feedsvc create-token USERNAME")
        return
    header = ("prefix", "user", "scope", "created", "last used", "expires", "state", "name")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


def _state(why: str | None, revoked_at: datetime | None) -> str:
    if why == "revoked":
        return f"revoked {_when(revoked_at)}"
    return {None: "active", "expired": "expired", "disabled": "user disabled"}[why]


def _nginx_token_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One option per deploy/nginx.conf token (feedsvc/nginxconf.py's table)."""
    for token in reversed(nginxconf.TOKENS):
        default = f" (default: {token.production})" if token.production else ""
        command = click.option(
            f"--{token.option}", metavar="VALUE", help=f"{token.name}: {token.meaning}{default}."
        )(command)
    return command


@click.command("render-nginx-conf")
@_nginx_token_options
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the configuration to this file instead of printing it.",
)
@with_appcontext
def render_nginx_conf_command(output: Path | None, **options: str | None) -> None:
    """Print deploy/nginx.conf with its tokens filled in (--output: write it to a file).

    Production values are the defaults; --export-dir defaults to the EXPORT_DIR setting,
    --upstream to FEEDSVC_BIND, else 127.0.0.1:$PORT (where webserver.py binds), and
    the --poll-* values to the POLL_MIN_INTERVAL and POLL_BURST settings.
    """
    if not options.get("export_dir"):
        options["export_dir"] = current_app.config["EXPORT_DIR"] or None
    polls = nginxconf.poll_values(
        float(current_app.config["POLL_MIN_INTERVAL"]), int(current_app.config["POLL_BURST"])
    )
    for token, value in polls.items():
        option = nginxconf.TOKEN_BY_NAME[token].option.replace("-", "_")
        if options.get(option) is None:
            options[option] = value
    if not options.get("upstream"):
        options["upstream"] = nginxconf.default_upstream(os.environ)
    if not options["export_dir"]:
        raise click.UsageError(
            "No export folder: pass --export-dir or set FEEDSVC_EXPORT_DIR "
            "(nginx serves the feeds from it)."
        )
    if not Path(options["export_dir"]).is_absolute():  # as EXPORT_DIR: nginx's `root` is too
        raise click.UsageError(
            f"--export-dir must be an absolute path, not {options['export_dir']!r}."
        )
    try:
        text = nginxconf.render(nginxconf.production_values(**options))
    except nginxconf.RenderError as exc:
        raise click.UsageError(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text)
        except OSError as exc:
            _fail(f"Cannot write {output}: {exc.strerror}.")
        click.echo(f"Wrote {output}; check it with: nginx -t -c {output}", err=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "never"


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
        create_token_command,
        revoke_token_command,
        list_tokens_command,
        render_nginx_conf_command,
        import_feed_command,
        ingest_access_log_command,
    ):
        app.cli.add_command(command)
