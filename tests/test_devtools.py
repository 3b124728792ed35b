"""The test and benchmark harness itself: clean child environments, an honest form submit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from devtools.browser import Browser, FormRejected
from devtools.procs import feedsvc_app, service_env
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article
from tests.support.app import EDITOR
from tests.support.factories import make_section


def test_service_env_passes_no_inherited_feedsvc_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "FEEDSVC_EXPORT_DIR": "/srv/elsewhere",
        "FEEDSVC_ENV": "production",
        "FEEDSVC_SITE_URL": "https://inherited.example.org",
        "PORT": "9999",
        "WEB_CONCURRENCY": "9",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/inherited",
        "FLASK_APP": "something.else",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = service_env("sqlite:///x.sqlite3", FEEDSVC_TICK_SECONDS="0.3")
    # Every setting is pinned at its shipped default; none carries the caller's value.
    assert env["FEEDSVC_EXPORT_DIR"] == ""
    assert env["FEEDSVC_TICK_SECONDS"] == "0.3"
    assert "FEEDSVC_ENV" not in env
    assert env["FEEDSVC_DATABASE_URL"] == "sqlite:///x.sqlite3"
    assert env["FEEDSVC_SITE_URL"] == "http://feeds.example.org"
    for name in ("PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "FLASK_APP"):
        assert name not in env
    assert env["LANG"] == "C.UTF-8"  # everything else is the caller's
    with_port = service_env("sqlite:///x.sqlite3", port=8123, site_url=None)
    assert with_port["PORT"] == "8123" and with_port["FEEDSVC_BIND"] == "127.0.0.1:8123"
    assert with_port["FEEDSVC_SITE_URL"] == ""  # the default: it follows PORT


def test_each_child_gets_its_own_instance_folder(tmp_path: Path) -> None:
    from flask.cli import ScriptInfo

    spec = feedsvc_app(tmp_path / "web.log.instance")
    assert (tmp_path / "web.log.instance").is_dir()
    # The very string `flask --app` (and gunicorn) loads.
    app = ScriptInfo(app_import_path=spec).load_app()
    assert app.extensions["feedsvc.settings"]["INSTANCE_PATH"] == str(tmp_path / "web.log.instance")


@pytest.fixture
def browser(app: Flask) -> Iterator[Browser]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        b = Browser(f"http://127.0.0.1:{server.server_port}")
        b.submit("/admin/login", {"Username": EDITOR[0], "Password": EDITOR[1]})
        yield b
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _articles(app: Flask) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Article)) or 0)


def test_submit_follows_the_redirect_of_an_accepted_form(app: Flask, browser: Browser) -> None:
    make_section(app)
    page = browser.submit(
        "/admin/articles/new", {"Title": "Saved", "Body": "A body."}, lands_on="/admin/"
    )
    assert (page.status, page.path) == (200, "/admin/")
    assert b"Article saved: Saved" in page.body
    assert _articles(app) == 1


def test_a_form_shown_again_with_errors_fails_the_caller(app: Flask, browser: Browser) -> None:
    make_section(app)
    with pytest.raises(FormRejected, match="Nothing was saved"):
        browser.submit("/admin/articles/new", {"Title": "No body", "Body": ""})
    assert _articles(app) == 0


def test_a_wrong_landing_page_or_a_failed_login_fails_the_caller(
    app: Flask, browser: Browser
) -> None:
    # Redirected, but not where the caller expected: lands_on makes that a failure too.
    with pytest.raises(FormRejected, match="not accepted"):
        browser.submit(
            "/admin/sections/new", {"Name": "World News"}, lands_on="/admin/articles/new"
        )
    stranger = Browser(browser.base)
    with pytest.raises(FormRejected, match="That username and password do not match"):
        stranger.submit("/admin/login", {"Username": EDITOR[0], "Password": "wrong password"})
