"""`make run`'s runner: web and scheduler start together; a stop leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.procs import alive, children, free_port, listening, service_env, wait_for
from feedsvc.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), id="ctrl-c-to-the-group"),
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), id="sigterm-to-the-runner"),
    ],
)
def test_serve_runs_both_and_a_stop_leaves_nothing_running(
    tmp_path: Path, stop: Callable[[int], None]
) -> None:
    port = free_port()
    # No FEEDSVC_SITE_URL and no FEEDSVC_BIND: both follow PORT, as under `make run`.
    env = service_env(
        f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        site_url=None,
        PORT=str(port),
        FEEDSVC_ADMIN_PASSWORD="first-admin-password",
        FEEDSVC_TICK_SECONDS="0.5",
        FEEDSVC_LEASE_SECONDS="3",
    )
    log = (tmp_path / "serve.log").open("wb")
    # A process group of its own, as a terminal gives `make run`: Ctrl-C reaches all of it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "feedsvc", "serve"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                return r.status == 200 and b'"status":"ok"' in r.read()

        wait_for("web and scheduler up", healthy, timeout=40)
        started = children(proc.pid)
        assert len(started) == 2  # the web server's main process and the scheduler
        # The web server's workers (and multiprocessing's resource tracker) must go too.
        started += [grandchild for child in started for grandchild in children(child)]
        stop(proc.pid)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    wait_for(
        "the port closed and every child gone",
        lambda: not listening(port) and not any(alive(c) for c in started),
        timeout=10,
    )
    output = (tmp_path / "serve.log").read_text()
    assert f"http://127.0.0.1:{port}/" in output  # SITE_URL follows PORT
    assert "Traceback" not in output
