"""`make run`: the web server (webserver.py) and the scheduler as two children, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
from flask import Flask

from feedsvc.settings import PROJECT_ROOT

GRACE_SECONDS = 5.0


def serve(app: Flask) -> int:
    """Start both, wait; when either ends or Ctrl-C arrives, stop the other and return."""
    env = dict(os.environ)
    env.setdefault("FEEDSVC_SITE_URL", app.config["SITE_URL"])
    python = sys.executable
    children = [
        subprocess.Popen(
            [python, str(PROJECT_ROOT / "webserver.py")],
            cwd=PROJECT_ROOT,
            env=env,
        ),
        subprocess.Popen([python, "-m", "flask", "--app", "feedsvc", "run-scheduler"], env=env),
    ]
    click.echo(f"feedsvc on {app.config['SITE_URL']}/  (admin: {app.config['SITE_URL']}/admin/)")
    stopping = False
    interrupted = False
    first_down: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping, interrupted
        stopping = True
        interrupted = interrupted or signum == signal.SIGINT

    # Ctrl-C reaches the whole foreground process group: the children stop on their own;
    # the runner only has to wait for them (and to stop them on SIGTERM from a supervisor).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping and first_down is None:
            first_down = next((c for c in children if c.poll() is not None), None)
            time.sleep(0.2)
    finally:
        if interrupted:
            # Ctrl-C already reached the children: give them time to stop by themselves
            # rather than signalling them again mid-shutdown.
            grace = time.monotonic() + GRACE_SECONDS
            while time.monotonic() < grace and any(c.poll() is None for c in children):
                time.sleep(0.05)
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if stopping:
        return 0
    for name, child in zip(("the web server", "the scheduler"), children, strict=True):
        if child is first_down:
            click.echo(
                f"feedsvc: {name} stopped unexpectedly (exit code {child.returncode}); "
                "stopped the rest. Its log is above.",
                err=True,
            )
    return 1
