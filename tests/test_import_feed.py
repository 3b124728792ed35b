"""Importing RSS 2.0 and Atom feeds: ids, links, dates, authors, tags and HTML kept, every
produced feed valid, re-imports skipped, refusals listed, the command's one summary line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from feedsvc import articles
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article
from tests.support.factories import BASE_URL, make_section
from tests.support.feedcheck import entries
from tests.support.published import fetch, publish

DATA = Path(__file__).parent / "data"
WORDPRESS = DATA / "wordpress.xml"
ATOM = DATA / "blogger-atom.xml"
FORMATS = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
# The WordPress sample's published items, newest first, by their own ids and permalinks.
WP_ITEMS = [
    (
        "https://gazette.example.org/?p=4107",
        "https://gazette.example.org/2024/05/14/ferry-timetable-changes/",
    ),
    (
        "https://gazette.example.org/?p=4099",
        "https://gazette.example.org/2024/05/10/council-approves-new-sea-wall/",
    ),
    (
        "https://gazette.example.org/?p=4090",
        "https://gazette.example.org/2024/05/09/regatta-week/",
    ),
]


def import_feed(runner: FlaskCliRunner, source: Path | str, section: str = "local") -> list[str]:
    result = runner.invoke(args=["import-feed", str(source), "--section", section])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def feed_entries(app: Flask, path: str) -> dict[str, list]:  # type: ignore[type-arg]
    client = app.test_client()
    return {fmt: entries(fmt, fetch(client, f"{path}{name}")) for fmt, name in FORMATS.items()}


def test_a_wordpress_feed_keeps_its_ids_links_dates_and_people_in_every_format(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_section(app, "Local", slug="local")
    lines = import_feed(runner, WORDPRESS)
    # Not a terminal: one summary line, then the refused item and why.
    assert len(lines) == 2, lines
    assert "4 imported, 0 skipped (already imported), 1 refused" in lines[0]
    assert lines[1].startswith("refused item 5 (https://gazette.example.org/?p=4001)")
    assert "Body is required" in lines[1]
    publish(app)
    for fmt, got in feed_entries(app, "/sections/local/").items():
        # The 2099 item is imported as scheduled: in no feed until its time comes.
        assert [(e.id, e.url) for e in got] == WP_ITEMS, fmt
        first = got[0]
        assert first.title == "Ferry timetable changes – what you need to know…", fmt
        assert first.published == datetime(2024, 5, 14, 8, 12, 40, tzinfo=UTC), fmt
        assert first.author == "Mary O’Neill", fmt
        assert {"Transport", "Ferries", "Local & Regional"} <= set(first.tags), fmt
        # HTML stays HTML: no Markdown list out of "* ", the <pre> spacing kept,
        # relative links resolved against the original site, scripts and handlers gone.
        assert "<p>* This line starts with an asterisk" in first.content, fmt
        assert "<li>" not in first.content, fmt
        assert "indented code stays   as typed" in first.content, fmt
        assert 'href="https://gazette.example.org/timetables/"' in first.content, fmt
        assert "script" not in first.content and "onclick" not in first.content, fmt
        assert "ten minutes earlier" in first.content and "…" in first.content, fmt
        assert first.summary.startswith("From Monday the 7:15 crossing"), fmt
    with transaction(app, write=False) as s:
        scheduled = s.scalar(select(Article).where(Article.guid.endswith("?p=4200")))
        assert scheduled is not None
        assert scheduled.publish_at == datetime(2099, 1, 1, 9, tzinfo=UTC)


def test_the_article_page_names_the_original(app: Flask, runner: FlaskCliRunner) -> None:
    make_section(app, "Local", slug="local")
    import_feed(runner, WORDPRESS)
    with transaction(app, write=False) as s:
        article_id = s.scalar(select(Article.id).where(Article.guid.endswith("?p=4099")))
    page = app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    original = WP_ITEMS[1][1]
    assert f'<link rel="canonical" href="{original}">' in page
    assert f'Originally published at <a href="{original}">' in page


def test_a_second_import_skips_every_item_already_imported(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_section(app, "Local", slug="local")
    import_feed(runner, WORDPRESS)
    lines = import_feed(runner, WORDPRESS)
    assert "0 imported, 4 skipped (already imported), 1 refused" in lines[0]
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 4


def test_an_atom_feed_keeps_its_ids_and_reads_each_content_type(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_section(app, "Tides", slug="tides")
    lines = import_feed(runner, ATOM, "tides")
    assert "3 imported, 0 skipped (already imported), 0 refused" in lines[0]
    publish(app)
    for got in feed_entries(app, "/sections/tides/").values():
        by_id = {e.id: e for e in got}
        spring = by_id["tag:blogger.com,1999:blog-1234567890123456789.post-111"]
        assert spring.url == "https://tides.example.com/2024/03/spring-tides.html"
        assert spring.title == "Spring tides & you"
        assert spring.published == datetime(2024, 3, 1, 17, 30, tzinfo=UTC)
        if spring.updated is not None:  # Atom and JSON Feed carry the entry's own update
            assert spring.updated == datetime(2024, 3, 2, 18, tzinfo=UTC)
        assert "<b>twice a month</b>" in spring.content
        quiet = by_id["tag:blogger.com,1999:blog-1234567890123456789.post-112"]
        assert quiet.title == "A quiet week"  # type="html": the markup is not the title
        assert "<em>happened</em>" in quiet.content
        # type="text" content is text: its "<not a tag>" is shown, not parsed away.
        plain = by_id["urn:example:plain-text-entry"]
        assert "&lt;not a tag&gt;" in plain.content and "Second paragraph" in plain.content


RSS_EDGE_CASES = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Edge cases</title><link>https://edge.example.com/</link>
<description>d</description>
<item><guid isPermaLink="false">4107</guid><title>Numbered</title>
  <description>&lt;p&gt;A plain number as id.&lt;/p&gt;</description></item>
<item><link>https://edge.example.com/no-guid</link><title>No guid</title>
  <description>The link stands in for the id.</description></item>
<item><title>Nothing to go by</title><description>No id, no link.</description></item>
<item><guid>https://edge.example.com/twice</guid><title>First</title>
  <description>Kept.</description></item>
<item><guid>https://edge.example.com/twice</guid><title>Second</title>
  <description>Skipped.</description></item>
<item><guid>https://edge.example.com/{long}</guid><title>Long id</title>
  <description>Refused.</description></item>
<item><guid>https://edge.example.com/untitled</guid>
  <description>An item without a title, as RSS 2.0 allows.</description></item>
<item><guid>https://edge.example.com/old</guid><title>Too old</title>
  <pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate><description>x</description></item>
</channel></rss>
""".replace("{long}", "x" * 300)


