"""The web process: granian serving wsgi:app with feedsvc's settings (`python webserver.py`).

Every setting comes from the environment, as in gunicorn.conf.py (the documented
alternative): FEEDSVC_BIND, WEB_CONCURRENCY, FEEDSVC_THREADS, FEEDSVC_LOG_FORMAT. The access
log (FEEDSVC_ACCESS_LOG, off by default) is the app's own: web/requestlog.py.
`python webserver.py MODULE:ATTR` serves another WSGI app the same way.

Workers start with multiprocessing's "spawn", not "fork": each is a fresh interpreter that
imports the code on disk, so SIGHUP after an upgrade (granian replaces the workers one at a
time, each old one after its successor is up) really serves the new code.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DEFAULT_TARGET = "wsgi:application"
# Readers that never finish sending a request's headers (slowloris) are cut off after this;
# it also closes keep-alive connections left idle that long (hyper's header_read_timeout).
HEADER_READ_TIMEOUT_MS = 10_000
# A request whose headers outgrow this gets 431 (RFC 6585 §5), as with nginx's and
# gunicorn's limits; granian's own default is 408 KiB.
MAX_BUFFER_BYTES = 64 * 1024
# What a worker asked to stop gets to finish its requests in (gunicorn.conf.py's
# graceful_timeout), then it is killed.
KILL_TIMEOUT_SECONDS = 10
# How often the main process drops dead workers' live gauges from /metrics' files.
REAP_SECONDS = 5.0
_LIVE_GAUGE = re.compile(r"gauge_live\w*_(\d+)\.db")


def bind(environ: dict[str, str]) -> dict[str, Any]:
    """FEEDSVC_BIND ("host:port", "[::1]:port" or "unix:/path"), else 127.0.0.1:$PORT."""
    value = environ.get("FEEDSVC_BIND") or f"127.0.0.1:{environ.get('PORT') or '8000'}"
    if value.startswith("unix:"):
        return {"uds": Path(value.removeprefix("unix:"))}
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SystemExit(f"FEEDSVC_BIND: expected host:port or unix:/path, got {value!r}")
    return {"address": host.removeprefix("[").removesuffix("]"), "port": int(port)}


def log_config(environ: dict[str, str]) -> dict[str, Any] | None:
    """FEEDSVC_LOG_FORMAT=json (production's default): granian's lines as JSON objects too."""
    default = "json" if environ.get("FEEDSVC_ENV") == "production" else "text"
    if environ.get("FEEDSVC_LOG_FORMAT", default) != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "feedsvc.logs.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "_granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }


def default_threads(database_url: str) -> int:
    """FEEDSVC_THREADS unless set: threads that run the app, per worker.

    A thread is needed only while the app runs: granian holds the connections, so a slow
    reader ties up none. Further threads are for requests that wait on the database: on
    PostgreSQL, across a network that can stall, 4, so that while one waits (up to
    DB_CONNECT_TIMEOUT) the others keep answering polls from memory. On SQLite, a local
    file, 1: threads of one worker only contend for the interpreter's lock, which cost the
    304 path 15% of its rate (README, Performance).
    """
    return 4 if database_url.startswith("postgresql") else 1


def database_url() -> str:
    """The database the app will use, read the way it reads it (config/, instance/, env)."""
    from feedsvc import settings

    return str(settings.load(ROOT / "instance")["DATABASE_URL"])


def options(
    environ: dict[str, str], target: str = DEFAULT_TARGET, database: str = ""
) -> dict[str, Any]:
    """The keyword arguments of granian's Server for this environment."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    return {
        "target": target,
        **bind(environ),
        "interface": Interfaces.WSGI,
        "websockets": False,  # WSGI has none: saves granian's start-up line saying so
        "workers": int(environ.get("WEB_CONCURRENCY") or "2"),
        "blocking_threads": int(environ.get("FEEDSVC_THREADS") or default_threads(database)),
        "backlog": 2048,
        "http1_settings": HTTP1Settings(
            header_read_timeout=HEADER_READ_TIMEOUT_MS, max_buffer_size=MAX_BUFFER_BYTES
        ),
        "log_dictconfig": log_config(environ),
        # The app writes the access log itself (web/requestlog.py), in batches: granian's
        # costs a logging call per request, as much as the 304 it logs.
        "log_access": False,
        "respawn_failed_workers": True,
        "workers_kill_timeout": KILL_TIMEOUT_SECONDS,
        "working_dir": ROOT,
    }


def metrics_dir() -> tuple[Path, bool]:
    """/metrics adds up every worker's counters from files here; a fresh folder per start, so
    a restart never counts a dead server's requests. (folder, whether it is ours to remove)"""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return Path(given), False
    made = Path(tempfile.mkdtemp(prefix="feedsvc-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made, True


def reap_dead_workers(folder: Path) -> None:
    """Drop the live gauges (multiprocess_mode="livesum") of workers that are gone: crashed,
    or replaced on SIGHUP. Counters stay: a dead worker's requests were still served."""
    from prometheus_client import multiprocess

    for path in folder.glob("gauge_live*.db"):
        match = _LIVE_GAUGE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


def main(argv: list[str]) -> None:
    from granian.server import Server

    target = argv[1] if len(argv) > 1 else DEFAULT_TARGET
    multiprocessing.set_start_method("spawn", force=True)
    folder, own = metrics_dir()
    server = Server(**options(dict(os.environ), target, database_url()))
    stop = threading.Event()

    def reaper() -> None:
        while not stop.wait(REAP_SECONDS):
            reap_dead_workers(folder)

    def started() -> None:
        threading.Thread(target=reaper, name="metrics-reaper", daemon=True).start()

    def finished() -> None:
        stop.set()
        if own:
            shutil.rmtree(folder, ignore_errors=True)

    server.on_startup(started)
    server.on_shutdown(finished)
    server.serve()


if __name__ == "__main__":
    main(sys.argv)
