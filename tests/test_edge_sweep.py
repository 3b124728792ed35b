"""No 500 on edge input: every route of the URL map, every method, hostile values everywhere.

The requests are built from `app.url_map`, the pages' own forms (parsed with lxml) and the
API's own description, so a route, form or field added later is swept without a change
here. Each request goes as an anonymous reader, as a logged-in editor (forms with a valid
CSRF token) and with a valid API token, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.storage.db import database, transaction
from feedsvc.users import create_user
from feedsvc.web.api import openapi
from feedsvc.web.api.contract import PREFIX
from tests.support.apiclient import new_token, openapi_path
from tests.support.app import EDITOR, SITE_URL, make_app
from tests.support.factories import make_article, make_section
from tests.support.forms import AuthActions
from tests.support.hostile import (
    BODIES,
    HEADERS,
    TEXTS,
    Route,
    csrf_token,
    form_body,
    post_forms,
    request_bodies,
    routes,
)
from tests.support.published import publish

# A zone whose offset was positive at year 1 (Russian America's local mean time, +14:00)
# and is negative today, so both ends of the calendar overflow a careless conversion.
ZONE = "America/Anchorage"
SAFE = ("GET", "HEAD", "OPTIONS")
FORM = "application/x-www-form-urlencoded"
# Hostile parts sent as every identity (the others: one identity each, in turn).
EVERYONE = ("QUERY_STRING", "HTTP_HOST", "HTTP_X_FORWARDED_PROTO")
# Hostile parts that also go with form posts: what a CSRF check or a session reads.
POSTED = (
    "QUERY_STRING",
    "HTTP_HOST",
    "HTTP_COOKIE",
    "HTTP_ORIGIN",
    "HTTP_REFERER",
    "HTTP_X_FORWARDED_PROTO",
)


@dataclass
class World:
    app: Flask
    client: FlaskClient  # keeps no cookies: each request says who it is in its headers
    token: str
    cookie: str = ""
    csrf: str = ""
    failures: list[str] = field(default_factory=list)
    swept: set[str] = field(default_factory=set)

    def identities(self) -> dict[str, dict[str, str]]:
        return {
            "anonymous": {},
            "editor": {"Cookie": self.cookie},
            "token": {"Authorization": f"Bearer {self.token}"},
        }

    def login(self) -> None:
        """Log in through the real form; keep the cookie and a CSRF token good for it."""
        jar = self.app.test_client()
        assert AuthActions(jar).login().status_code == 302
        page = jar.get("/admin/")
        assert page.status_code == 200
        name = self.app.config["SESSION_COOKIE_NAME"]
        cookie = jar.get_cookie(name)
        assert cookie is not None
        self.cookie, self.csrf = f"{name}={cookie.value}", csrf_token(page.get_data(as_text=True))

    def still_logged_in(self) -> None:
        """After POSTs (a logout among them, say): log in again if the cookie stopped working."""
        if self.client.get("/admin/", headers={"Cookie": self.cookie}).status_code != 200:
            self.login()

    def check(self, route: Route, what: str, method: str, url: str, **kw: Any) -> None:
        """Send one request; note a 500 (503 is a feed not rendered yet), or a traceback."""
        self.swept.add(route.rule.rule)
        label = f"{route.rule.rule} {method} {url[:80]} {what}"[:300]
        try:
            response = self.client.open(url, method=method, **kw)
        except Exception as exc:  # the app raised past every error handler
            self.failures.append(f"{label}: raised {type(exc).__name__}: {exc}"[:500])
            return
        data = response.get_data()
        status = response.status_code
        if (status >= 500 and status != 503) or b"Traceback (most recent call" in data:
            self.failures.append(f"{label}: {status} {data[:200]!r}")


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """An app in ZONE with a section, a published article, its feeds, an editor and a token."""
    # One proxy trusted: forged X-Forwarded-For and -Proto values reach the app, as behind nginx.
    # Login limits out of the way: the sweep posts the login form hundreds of times (the
    # limits have their own tests), and its identities must still log in afterwards.
    app = make_app(
        database_url,
        tmp_path,
        TIMEZONE=ZONE,
        TRUSTED_PROXIES=1,
        LOGIN_LIMIT_PER_ACCOUNT="100000 per minute",
        LOGIN_LIMIT_PER_ADDRESS="100000 per minute",
        TOKEN_LIMIT_PER_ADDRESS="100000 per minute",
    )
    with transaction(app) as s:
        # User 1 is a bystander: a page about user 1 (reset a password, disable) must not
        # lock the sweep out.
        create_user(s, "bystander", "a bystander's own password")
        create_user(s, *EDITOR)
    make_article(app, make_section(app))  # section world-news, article 1
    publish(app)
    w = World(app, app.test_client(use_cookies=False), new_token(app))
    w.login()
    yield w
    database(app).dispose()


def _swept_every_rule(world: World, selected: list[Route]) -> None:
    assert not world.failures, "\n".join(world.failures)
    assert world.swept == {r.rule.rule for r in selected}, "a rule was left out"


def _all_routes(world: World) -> list[Route]:
    return routes(world.app.url_map.iter_rules(), slug="world-news")


def test_every_route_survives_hostile_headers_queries_and_paths(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """GET, HEAD, OPTIONS and an unknown method on every rule, as each identity."""
    every = _all_routes(world)
    people = list(world.identities().items())
    with caplog.at_level(logging.ERROR):
        for route in every:
            for who, headers in people:
                for method in sorted({*route.methods, "BOGUS"} & {*SAFE, "BOGUS"}):
                    world.check(route, f"as {who}", method, route.url, headers=headers)
            # Bounded: each hostile part once per route, the identities taking turns; the
            # query string and Host, read before anything knows who asks, as every identity.
            for i, url in enumerate(route.hostile_urls):
                who, headers = people[i % len(people)]
                world.check(route, f"as {who}", "GET", url, headers=headers)
            for i, (key, value) in enumerate(HEADERS):
                turn = people if key in EVERYONE else [people[i % len(people)]]
                for who, headers in turn:
                    world.check(
                        route,
                        f"as {who} with {key}={value[:40]!r}",
                        "GET",
                        route.url,
                        headers=headers,
                        environ_overrides={key: value},
                    )
    _swept_every_rule(world, every)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]


def test_every_form_survives_hostile_field_values(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every POST rule outside the API: each field of each form on its page, in turn, at each
    edge value (the others plausible), then all at once; and hostile bodies and tokens."""
    posting = [r for r in _all_routes(world) if "POST" in r.methods and not _is_api(r)]
    # Routes without a page of their own (delete, log out) change state: last, and never on
    # the existing rows (id 1), so the pages before keep something to edit.
    posting.sort(key=lambda r: ("GET" not in r.methods, "logout" in r.rule.endpoint))
    with caplog.at_level(logging.ERROR):
        for route in posting:
            _sweep_form_route(world, route)
            world.still_logged_in()
    _swept_every_rule(world, posting)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]


