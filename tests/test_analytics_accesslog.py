"""nginx's access log into subscriber analytics: parsed, counted once, rotation noticed."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from devtools import nginx as nginx_tools
from feedsvc import analytics, analyticscli
from feedsvc.publishing.export import sync_all
from feedsvc.publishing.passes import run_pass
from feedsvc.settings import SettingsError, load
from feedsvc.storage.db import database, transaction
from feedsvc.web import readercount
from tests.support.app import make_app
from tests.support.exportnginx import nginx_over_export
from tests.support.factories import make_section

# Lines as nginx writes them: "combined", and deploy/nginx.conf's format (combined plus the
# upstream address: "-" when nginx served the file itself): ten lines, five of them polls of a
# subscribed feed that nginx answered with 200 or 304.
LOG = (Path(__file__).parent / "support" / "nginx-access.log").read_text()
ATOM = "sections/world-news/atom.xml"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_text(LOG)
    return path


def by_day(app: Flask) -> dict[tuple[date, str, str], int]:
    with transaction(app, write=False) as s:
        found = analytics.totals(s, date(2026, 11, 1), date(2026, 12, 31))
    return {(t.day, t.feed_path, t.reader): t.subscribers for t in found}


EXPECTED = {
    (date(2026, 12, 3), ATOM, "Feedly"): 16,
    (date(2026, 12, 4), ATOM, "Feedly"): 18,
    # 01:00 at +0100 is midnight UTC, the site's zone: the 4th. Two clients of NetNewsWire.
    (date(2026, 12, 4), ATOM, "NetNewsWire"): 2,
}


def test_ingest_counts_nginxs_polls_once_and_not_the_apps(
    app: Flask, runner: FlaskCliRunner, log: Path
) -> None:
    result = runner.invoke(args=["ingest-access-log", str(log)])
    assert result.exit_code == 0, result.output
    assert "10 new line(s); 5 feed poll(s) served by nginx counted." in result.output
    assert by_day(app) == EXPECTED
    # Again: nothing new, nothing counted twice.
    again = runner.invoke(args=["ingest-access-log", str(log)])
    assert "0 new line(s)" in again.output
    assert by_day(app) == EXPECTED
    # nginx appends: only the new lines are read, a half-written last one waits.
    with log.open("a") as f:
        f.write(
            '192.0.2.99 - - [04/Dec/2026:10:00:00 +0000] "GET /sections/world-news/atom.xml '
            'HTTP/1.1" 304 0 "-" "NetNewsWire (RSS Reader; https://netnewswire.com/)" "-"\n'
            '192.0.2.98 - - [04/Dec/2026:10:00:01 +0000] "GET /sections/world-news/at'
        )
    more = runner.invoke(args=["ingest-access-log", str(log)])
    assert "1 new line(s)" in more.output
    assert by_day(app)[date(2026, 12, 4), ATOM, "NetNewsWire"] == 3


def test_a_rotated_log_is_read_from_its_start(
    app: Flask, runner: FlaskCliRunner, log: Path
) -> None:
    assert runner.invoke(args=["ingest-access-log", str(log)]).exit_code == 0
    os.rename(log, log.with_suffix(".log.1"))  # logrotate: a new file (inode) under the name
    log.write_text(
        '192.0.2.50 - - [04/Dec/2026:11:00:00 +0000] "GET /sections/world-news/atom.xml '
        'HTTP/1.1" 200 10 "-" "Miniflux/2.0 (compatible; Miniflux/2.0.51; +https://miniflux.app)"'
        ' "-"\n'
    )
    result = runner.invoke(args=["ingest-access-log", str(log)])
    assert "1 new line(s) (rotated or truncated: read from its start)" in result.output
    assert by_day(app)[date(2026, 12, 4), ATOM, "Miniflux"] == 1
    assert by_day(app)[date(2026, 12, 4), ATOM, "Feedly"] == 18


def test_a_missing_log_is_a_clear_error(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["ingest-access-log", str(tmp_path / "nope.log")])
    assert result.exit_code == 1
    assert "cannot read" in result.output and "No such file" in result.output


@pytest.mark.slow
def test_real_nginx_log_counts_what_nginx_served(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"))
    try:
        make_section(app, "World News")
        run_pass(app)
        sync_all(app)
        with nginx_over_export(app, tmp_path / "nginx", **nginx_tools.POLL_OFF) as nginx:
            for n in (3, 5):
                ua = f"Mozilla/5.0 (compatible; inoreader.com; {n} subscribers)"
                response, _ = nginx.request("GET", "/" + ATOM, {"User-Agent": ua})
                assert response.status == 200
            response, _ = nginx.request("GET", "/" + ATOM, {"User-Agent": "curl/8.5.0"})
            # An Accept only the app can weigh: nginx hands it over, and the app counts it.
            seen = len(nginx.seen)
            response, _ = nginx.request(
                "GET", "/" + ATOM, {"User-Agent": "Newsboat/2.34.0", "Accept": "text/*"}
            )
            assert response.status == 200 and len(nginx.seen) == seen + 1
        result = app.test_cli_runner().invoke(
            args=["ingest-access-log", str(tmp_path / "nginx" / "logs" / "access.log")]
        )
        assert "3 feed poll(s) served by nginx counted" in result.output, result.output
        counter = readercount.of(app)
        assert counter is not None
        counter.flush()
        totals = {(t.feed_path, t.reader): t.subscribers for t in _today(app)}
        assert totals == {(ATOM, "Inoreader"): 5, (ATOM, "curl"): 1, (ATOM, "Newsboat"): 1}
    finally:
        database(app).dispose()


def _today(app: Flask) -> list[analytics.Total]:
    day = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    with transaction(app, write=False) as s:
        return analytics.totals(s, day, day)


def test_the_scheduler_job_reads_access_log_path(app: Flask, log: Path) -> None:
    app.config["ACCESS_LOG_PATH"] = str(log)
    analyticscli.run_job(app)
    assert by_day(app) == EXPECTED
    app.config["ACCESS_LOG_PATH"] = str(log.with_name("gone.log"))
    analyticscli.run_job(app)  # a log not there (yet): a warning, no exception


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ANALYTICS_FLUSH_SECONDS", 0.0, "ANALYTICS_FLUSH_SECONDS must be 0.1 to 3600"),
        ("ANALYTICS_FLUSH_SECONDS", 7200.0, "ANALYTICS_FLUSH_SECONDS must be 0.1 to 3600"),
        ("ACCESS_LOG_PATH", "logs/access.log", "ACCESS_LOG_PATH must be an absolute path"),
    ],
)
def test_bad_analytics_settings_are_refused(
    tmp_path: Path, name: str, value: object, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load(tmp_path / "instance", {"SECRET_KEY": "x" * 20, name: value})