def test_items_without_ids_titles_or_dates_and_duplicates(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    make_section(app, "Local", slug="local")
    source = tmp_path / "edge.xml"
    source.write_text(RSS_EDGE_CASES, encoding="utf-8")
    before = datetime.now(UTC).replace(microsecond=0)
    lines = import_feed(runner, source)
    assert "4 imported, 1 skipped (already imported), 3 refused" in lines[0]
    why = "\n".join(lines[1:])
    assert "refused item 3 (no id): It has no id" in why
    assert "refused item 6" in why and "at most 255" in why
    assert "refused item 8" in why and "Publish at must be between" in why
    publish(app)
    for fmt, got in feed_entries(app, "/sections/local/").items():
        ids = {e.id for e in got}
        # A plain RSS guid stays itself in RSS and JSON Feed; Atom (RFC 4287 §4.2.6) needs
        # an IRI, so it gets a urn:uuid: there, the same at every render.
        if fmt == "atom":
            mapped = ids - {
                "https://edge.example.com/no-guid",
                "https://edge.example.com/twice",
                "https://edge.example.com/untitled",
            }
            assert len(mapped) == 1 and re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", mapped.pop())
        else:
            assert "4107" in ids, fmt
        assert "https://edge.example.com/no-guid" in ids, fmt
        untitled = next(e for e in got if e.id == "https://edge.example.com/untitled")
        assert untitled.title == "An item without a title, as RSS 2.0 allows.", fmt
        # No date: published when imported.
        assert untitled.published >= before, fmt


def test_an_edit_keeps_an_imported_body_html(app: Flask, runner: FlaskCliRunner) -> None:
    make_section(app, "Local", slug="local")
    import_feed(runner, WORDPRESS)
    with transaction(app) as s:
        article = s.scalars(select(Article).where(Article.guid.endswith("?p=4107"))).one()
        data = articles.input_of(article)
        edited = data.__class__(**{**data.__dict__, "title": "Ferry timetable (corrected)"})
        articles.update_article(s, article.id, edited, base_url=BASE_URL)
    with transaction(app, write=False) as s:
        stored = s.scalars(select(Article).where(Article.guid.endswith("?p=4107"))).one()
        assert stored.title == "Ferry timetable (corrected)"
        assert "<p>* This line starts with an asterisk" in stored.body_html
        assert "<li>" not in stored.body_html
        assert stored.guid == WP_ITEMS[0][0]


def test_an_unknown_section_is_refused_before_anything_is_read(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["import-feed", str(WORDPRESS), "--section", "nowhere"])
    assert result.exit_code != 0
    assert "There is no section with the slug 'nowhere'" in result.output


def test_a_terminal_gets_a_progress_bar(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a terminal the progress helper draws its bar; the same summary closes it.
    from feedsvc.progress import Progress

    monkeypatch.setattr(Progress, "interactive", property(lambda self: True))
    make_section(app, "Local", slug="local")
    result = app.test_cli_runner().invoke(
        args=["import-feed", str(WORDPRESS), "--section", "local"]
    )
    assert result.exit_code == 0, result.output
    assert "Importing" in result.output and "items/s" in result.output
    assert "4 imported" in result.output


def test_a_wordpress_export_file_keeps_posts_and_leaves_the_rest(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_section(app, "Local", slug="local")
    lines = import_feed(runner, DATA / "wordpress-export.xml")
    # Hello world and the classic post published, the draft kept as a draft; the
    # attachment and the trashed post refused with why.
    assert "3 imported, 0 skipped (already imported), 2 refused" in lines[0], lines
    why = "\n".join(lines[1:])
    assert "It is a WordPress attachment, not a post or page." in why
    assert "Its WordPress status is 'trash'" in why
    publish(app)
    for fmt, got in feed_entries(app, "/sections/local/").items():
        assert [e.id for e in got] == ["https://site.example/?p=1", "https://site.example/?p=3"]
        hello, classic = got
        assert hello.author == "Admin Person", fmt  # the login's display name
        assert hello.summary == "A short excerpt.", fmt
        assert {"Uncategorized", "Greetings"} <= set(hello.tags), fmt
        if hello.updated is not None:
            assert hello.updated == datetime(2024, 5, 15, 9, tzinfo=UTC), fmt
        assert classic.title == "Classic & plain", fmt
        assert classic.published == datetime(2023, 1, 2, 10, tzinfo=UTC), fmt
        # Paragraphs as WordPress shows them; relative links against the site.
        assert classic.content.count("<p>") == 2, fmt
        assert 'href="https://site.example/about/"' in classic.content, fmt
    with transaction(app, write=False) as s:
        draft = s.scalars(select(Article).where(Article.guid == "https://site.example/?p=5")).one()
        assert draft.status == "draft"
