"""`flask --app feedsvc render-nginx-conf`: deploy/nginx.conf with every token filled in."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from devtools import nginx as nginx_tools
from devtools.procs import free_port, service_env
from feedsvc import create_app, nginxconf
from feedsvc.settings import PROJECT_ROOT
from tests.support.nginx import require_nginx

EXPORT = "/srv/feedsvc/export"


@pytest.fixture
def cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    for name in ("FEEDSVC_BIND", "PORT"):
        monkeypatch.delenv(name, raising=False)
    return create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "SECRET_KEY": "a-test-secret-key-of-enough-length",
            "EXPORT_DIR": EXPORT,
        }
    )


def _render(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["render-nginx-conf", *args])


def test_every_token_in_the_template_has_an_option() -> None:
    assert nginxconf.template_tokens() == set(nginxconf.TOKEN_BY_NAME)


def test_the_templates_header_lists_every_option_and_its_production_value() -> None:
    header = nginxconf.TEMPLATE.read_text().split("\n\n", 1)[0]
    rows = dict(re.findall(r"^#\s+--([a-z-]+)\s+(\S+)", header, re.MULTILINE))
    assert set(rows) == {t.option for t in nginxconf.TOKENS}
    for token in nginxconf.TOKENS:
        if token.production:
            assert rows[token.option] == token.production, token.option
    # The polling limit's, for the shipped defaults.
    for token, value in nginx_tools.shipped_poll_values().items():
        assert rows[nginxconf.TOKEN_BY_NAME[token].option] == value, token


def test_production_values_by_default_and_the_export_folder_from_the_settings(
    cli_app: Flask,
) -> None:
    result = _render(cli_app)
    assert result.exit_code == 0, result.output
    text = result.output
    assert not nginxconf.TOKEN_RE.search(text)
    for line in (
        "user www-data;",
        "pid /run/nginx.pid;",
        "error_log /var/log/nginx/error.log warn;",
        "client_body_temp_path /var/lib/nginx/body;",
        "listen 80;",
        f"root {EXPORT};",
        "server 127.0.0.1:8000;",  # where gunicorn.conf.py binds without FEEDSVC_BIND or PORT
    ):
        assert re.search(rf"^\s*{re.escape(line)}$", text, re.MULTILINE), line
    # Only the tokens change: every other byte is the template's.
    values = nginxconf.production_values(export_dir=EXPORT, upstream="127.0.0.1:8000")
    # The polling limit from the settings (the shipped defaults here: 30 s, a burst of 5).
    values |= {
        "__POLL_LIMIT__": "on",
        "__POLL_RATE__": "2r/m",
        "__POLL_BURST__": "4",
        "__POLL_RETRY_AFTER__": "30",
    }
    template = nginxconf.TEMPLATE.read_text()
    for token, value in values.items():
        template = template.replace(token, value)
    assert text == template


def test_options_win_and_the_upstream_follows_gunicorns_bind(
    cli_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "8100")
    assert "server 127.0.0.1:8100;" in _render(cli_app).output
    monkeypatch.setenv("FEEDSVC_BIND", "127.0.0.3:8000")
    assert "server 127.0.0.3:8000;" in _render(cli_app).output
    text = _render(cli_app, "--listen", "127.0.0.1:8080", "--export-dir", "/data/feeds").output
    assert "listen 127.0.0.1:8080;" in text and "root /data/feeds;" in text


@pytest.mark.parametrize(
    ("interval", "burst", "expected"),
    [
        (30.0, 5, ("on", "2r/m", "4", "30")),
        (1.0, 1, ("on", "60r/m", "1", "1")),  # burst=0 is no nginx value: 1 is the least
        (0.5, 10, ("on", "120r/m", "9", "1")),
        (7.0, 5, ("on", "9r/m", "4", "7")),  # 8.57 a minute: nginx counts whole requests
        (3600.0, 5, ("on", "1r/m", "4", "60")),  # nginx's slowest rate: one a minute
        (0.0, 5, ("off", "1r/s", "1", "1")),
    ],
)
def test_poll_values_follow_the_apps_settings(
    interval: float, burst: int, expected: tuple[str, str, str, str]
) -> None:
    values = nginxconf.poll_values(interval, burst)
    tokens = ("__POLL_LIMIT__", "__POLL_RATE__", "__POLL_BURST__", "__POLL_RETRY_AFTER__")
    assert tuple(values[t] for t in tokens) == expected


def test_the_poll_options_default_to_the_settings_and_can_be_given(cli_app: Flask) -> None:
    cli_app.config.update(POLL_MIN_INTERVAL=10.0, POLL_BURST=3)
    text = _render(cli_app).output
    assert "limit_req_zone $feed_poll_key zone=feed_polls:10m rate=6r/m;" in text
    # Every feed location (4 site, 3 section, 3 archive page) and @feed_as_xml (RSS and
    # Atom as a browser gets them).
    assert text.count("limit_req zone=feed_polls burst=2 nodelay;") == 11
    assert "add_header Retry-After 10 always;" in text
    assert "map on:$http_if_none_match$http_if_modified_since $feed_poll_key {" in text
    cli_app.config.update(POLL_MIN_INTERVAL=0.0)
    assert "map off:$http_if_none_match" in _render(cli_app).output
    text = _render(cli_app, "--poll-rate", "1r/s", "--poll-retry-after", "1").output
    assert "rate=1r/s;" in text and "add_header Retry-After 1 always;" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "No export folder: pass --export-dir or set FEEDSVC_EXPORT_DIR"),
        (["--user", ""], "no value for __USER__ (--user)"),
        (["--listen", "80; include /etc/passwd"], "__LISTEN__ cannot be '80; include"),
        (["--export-dir", "/srv/my feeds"], "__EXPORT_DIR__ cannot be '/srv/my feeds'"),
        (["--export-dir", "export"], "--export-dir must be an absolute path, not 'export'"),
    ],
)
def test_a_missing_or_unusable_value_is_a_usage_error(
    cli_app: Flask, args: list[str], message: str
) -> None:
    if not args:
        cli_app.config["EXPORT_DIR"] = ""  # as when FEEDSVC_EXPORT_DIR is not set
    result = _render(cli_app, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert isinstance(result.exception, SystemExit)  # click's own exit: no traceback


@pytest.mark.slow
def test_without_an_export_folder_the_command_says_so_and_exits_2(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "feedsvc", "render-nginx-conf"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Error: No export folder: pass --export-dir or set FEEDSVC_EXPORT_DIR" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_the_rendered_file_passes_nginx_t(cli_app: Flask, tmp_path: Path) -> None:
    require_nginx()
    base = tmp_path / "nginx"
    values = nginx_tools.local_values(
        base, free_port(), __EXPORT_DIR__=str(tmp_path / "export"), __UPSTREAM__="127.0.0.1:9"
    )
    args = [f"--{nginxconf.TOKEN_BY_NAME[t].option}={v}" for t, v in values.items()]
    conf = base / "nginx.conf"
    result = _render(cli_app, *args, "--output", str(conf))
    assert result.exit_code == 0, result.output
    text = conf.read_text()
    assert not nginxconf.TOKEN_RE.search(text)
    checked = nginx_tools.check(conf)
    assert checked.returncode == 0, checked.stderr


def test_an_unwritable_output_is_a_sentence_not_a_traceback(cli_app: Flask, tmp_path: Path) -> None:
    result = _render(cli_app, "--output", str(tmp_path / "no-such-folder" / "nginx.conf"))
    assert result.exit_code == 1
    assert "Error: Cannot write" in result.output and "No such file or directory" in result.output
    assert isinstance(result.exception, SystemExit)
