"""Security headers on every route, found by reading the URL map: routes added later included."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter
from werkzeug.test import TestResponse

from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage.db import database, transaction
from feedsvc.users import create_user
from feedsvc.web.documents import prepare
from tests.support.app import EDITOR, make_app
from tests.support.factories import make_article, make_section
from tests.support.forms import AuthActions
from tests.support.published import publish

# The values, written out: the test fails if the code's constants drift from them.
PUBLIC_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; img-src https: http: data:"
)
ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; img-src 'self' data:"
)
HSTS = "max-age=31536000"
SECURITY = [
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Strict-Transport-Security",
    "Content-Security-Policy",
    "X-Frame-Options",
]


def _site(scheme: str) -> str:
    return f"{scheme}://feeds.example.org"


@pytest.fixture(params=["http", "https"])
def site_app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app at an http or an https SITE_URL, with the editor, a section, an article and
    every feed published (so the feed routes are answered by the fast path)."""
    app = make_app(database_url, tmp_path, SITE_URL=_site(request.param))
    with transaction(app) as s:
        create_user(s, *EDITOR)
    section = make_section(app, "World News")
    make_article(app, section, "Elections", body="Turnout was *high*. ![chart](/chart.png)")
    publish(app)
    yield app
    database(app).dispose()


# Route arguments by name. An integer argument not named here gets 1: in this fresh database
# the first row of every table (the editor, the section, the article) has id 1.
ARGUMENTS = {
    "article_id": ["1"],
    "section_id": ["1"],
    "slug": ["world-news"],
    "filename": ["site.css", "admin.js"],
    "rest": ["no/such/thing"],
}


def _values(rule: Rule) -> Iterator[dict[str, str]]:
    names = sorted(rule.arguments)
    choices = []
    for name in names:
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            choices.append(sorted(converter.items))
        elif name in ARGUMENTS:
            choices.append(ARGUMENTS[name])
        elif isinstance(converter, IntegerConverter):
            choices.append(["1"])
        else:
            pytest.fail(f"{rule.rule}: give its argument {name!r} a value in ARGUMENTS")
    for combination in itertools.product(*choices):
        yield dict(zip(names, combination, strict=True))


def _urls(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, path) for every rule, every method but HEAD and OPTIONS, and every
    value its arguments take here."""
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for values in _values(rule):
            built = rule.build(values, append_unknown=False)
            assert built is not None, rule.rule
            for method in methods:
                yield rule, method, built[1]


def _check(response: TestResponse, method: str, path: str, https: bool) -> None:
    where = f"{method} {path} → {response.status_code} {response.mimetype}"
    headers = response.headers
    for name in SECURITY:  # never twice, whoever set it first
        assert len(headers.getlist(name)) <= 1, (where, name, headers.getlist(name))
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    admin = path == "/admin" or path.startswith("/admin/")
    referrer = "same-origin" if admin else "strict-origin-when-cross-origin"
    assert headers.get("Referrer-Policy") == referrer, where
    assert headers.get("Strict-Transport-Security") == (HSTS if https else None), where
    if response.mimetype == "text/html":
        csp = headers.get("Content-Security-Policy", "")
        assert csp == (ADMIN_CSP if admin else PUBLIC_CSP), where
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, where
        assert headers.get("X-Frame-Options") == "DENY", where


def _sweep(client: FlaskClient, app: Flask, https: bool) -> set[str]:
    """Every route's responses checked; the rules seen."""
    seen = set()
    for rule, method, path in _urls(app):
        with client.open(path, method=method) as response:  # closes static files' handles
            _check(response, method, path, https)
        seen.add(rule.rule + " " + ",".join(sorted(rule.methods or ())))
    return seen


def test_every_route_answers_with_the_security_headers(site_app: Flask) -> None:
    # HSTS follows SITE_URL alone; the test client itself speaks plain http either way.
    https = site_app.config["SITE_URL"].startswith("https://")
    seen = _sweep(site_app.test_client(), site_app, https)
    editor = site_app.test_client()
    assert AuthActions(editor).login().status_code == 302
    # Logged in: the admin pages themselves (200), not the login redirect.
    assert editor.get("/admin/").status_code == 200
    assert _sweep(editor, site_app, https) == seen
    # Every rule of the URL map was asked for: N of N.
    rules = {
        r.rule + " " + ",".join(sorted(r.methods or ())) for r in site_app.url_map.iter_rules()
    }
    assert seen == rules
    assert len(rules) >= 30


def test_pages_the_sweep_meets_are_html_and_feeds_come_from_the_fast_path(
    site_app: Flask,
) -> None:
    """The sweep above checks what it meets: make sure it meets both kinds of answer."""
    client = site_app.test_client()
    for path in ("/", "/sections/world-news/", "/articles/1", "/admin/login"):
        response = client.get(path)
        assert (response.status_code, response.mimetype) == (200, "text/html"), path
    feed = client.get("/sections/world-news/atom.xml")
    assert feed.status_code == 200
    assert feed.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in feed.headers  # not a page: the fast path's list
    again = client.get(
        "/sections/world-news/atom.xml", headers={"If-None-Match": feed.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_error_answers_carry_them_too(database_url: str, tmp_path: Path, scheme: str) -> None:
    app = make_app(database_url, tmp_path, SITE_URL=_site(scheme))

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    client = app.test_client()
    https = scheme == "https"
    answers = [
        ("GET", "/no/such/page", 404, "text/html"),
        ("GET", "/sections/no-such-section/", 404, "text/html"),
        ("POST", "/", 405, "text/html"),
        ("POST", "/admin/articles/new", 400, "text/html"),  # no CSRF token
        ("GET", "/boom", 500, "text/html"),
        ("GET", "/api/v1/articles", 401, "application/json"),
        ("GET", "/api/v1/nothing-here", 401, "application/json"),
        ("GET", "/sections/no-such-section/rss.xml", 404, "text/html"),
        ("GET", "/rss.xml", 503, "text/plain"),  # known, not rendered yet
    ]
    for method, path, status, mimetype in answers:
        response = client.open(path, method=method)
        assert (response.status_code, response.mimetype) == (status, mimetype), path
        _check(response, method, path, https)
    json_404 = client.get("/nothing", headers={"Accept": "application/json"})
    assert json_404.status_code == 404 and json_404.mimetype == "application/json"
    _check(json_404, "GET", "/nothing", https)
    database(app).dispose()


def test_stored_documents_carry_nosniff_and_hsts_in_every_precomputed_list() -> None:
    security = [("X-Content-Type-Options", "nosniff"), ("Strict-Transport-Security", HSTS)]
    doc = prepare(
        "rss.xml",
        "application/rss+xml",
        b"<rss/>",
        b"gz",
        "abc",
        datetime(2024, 1, 1, tzinfo=UTC),
        max_age=5,
        security=security,
    )
    for headers in (doc.headers, doc.headers_gzip, doc.headers_304, doc.headers_304_gzip):
        assert [h for h in headers if h in security] == security


# Inline code the CSP refuses: <script> without src, <style>, style= and on…= attributes,
# javascript: URLs.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE
)


def test_templates_hold_no_inline_script_or_style() -> None:
    templates = sorted((PROJECT_ROOT / "feedsvc" / "templates").rglob("*.html"))
    assert len(templates) >= 10
    found = [
        f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}"
        for path in templates
        for match in INLINE.finditer(path.read_text())
    ]
    assert found == []
    assert INLINE.search('<form onsubmit="x">') and INLINE.search("<script>x</script>")
    assert not INLINE.search('<script src="/static/admin.js" defer></script>')
