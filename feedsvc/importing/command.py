"""`flask --app feedsvc import-feed URL_OR_FILE --section SLUG`: import a feed from the shell."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from feedsvc.errors import NotFound
from feedsvc.importing.fetch import SourceRefused, fetch_configured, is_url, read_file
from feedsvc.importing.parse import FeedRefused, ParsedFeed, parse_feed
from feedsvc.importing.service import REFUSED, Report, run_import, section_id_of
from feedsvc.progress import Progress
from feedsvc.storage.db import transaction


class _ImportProgress(Progress):
    """The progress bar (on a terminal) whose closing line also says what the import did."""

    report: Report | None = None

    def summary(self) -> str:
        done = super().summary()
        return f"{done}; {self.report.summary()}" if self.report else done


def load(app: Flask, source: str) -> ParsedFeed:
    """The feed at `source`, a URL (fetched as IMPORT_* allow) or a file, parsed safely."""
    config = app.config
    max_bytes = int(config["IMPORT_MAX_BYTES"])
    if is_url(source):
        data = fetch_configured(config, source)
        return parse_feed(data, url=source)
    return parse_feed(read_file(source, max_bytes=max_bytes))


@click.command("import-feed")
@click.argument("source", metavar="URL_OR_FILE")
@click.option("--section", required=True, metavar="SLUG", help="The section to import into.")
@with_appcontext
def import_feed_command(source: str, section: str) -> None:
    """Import an RSS 2.0 or Atom feed (a URL or a file) into a section; items already
    imported (the same id) are skipped. Prints one summary line, and each refused item."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with transaction(app, write=False) as s:
            section_id_of(s, section)  # before fetching: a mistyped slug costs nothing
        feed = load(app, source)
    except (NotFound, SourceRefused, FeedRefused) as exc:
        raise click.ClickException(str(exc)) from None
    progress = _ImportProgress("Importing", len(feed.entries), stream=sys.stdout)
    with progress:
        progress.report = run_import(
            app, feed.entries, section=section, feed_title=feed.title, advance=progress.advance
        )
    for refused in progress.report.of(REFUSED):
        click.echo(f"refused item {refused.position} ({refused.id or 'no id'}): {refused.why}")