def _is_api(route: Route) -> bool:
    return route.rule.rule.startswith(PREFIX)


def _sweep_form_route(world: World, route: Route) -> None:
    editor = {"Cookie": world.cookie}

    def post(url: str, body: bytes, what: str, headers: dict[str, str] = editor) -> None:
        world.check(route, what, "POST", url, data=body, content_type=FORM, headers=headers)

    forms: list[tuple[str | None, dict[str, str]]] = [(None, {})]
    credentials = False
    if "GET" in route.methods:
        page = world.client.get(route.url, headers=editor)
        if page.status_code == 200:
            shown = page.get_data(as_text=True)
            forms = post_forms(shown) or forms
            # Bounded: each post of a form with a password costs a scrypt hash (~0.15 s), so
            # such a form gets each field at each edge value, and no more.
            credentials = 'type="password"' in shown
        urls = [route.url]
    else:
        urls = route.hostile_urls or [route.url]
    for action, base in forms:
        url = route.url if action is None or "GET" not in route.methods else action
        if url.rstrip("/") != route.url.rstrip("/") and "GET" in route.methods:
            continue  # another route's form on this page (log out): swept under that route
        base = {**base, "csrf_token": world.csrf}
        names = [n for n in base if n != "csrf_token"]
        for target in urls:
            post(target, form_body(base), "as filled")
            post(target, form_body({**base, "csrf_token": "x" * 200}), "with a bad token")
            post(target, form_body(base), "anonymously", headers={})
            for text in TEXTS:
                for name in names:
                    post(target, form_body({**base, name: text}), f"{name}={text[:30]!r}")
                if not credentials:
                    every = {**base, **dict.fromkeys(names, text)}
                    post(target, form_body(every), f"every field={text[:30]!r}")
                    post(target, form_body({**base, text: text}), f"field named {text[:30]!r}")
            for key, value in HEADERS:
                if key in POSTED and not credentials:
                    world.check(
                        route,
                        f"with {key}={value[:40]!r}",
                        "POST",
                        target,
                        data=form_body(base),
                        content_type=FORM,
                        headers=editor,
                        environ_overrides={key: value},
                    )
            for content_type, body in BODIES:
                world.check(
                    route,
                    f"as {content_type[:40]!r}",
                    "POST",
                    target,
                    data=body,
                    content_type=content_type,
                    headers=editor,
                )


def test_every_api_write_survives_hostile_json(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every write method of every API rule, with the description's fields at edge values."""
    document = openapi.document(SITE_URL)
    writing = [r for r in _all_routes(world) if _is_api(r) and set(r.methods) - {*SAFE}]
    token = {"Authorization": f"Bearer {world.token}"}
    deletes: list[tuple[Route, str]] = []
    with caplog.at_level(logging.ERROR):
        for route in writing:
            path = openapi_path(route.rule.rule)
            for method in sorted(set(route.methods) - {*SAFE}):
                world.check(route, "anonymously", method, route.url, json={"a": "\x00"})
                if method == "DELETE":
                    deletes.append((route, route.url))  # last: it removes article 1
                    continue
                bodies = [
                    *((t, text.encode()) for t, text in request_bodies(document, path, method)),
                    *BODIES,
                ]
                for url in [route.url, *route.hostile_urls]:
                    # Every body on the real row; a sample of them on the hostile ids.
                    for content_type, data in bodies[:: 1 if url == route.url else 7]:
                        world.check(
                            route,
                            f"{content_type[:40]} {data[:60]!r}",
                            method,
                            url,
                            data=data,
                            content_type=content_type,
                            headers=token,
                        )
        for route, url in deletes:
            for target in [*route.hostile_urls, url]:
                world.check(route, "", "DELETE", target, headers=token)
    _swept_every_rule(world, writing)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]
