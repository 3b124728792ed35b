"""Bounded content work: a body renders in time linear in its length, to HTML of bounded size.

Time is measured as CPU time (the process's own, so other load on the machine does not count)
and compared with rendering plain prose of the same length on the same machine, with margins
wide enough for a slow runner: a quadratic path costs hundreds of times the prose, not tens.
"""

from __future__ import annotations

import contextlib
import logging
import time
import tomllib
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree, html
from sqlalchemy import select, update

from feedsvc import rerendering
from feedsvc import settings as feedsvc_settings
from feedsvc.articles import summary_of
from feedsvc.content.html import render_body
from feedsvc.content.markdown import markdown_to_html
from feedsvc.content.text import ContentError
from feedsvc.limits import BODY_HTML_MAX_BYTES, BODY_MAX
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article
from feedsvc.users import create_user
from tests.support.apiclient import Api, count, error, new_token
from tests.support.apiclient import add_section as api_add_section
from tests.support.app import EDITOR, make_app
from tests.support.factories import STORY, make_article, make_section
from tests.support.forms import post_article
from tests.support.markdown_strategies import hostile_markdown, large_hostile_markdown

BASE = "https://news.example.com/"
# The two bodies of the report. The first took 17.7 s (a regex tried every split of the "b"
# run); the second, 28 KB of uses of one reference with an 8 KB URL, made 40 MB of HTML.
TAG_RUN = "<div>\n<a" + "b" * 30_000
_DEFINITION = f"[a]: https://example.org/{'x' * 8000}\n\n"
REFERENCE_BLOWUP = _DEFINITION + " ".join(["[a]"] * ((28_000 - len(_DEFINITION)) // 4))
OVER_BOUND = "bytes of HTML, the most an article may have"
# CPU time per character may be this many times that of plain prose of the same length;
# every source counts as at least FLOOR_CHARS long, so fixed costs (a table's capped
# autocompleted cells, parser set-up) stay within the margin at any size.
TIME_RATIO = 100
FLOOR_CHARS = 64_000
# Script, event handlers and javascript: URLs must never come through sanitising.
_DANGEROUS_TAGS = {"script", "style", "iframe", "object", "embed", "svg", "math", "form", "base"}


def _examples(n: int) -> int:
    """n examples under the default profile (100 examples), proportionally more under another."""
    return max(1, n * settings().max_examples // 100)


def _cpu_seconds(render: Callable[[], object]) -> float:
    started = time.process_time()
    with contextlib.suppress(ContentError):  # refusing is an outcome too: its cost counts
        render()
    return time.process_time() - started


@pytest.fixture(scope="module")
def prose_seconds_per_char() -> float:
    """What rendering plain prose costs on this machine, the yardstick for every bound."""
    prose = (STORY + "\n\n") * (FLOOR_CHARS // len(STORY))
    best = min(_cpu_seconds(lambda: render_body(prose, base_url=BASE)) for _ in range(3))
    return max(best, 1e-3) / len(prose)


def _time_allowed(source: str, per_char: float) -> float:
    return TIME_RATIO * per_char * max(len(source), FLOOR_CHARS)


def _assert_safe(fragment: str) -> None:
    """No script, style or event handler, no javascript: URL; well-formed XML."""
    root = etree.fromstring(f"<root>{fragment}</root>".encode(), etree.XMLParser(recover=False))
    for element in root.iter():
        assert element.tag not in _DANGEROUS_TAGS, fragment[:500]
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), fragment[:500]
            if name in ("href", "src"):
                assert value.startswith(("https://", "http://", "mailto:")), value[:200]


# --- the two reported bodies ---------------------------------------------------------------


def test_the_30_kb_tag_run_renders_in_about_the_time_of_prose(
    prose_seconds_per_char: float,
) -> None:
    with pytest.raises(ContentError, match=r"^Body is required\.$"):  # no visible text in it
        render_body(TAG_RUN, base_url=BASE)
    assert "Intro" in render_body("Intro\n\n" + TAG_RUN, base_url=BASE)
    for body in (TAG_RUN, "Intro\n\n" + TAG_RUN, "<a" + "b" * 100_000):
        spent = _cpu_seconds(partial(render_body, body, base_url=BASE))
        # 17.7 s before; a second even on a runner ten times slower than prose suggests.
        assert spent < _time_allowed(body, prose_seconds_per_char), spent


def test_the_reference_blowup_is_refused_without_building_its_html() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ContentError, match=OVER_BOUND):
            render_body(REFERENCE_BLOWUP, base_url=BASE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The whole HTML would be 40 MB; the render stops at 2 MB and holds little more.
    assert peak < 10 * BODY_HTML_MAX_BYTES, peak


def test_fewer_uses_of_the_same_reference_render_under_the_bound() -> None:
    body = _DEFINITION + " ".join(["[a]"] * 100)
    rendered = render_body(body, base_url=BASE)
    assert rendered.count("<a ") == 100
    assert len(rendered.encode()) <= BODY_HTML_MAX_BYTES


# 1.5 KB: a 256-column header over 256 rows of one cell, filled up to 65,536 cells (2-3 s).
TABLE_FILL = "|a" * 256 + "|\n" + "|-" * 256 + "|\n" + "x\n" * 257


def test_a_table_that_leaves_out_most_cells_is_refused_before_parsing(
    prose_seconds_per_char: float,
) -> None:
    with pytest.raises(ContentError, match=r"tables leave out more than 4,096 cells"):
        render_body(TABLE_FILL, base_url=BASE)
    spent = _cpu_seconds(partial(render_body, TABLE_FILL, base_url=BASE))
    assert spent < TIME_RATIO * prose_seconds_per_char * len(TABLE_FILL), spent
    # Rows written out in full, and a few short rows, are tables as ever.
    full = "|a|b|\n|-|:-:|\n" + "|x|y|\n" * 3_000 + "|z\n"
    rendered = render_body(full, base_url=BASE)
    assert rendered.count("<tr>") == 3_002 and '<td align="center"></td>' in rendered


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    return Api(client, new_token(app))


@pytest.mark.parametrize(
    ("body", "message"),
    [(TAG_RUN, "Body is required."), (REFERENCE_BLOWUP, OVER_BOUND)],
    ids=["tag-run", "reference-blowup"],
)
def test_the_api_answers_a_field_error_and_stores_nothing(
    api: Api, app: Flask, body: str, message: str
) -> None:
    api_add_section(api)
    found = error(
        api.post("/articles", {"title": "Hostile", "section": "world-news", "body": body}), 422
    )
    assert found["error"] == "validation_failed"
    assert set(found["fields"]) == {"body"} and message in found["fields"]["body"], found
    assert count(app, Article) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [(TAG_RUN, "Body is required."), (REFERENCE_BLOWUP, OVER_BOUND)],
    ids=["tag-run", "reference-blowup"],
)
def test_the_form_answers_a_field_error_and_stores_nothing(
    editor: FlaskClient, app: Flask, body: str, message: str
) -> None:
    make_section(app)
    response = post_article(editor, Body=body)
    assert response.status_code == 200  # the form again, not a redirect to the list
    page = html.fromstring(response.get_data(as_text=True))
    assert message in page.get_element_by_id("body-error").text_content()
    assert count(app, Article) == 0


@pytest.fixture
def small_bound_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The API of an app whose BODY_HTML_MAX_BYTES is 10,000."""
    app = make_app(database_url, tmp_path, BODY_HTML_MAX_BYTES=10_000)
    with transaction(app) as s:
        create_user(s, *EDITOR, role="admin")
    yield Api(app.test_client(), new_token(app))
    database(app).dispose()


def test_the_bound_is_the_setting(small_bound_api: Api) -> None:
    api_add_section(small_bound_api)
    post = {"title": "Long", "section": "world-news"}
    found = error(small_bound_api.post("/articles", {**post, "body": "word " * 3_000}), 422)
    assert "more than 10,000 bytes of HTML" in found["fields"]["body"]
    assert small_bound_api.post("/articles", {**post, "body": "word " * 1_000}).status_code == 201


def test_the_setting_has_one_default_and_refuses_nonsense(tmp_path: Path) -> None:
    with (feedsvc_settings.CONFIG_DIR / "default.toml").open("rb") as f:
        assert tomllib.load(f)["BODY_HTML_MAX_BYTES"] == BODY_HTML_MAX_BYTES
    for bad in (0, 999, 10**10):
        with pytest.raises(feedsvc_settings.SettingsError, match="BODY_HTML_MAX_BYTES"):
            feedsvc_settings.load(tmp_path / "instance", {"BODY_HTML_MAX_BYTES": bad})


# --- generated bodies ----------------------------------------------------------------------


@settings(
    max_examples=_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=hostile_markdown(), bound=st.sampled_from([10_000, 100_000, BODY_HTML_MAX_BYTES]))
def test_any_body_renders_safe_html_within_the_bound_or_is_refused(body: str, bound: int) -> None:
    try:
        rendered = render_body(body, base_url=BASE, max_html_bytes=bound)
    except ContentError as exc:
        assert str(exc).endswith("."), exc  # a sentence for the editor
        return
    assert len(rendered.encode()) <= bound
    _assert_safe(rendered)
    assert len(summary_of("", rendered)) <= 280


@settings(
    max_examples=_examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=hostile_markdown(), bound=st.integers(1_000, 50_000))
def test_the_markdown_stage_never_builds_more_than_the_bound(body: str, bound: int) -> None:
    try:
        built = markdown_to_html(body[:BODY_MAX], max_bytes=bound)
    except ContentError:
        return
    assert len(built.encode()) <= bound


@settings(
    max_examples=_examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=large_hostile_markdown())
def test_any_large_body_costs_at_most_a_multiple_of_prose(
    body: str, prose_seconds_per_char: float
) -> None:
    spent = _cpu_seconds(lambda: render_body(body, base_url=BASE))
    assert spent < _time_allowed(body, prose_seconds_per_char), (spent, len(body), body[:200])


# --- stored bodies on a full rebuild -------------------------------------------------------


def _store_directly(app: Flask, article_id: int, **columns: Any) -> None:
    """Write columns as they are, as a row saved before the bound was."""
    with transaction(app) as s:
        s.execute(update(Article).where(Article.id == article_id).values(**columns))


def _stored_html(app: Flask, article_id: int) -> str:
    with transaction(app, write=False) as s:
        return str(s.scalar(select(Article.body_html).where(Article.id == article_id)))


@pytest.fixture(autouse=True)
def _nothing_reported_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's databases reuse article ids: start with no article reported in this process."""
    monkeypatch.setattr(rerendering, "_REPORTED", set())


def test_a_full_rebuild_keeps_an_over_bound_body_and_says_so_once(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    section = make_section(app)
    hostile = make_article(app, section, title="Old")
    fine = make_article(app, section, title="Fine")
    big_html = "<p>" + "x" * (BODY_HTML_MAX_BYTES + 1000) + "</p>"
    _store_directly(app, hostile, body_source=REFERENCE_BLOWUP, body_html=big_html)
    _store_directly(app, fine, body_html='<p onclick="x">Text.</p>')
    caplog.set_level(logging.WARNING, logger=rerendering.__name__)
    for _ in range(2):
        result = run_pass(app, full=True)
        assert not result.failures
        assert section in result.sections_rendered  # and the feeds were published
    assert _stored_html(app, hostile) == big_html  # kept as it was
    assert _stored_html(app, fine) == "<p>Text.</p>"  # the others still cleaned
    said = [r.getMessage() for r in caplog.records if f"article {hostile}:" in r.getMessage()]
    assert len(said) == 1 and OVER_BOUND in said[0], said


def test_a_body_the_renderer_fails_on_never_stops_a_full_rebuild(
    app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = make_section(app)
    broken = make_article(app, section, title="Broken")
    fine = make_article(app, section, title="Fine")
    _store_directly(app, fine, body_html='<p onclick="x">Text.</p>')
    real = rerendering.render_source

    def fails_on_one(body_format: str, source: str, **kw: Any) -> str:
        if "broken" in source:  # a renderer bug this body alone meets
            raise RecursionError("maximum recursion depth exceeded")
        return real(body_format, source, **kw)

    _store_directly(app, broken, body_source="A broken body.")
    monkeypatch.setattr(rerendering, "render_source", fails_on_one)
    kept = _stored_html(app, broken)
    caplog.set_level(logging.WARNING, logger=rerendering.__name__)
    for _ in range(2):
        assert not run_pass(app, full=True).failures
    assert _stored_html(app, broken) == kept
    assert _stored_html(app, fine) == "<p>Text.</p>"
    said = [r for r in caplog.records if f"article {broken}:" in r.getMessage()]
    assert len(said) == 1 and said[0].exc_info is not None
