"""`make run`'s runner: web and scheduler start together; a stop leaves nothing running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from feedsvc.settings import PROJECT_ROOT
from tests.procs import free_port, wait_for


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


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
    env = {
        **os.environ,
        "PORT": str(port),
        "FEEDSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "FEEDSVC_SECRET_KEY": "a-test-secret-key-of-enough-length",
        "FEEDSVC_ADMIN_PASSWORD": "first-admin-password",
        "FEEDSVC_TICK_SECONDS": "0.5",
        "FEEDSVC_LEASE_SECONDS": "3",
    }
    env.pop("FEEDSVC_SITE_URL", None)
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
        children = _children(proc.pid)
        assert len(children) == 2  # gunicorn's master and the scheduler
        stop(proc.pid)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        _listening(port) or any(Path(f"/proc/{c}").exists() for c in children)
    ):
        time.sleep(0.1)
    assert not _listening(port)
    assert not any(Path(f"/proc/{c}").exists() for c in children)
    output = (tmp_path / "serve.log").read_text()
    assert f"http://127.0.0.1:{port}/" in output  # SITE_URL follows PORT
    assert "Traceback" not in output
