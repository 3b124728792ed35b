"""Real processes for tests: schedulers and gunicorn instances on loopback, always stopped."""

from __future__ import annotations

import http.cookiejar
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import html

from feedsvc.settings import PROJECT_ROOT
from tests.support.env import service_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    """A child process whose output goes to a file, stopped (and reaped) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()
        return self.popen.returncode

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def scheduler(database_url: str, log: Path, **env: str) -> Proc:
    return Proc(
        [sys.executable, "-m", "flask", "--app", "feedsvc", "run-scheduler"],
        service_env(database_url, **env),
        log,
    )


def gunicorn(database_url: str, port: int, log: Path, **env: str) -> Proc:
    return Proc(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        service_env(database_url, FEEDSVC_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", **env),
        log,
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20, every: float = 0.05) -> Any:
    """Poll check() until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Browser:
    """Just enough of a browser: cookies, forms found by label, Post/Redirect/Get."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def submit(self, path: str, by_label: dict[str, str]) -> int:
        status, body = self.get(path)
        assert status == 200, (path, status)
        doc = html.fromstring(body)
        form = next(
            f
            for f in doc.forms
            if (f.method or "").upper() == "POST" and not (f.action or "").endswith("/logout")
        )
        values = dict(form.form_values())
        for label, value in by_label.items():
            [node] = form.xpath(".//label[normalize-space()=$t]", t=label)
            [field] = form.xpath(".//*[@id=$i]", i=node.get("for"))
            values[field.get("name")] = value
        data = urllib.parse.urlencode(values).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
